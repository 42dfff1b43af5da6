#include "pkg/workers/events_model.h"

#include <fstream>

#include "pkg/json/limited.h"
#include "pkg/runtime/wiring.h"

namespace pipewright::workers::events {

using nlohmann::json;

json parse_create_body(const std::string& body) {
  json in;
  try {
    in = pipewright::json::parse(body);
  } catch (const pipewright::json::ParseError& e) {
    throw FieldError("body", std::string("malformed JSON: ") + e.what());
  }
  if (!in.is_object()) throw FieldError("body", "the body must be a JSON object");
  json data = {{"name", "event"}, {"payload", json::object()}};
  for (const auto& [key, value] : in.items()) {
    if (key == "name") {
      if (!value.is_string()) throw FieldError("name", "name must be a string");
      const auto& name = value.get_ref<const std::string&>();
      if (name.empty() || name.size() > 100)
        throw FieldError("name", "name must have 1 to 100 characters");
      data["name"] = name;
    } else if (key == "payload") {
      if (!value.is_object()) throw FieldError("payload", "payload must be a JSON object");
      data["payload"] = value;
    } else {
      throw FieldError(key, "unknown field '" + key + "' (known: name, payload)");
    }
  }
  return data;
}

json frame_data(const std::string& frame) {
  json payload;
  try {
    payload = pipewright::json::parse(frame);
  } catch (const pipewright::json::ParseError&) {
    payload = frame;  // not JSON, or nested too deep to take as JSON: the text
  }
  return {{"name", "message"}, {"payload", std::move(payload)}};
}

std::chrono::milliseconds parse_wait(const std::string& text, std::chrono::milliseconds max_wait) {
  std::chrono::milliseconds wait{};
  try {
    wait = runtime::parse_duration(text);
  } catch (const runtime::ConfigError&) {
    throw FieldError("wait", "wait must be a duration such as 5s or 500ms, not '" + text + "'");
  }
  if (wait.count() <= 0) throw FieldError("wait", "wait must be above zero");
  if (wait > max_wait) {
    throw FieldError("wait", "wait is over maxWait (" + std::to_string(max_wait.count()) + "ms)");
  }
  return wait;
}

std::vector<std::string> load_dictionary(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read the dictionary " + path.string());
  std::vector<std::string> words;
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
      line.pop_back();
    const auto start = line.find_first_not_of(" \t");
    if (start == std::string::npos) continue;
    words.push_back(line.substr(start));
  }
  if (words.empty()) throw std::runtime_error("the dictionary " + path.string() + " has no word");
  return words;
}

const std::string& word_for(const std::vector<std::string>& words, const std::string& id) {
  std::uint64_t h = 14695981039346656037ULL;
  for (const unsigned char c : id) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return words.at(h % words.size());
}

}  // namespace pipewright::workers::events
