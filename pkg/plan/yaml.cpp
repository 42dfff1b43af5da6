#include "pkg/plan/yaml.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <set>

namespace pipewright::plan {
namespace {

using nlohmann::json;

// Strings a YAML 1.1 or 1.2 parser would read as a number, boolean or null unless quoted.
bool needs_quotes(const std::string& s) {
  if (s.empty()) return true;
  std::string lower;
  for (const char c : s)
    lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static const std::set<std::string> kWords = {"y",     "n",    "yes", "no", "on", "off", "true",
                                               "false", "null", "~",   "=",  "<<", "-"};
  if (kWords.contains(lower)) return true;
  const auto digit = [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; };
  if (digit(s[0])) return true;
  const bool sign_or_dot = s[0] == '+' || s[0] == '-' || s[0] == '.';
  return sign_or_dot && s.size() > 1 && (digit(s[1]) || s[1] == '.' || s[0] == '.');
}

// A block literal reads back exactly when the text ends in one newline and its first line does
// not start with blanks; anything else is quoted.
bool literal_fits(const std::string& s) {
  if (s.size() < 2 || s.back() != '\n' || s[s.size() - 2] == '\n') return false;
  if (s.find('\n') == s.size() - 1) return false;  // one line: quoting reads better
  if (s[0] == ' ' || s[0] == '\t') return false;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 && c != '\n' && c != '\t') return false;
    if (u == 0x7f) return false;
  }
  return true;
}

void emit_string(YAML::Emitter& out, const std::string& s, bool allow_literal) {
  if (allow_literal && literal_fits(s)) {
    out << YAML::Literal << s;
  } else if (needs_quotes(s)) {
    out << YAML::DoubleQuoted << s;
  } else {
    out << s;
  }
}

void emit(YAML::Emitter& out, const json& j);

// The keys people look for first (as kubectl prints them), then the rest in sorted order.
void emit_map(YAML::Emitter& out, const json& j) {
  static const std::array<std::string, 5> kFirst = {"apiVersion", "kind", "metadata", "name",
                                                    "namespace"};
  const auto pair = [&](const std::string& key, const json& value) {
    out << YAML::Key;
    emit_string(out, key, false);
    out << YAML::Value;
    emit(out, value);
  };
  out << YAML::BeginMap;
  for (const auto& key : kFirst) {
    if (const auto it = j.find(key); it != j.end()) pair(key, *it);
  }
  for (const auto& [key, value] : j.items()) {
    if (std::find(kFirst.begin(), kFirst.end(), key) == kFirst.end()) pair(key, value);
  }
  out << YAML::EndMap;
}

void emit(YAML::Emitter& out, const json& j) {
  if (j.is_object()) {
    emit_map(out, j);
  } else if (j.is_array()) {
    out << YAML::BeginSeq;
    for (const auto& item : j)
      emit(out, item);
    out << YAML::EndSeq;
  } else if (j.is_string()) {
    emit_string(out, j.get<std::string>(), true);
  } else if (j.is_null()) {
    out << YAML::Null;
  } else {
    out << j.dump();  // numbers and booleans as JSON writes them are plain YAML scalars too
  }
}

}  // namespace

std::string to_yaml(const std::vector<json>& objects) {
  std::string out;
  for (const auto& o : objects) {
    if (!out.empty()) out += "---\n";
    YAML::Emitter e;
    e.SetIndent(2);
    emit(e, o);
    std::string doc = e.c_str();
    if (doc.empty() || doc.back() != '\n') doc += '\n';  // a block literal already ends one
    out += doc;
  }
  return out;
}

}  // namespace pipewright::plan
