#include "pkg/contract/env.h"

#include <algorithm>
#include <sstream>

#include "pkg/contract/duration.h"

namespace pipewright::contract {
namespace {

void put(EnvVars& vars, std::string_view name, std::string value) {
  const auto it =
      std::find_if(vars.begin(), vars.end(), [&](const auto& v) { return v.first == name; });
  if (it != vars.end()) {
    it->second = std::move(value);
  } else {
    vars.emplace_back(std::string(name), std::move(value));
  }
}

// The raw text, or nullopt when unset or empty.
std::optional<std::string> raw(const Getenv& getenv, std::string_view name) {
  auto v = getenv(std::string(name));
  if (!v || v->empty()) return std::nullopt;
  return v;
}

// Quoted whole only when short: the value may come from anywhere.
std::string shown(const std::string& text) {
  return text.size() <= 32 ? text : text.substr(0, 32) + "...";
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items)
    out += (out.empty() ? "" : ",") + item;
  return out;
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string part;
  while (std::getline(in, part, ',')) {
    if (!part.empty()) out.push_back(part);
  }
  return out;
}

}  // namespace

// --- Text: as it is.
void set(EnvVars& vars, const env::Text& key, const std::string& value) {
  put(vars, key.name, value);
}
std::string get(const Getenv& getenv, const env::Text& key) {
  return raw(getenv, key.name).value_or(std::string(key.fallback));
}

// --- Integer: decimal digits, within the key's bounds.
void set(EnvVars& vars, const env::Integer& key, int value) {
  put(vars, key.name, std::to_string(value));
}
int get(const Getenv& getenv, const env::Integer& key) {
  const auto v = raw(getenv, key.name);
  if (!v) return key.fallback;
  try {
    std::size_t used = 0;
    const int n = std::stoi(*v, &used);
    if (used != v->size() || n < key.min || n > key.max) throw std::out_of_range("bounds");
    return n;
  } catch (const std::logic_error&) {
    throw EnvError(std::string(key.name) + "=" + shown(*v) + ": must be a whole number from " +
                   std::to_string(key.min) + " to " + std::to_string(key.max));
  }
}

// --- Flag: "true" or "false".
void set(EnvVars& vars, const env::Flag& key, bool value) {
  put(vars, key.name, value ? "true" : "false");
}
bool get(const Getenv& getenv, const env::Flag& key) {
  const auto v = raw(getenv, key.name);
  if (!v) return key.fallback;
  if (*v != "true" && *v != "false")
    throw EnvError(std::string(key.name) + " must be true or false");
  return *v == "true";
}

// --- Duration: the manifest's text, read by the one duration rule.
void set(EnvVars& vars, const env::Duration& key, const std::string& text) {
  put(vars, key.name, text);
}
std::chrono::milliseconds get(const Getenv& getenv, const env::Duration& key) {
  const auto text = raw(getenv, key.name).value_or(std::string(key.fallback));
  const auto d = parse_duration(text);
  if (!d) {
    throw EnvError(std::string(key.name) + ": '" + shown(text) + "' is not " +
                   std::string(kDurationRule));
  }
  return *d;
}

// --- List: comma-separated, empty items dropped.
void set(EnvVars& vars, const env::List& key, const std::vector<std::string>& values) {
  put(vars, key.name, join(values));
}
std::vector<std::string> get(const Getenv& getenv, const env::List& key) {
  return split(raw(getenv, key.name).value_or(""));
}

// --- Pairs: "logical=topic", comma-separated.
void set(EnvVars& vars, const env::Pairs& key, const Outputs& pairs) {
  std::vector<std::string> items;
  for (const auto& [logical, topic] : pairs)
    items.push_back(logical + "=" + topic);
  put(vars, key.name, join(items));
}
Outputs get(const Getenv& getenv, const env::Pairs& key) {
  Outputs out;
  for (const auto& pair : split(raw(getenv, key.name).value_or(""))) {
    const auto eq = pair.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == pair.size()) {
      throw EnvError(std::string(key.name) + ": '" + shown(pair) + "' is not logical=topic");
    }
    out.emplace_back(pair.substr(0, eq), pair.substr(eq + 1));
  }
  return out;
}

std::string value_of(const EnvVars& vars, std::string_view name) {
  const auto it =
      std::find_if(vars.begin(), vars.end(), [&](const auto& v) { return v.first == name; });
  return it == vars.end() ? std::string() : it->second;
}

Getenv lookup(const EnvVars& vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    const auto it =
        std::find_if(vars.begin(), vars.end(), [&](const auto& v) { return v.first == name; });
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

}  // namespace pipewright::contract
