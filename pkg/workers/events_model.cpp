#include "pkg/workers/events_model.h"

#include <algorithm>
#include <fstream>

#include "pkg/json/limited.h"
#include "pkg/runtime/wiring.h"

namespace pipewright::workers::events {

using nlohmann::json;

std::string gateway_topic(const runtime::Wiring& wiring, const std::string& topic) {
  const auto& inputs = wiring.inputs;
  if (topic.empty()) {
    if (inputs.size() == 1) return inputs.front();
    throw runtime::ConfigError("config.topic: name the topic to fan out (the step has " +
                               std::to_string(inputs.size()) + " inputs)");
  }
  const auto is_input = [&](const std::string& kafka) {
    return std::find(inputs.begin(), inputs.end(), kafka) != inputs.end();
  };
  if (is_input(topic)) return topic;
  if (const auto it = wiring.input_topics.find(topic);
      it != wiring.input_topics.end() && is_input(it->second)) {
    return it->second;
  }
  std::string known;
  for (const auto& i : inputs) {
    const auto named = std::find_if(wiring.input_topics.begin(), wiring.input_topics.end(),
                                    [&](const auto& n) { return n.second == i; });
    known += (known.empty() ? "" : ", ") +
             (named == wiring.input_topics.end() ? i : named->first + " (" + i + ")");
  }
  throw runtime::ConfigError("config.topic: '" + topic + "' is not an input of the step (inputs: " +
                             (known.empty() ? "none" : known) + ")");
}

std::string client_frame(event::Envelope e) {
  auto data = std::move(e.data);
  e.data = nullptr;  // to_structured copies a null instead of the whole document
  auto j = event::to_structured(e);
  j["data"] = std::move(data);
  return j.dump();
}

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
