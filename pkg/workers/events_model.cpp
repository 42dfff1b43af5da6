#include "pkg/workers/events_model.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <vector>

#include "pkg/event/canonical.h"
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

namespace {

bool has_header(const event::Headers& headers, std::string_view lower_name) {
  return std::any_of(headers.begin(), headers.end(), [&](const auto& h) {
    const auto& name = h.first;
    return name.size() == lower_name.size() &&
           std::equal(name.begin(), name.end(), lower_name.begin(), [](char a, char b) {
             return std::tolower(static_cast<unsigned char>(a)) == b;
           });
  });
}

// What from_kafka() decodes from a structured event without a ce_specversion or content-type
// header: it parses the value and, the value being an object with "specversion", reads it with
// from_structured(). The same, from the scanned members instead of a parse (a string without
// escapes is its bytes); nullopt when the value is not such an event (no "specversion": a
// legacy envelope, which the caller decodes the long way).
std::optional<event::Envelope> structured_without_data(
    const std::vector<event::canonical::Member>& members) {
  json j = json::object();
  for (const auto& [key, text] : members) {
    auto& slot = j[std::string(key)];
    if (key == "data") {
      slot = json::object();
    } else if (text.size() >= 2 && text.front() == '"' && text.find('\\') == std::string::npos) {
      slot = std::string(text.substr(1, text.size() - 2));
    } else {
      slot = json::parse(text);  // canonical, so valid and shallow
    }
  }
  if (!j.contains("specversion")) return std::nullopt;
  return event::from_structured(j);
}

// The frame of a checked structured event (see structured_without_data) when it is the value
// itself plus "datacontenttype": every member but data is a string (from_structured keeps
// those as they are; an integer or boolean attribute would become a string), "time" is not
// empty (to_structured leaves an empty one out), and "datacontenttype" is absent or already
// "application/json" (what to_structured writes). Then to_structured's members are the
// value's, each written as its canonical text, in the same (sorted) order.
std::optional<std::string> frame_is_the_value(
    std::string_view value, const std::vector<event::canonical::Member>& members) {
  constexpr std::string_view kType = "datacontenttype";
  constexpr std::string_view kJsonType = R"("application/json")";
  std::size_t insert_at = 0;  // where "datacontenttype" goes: before the first key after it
  bool has_type = false;
  bool found_next = false;
  for (const auto& [key, text] : members) {
    if (key == "data") continue;
    if (text.front() != '"' || (key == "time" && text.size() == 2)) return std::nullopt;
    if (key == kType) {
      if (text != kJsonType) return std::nullopt;
      has_type = true;
    } else if (!found_next && key > kType) {
      found_next = true;
      insert_at = static_cast<std::size_t>(key.data() - value.data()) - 1;  // its opening quote
    }
  }
  if (has_type) return std::string(value);
  if (!found_next) return std::nullopt;  // never for an event: "id" sorts after it
  const std::string member =
      std::string("\"") + std::string(kType) + "\":" + std::string(kJsonType) + ",";
  std::string out;
  out.reserve(value.size() + member.size());
  out.append(value.substr(0, insert_at)).append(member).append(value.substr(insert_at));
  return out;
}

}  // namespace

std::optional<std::string> client_frame_of(std::string_view value, const event::Headers& headers) {
  // The event is decoded from a stand-in with an empty `data`: from_kafka's checks of the
  // attributes and of the content type do not depend on what the data holds, only on it being
  // JSON, which the scan has shown. Then the data's own bytes take the stand-in's place.
  const bool binary = has_header(headers, "ce_specversion");
  std::size_t begin = 0;
  std::size_t end = value.size();
  thread_local std::vector<event::canonical::Member> members;
  event::Decoded decoded;
  try {
    if (binary) {
      if (value.empty() || !event::canonical::whole(value)) return std::nullopt;
      decoded = event::from_kafka("{}", headers);
    } else {
      if (!event::canonical::object(value, &members)) return std::nullopt;
      const auto data = std::find_if(members.begin(), members.end(),
                                     [](const auto& m) { return m.key == "data"; });
      if (data == members.end()) return std::nullopt;
      begin = static_cast<std::size_t>(data->value.data() - value.data());
      end = begin + data->value.size();
      std::optional<event::Envelope> e;
      if (!has_header(headers, "content-type")) e = structured_without_data(members);
      if (e) {
        if (auto frame = frame_is_the_value(value, members)) return frame;
        decoded = {std::move(*e), event::Mode::structured};
      } else {
        std::string stand_in;
        stand_in.reserve(value.size() - (end - begin) + 2);
        stand_in.append(value.substr(0, begin)).append("{}").append(value.substr(end));
        decoded = event::from_kafka(stand_in, headers);
      }
    }
  } catch (const event::EnvelopeError&) {
    return std::nullopt;  // the slow path says why
  } catch (const json::exception&) {
    return std::nullopt;
  }
  const auto expected = binary ? event::Mode::binary : event::Mode::structured;
  if (decoded.mode != expected || decoded.event.data != json::object()) return std::nullopt;
  auto frame = event::to_structured(decoded.event).dump();
  // The only "data" key of the frame: every other member is a string, inside which a quote is
  // always escaped, so this text cannot occur there.
  constexpr std::string_view kDataKey = R"("data":)";
  constexpr std::string_view kEmptyData = R"("data":{})";
  const auto at = frame.find(kEmptyData);
  if (at == std::string::npos) return std::nullopt;
  const auto data = value.substr(begin, end - begin);
  std::string out;
  out.reserve(frame.size() + data.size());
  out.append(frame, 0, at + kDataKey.size()).append(data).append(frame, at + kEmptyData.size());
  return out;
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

json enriched_data(json data, const std::string& word) {
  if (!data.is_object()) data = json{{"payload", std::move(data)}};
  data["word"] = word;
  return data;
}

std::optional<std::string> enriched_data_text(std::string_view data, const std::string& word) {
  constexpr std::string_view kWord = "word";
  thread_local std::vector<event::canonical::Member> members;
  if (!data.empty() && data.front() == '{') {
    if (!event::canonical::object(data, &members)) return std::nullopt;
    return event::canonical::with_member(data, members, kWord, event::canonical::quoted(word));
  }
  if (!event::canonical::whole(data)) return std::nullopt;
  // {"payload": data, "word": word}: "payload" sorts before "word".
  const auto quoted = event::canonical::quoted(word);
  std::string out;
  out.reserve(data.size() + quoted.size() + 20);
  out.append(R"({"payload":)").append(data).append(R"(,"word":)").append(quoted).append("}");
  return out;
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
