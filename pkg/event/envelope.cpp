#include "pkg/event/envelope.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <mutex>
#include <optional>
#include <random>
#include <span>
#include <tuple>

#include "pkg/event/canonical.h"
#include "pkg/json/limited.h"
#include "pkg/units/rfc3339.h"

namespace pipewright::event {

namespace {

using nlohmann::json;

// The required attributes other than specversion, in the order they are written.
constexpr std::array<std::string_view, 3> kRequired = {"id", "source", "type"};

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The media type of a content type: "application/json; charset=utf-8" -> "application/json".
std::string media_type(std::string_view content_type) {
  auto type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && type.back() == ' ')
    type.remove_suffix(1);
  while (!type.empty() && type.front() == ' ')
    type.remove_prefix(1);
  return lower(type);
}

bool is_json_media(const std::string& type) {
  return type == "application/json" || type == "text/json" || type.ends_with("+json");
}

json parse_json(std::string_view text, const std::string& field) {
  try {
    return pipewright::json::parse(text);
  } catch (const pipewright::json::ParseError& e) {
    throw EnvelopeError(field + " is not JSON: " + e.what(), field);
  }
}

// The content type of a binary-mode value or body: steps read JSON, so any other content type
// is refused, naming it.
void check_data_type(std::string_view content_type, const std::string& field) {
  const auto type = media_type(content_type);
  if (!type.empty() && !is_json_media(type)) {
    throw EnvelopeError("data of content type '" + std::string(content_type) +
                            "' is not read: Pipewright steps read JSON data (application/json)",
                        field);
  }
}

// `data` from a binary-mode value or body whose content type check_data_type passed.
json read_data(std::string_view text, const std::string& field) {
  if (text.empty()) return json::object();  // an event without data
  return parse_json(text, field);
}

void check_specversion(const std::string& value, const std::string& field) {
  if (value != kSpecVersion) {
    throw EnvelopeError(field + " '" + value + "' is not supported (CloudEvents 1.0 is)", field);
  }
}

void check_time(const std::string& time, const std::string& field) {
  if (!time.empty() && !valid_rfc3339(time)) {
    throw EnvelopeError(field + " '" + time + "' is not an RFC 3339 time", field);
  }
}

// A header value as an attribute's value: as it is (Kafka), or percent-decoded (HTTP).
using Decode = std::string (*)(std::string_view);

// The attributes of a binary-mode event over either binding, in one pass over its headers (a
// map, or a message's headers in place): named prefix + attribute, matched as they are (the
// caller has lower-cased them, or knows they are), the first of a repeated name counting.
// `content_type` is set to the content-type header. Throws EnvelopeError for the first of: a
// specversion not 1.0; id, source or type missing or empty; a time not RFC 3339; an extension
// name not valid (the first in the headers' order).
template <class Range>
Envelope binary_attributes(const Range& headers, std::string_view prefix, Decode decode,
                           std::optional<std::string_view>& content_type) {
  std::optional<std::string_view> specversion, id, source, type, time, bad_name;
  const auto first = [](std::optional<std::string_view>& slot, std::string_view v) {
    if (!slot) slot = v;
  };
  Envelope e;
  e.data = nullptr;
  for (const auto& [header, raw] : headers) {
    const std::string_view name = header, v = raw;
    if (name == "content-type") {
      first(content_type, v);
      continue;
    }
    if (!name.starts_with(prefix)) continue;
    const auto attribute = name.substr(prefix.size());
    if (attribute == "specversion") {
      first(specversion, v);
    } else if (attribute == "id") {
      first(id, v);
    } else if (attribute == "source") {
      first(source, v);
    } else if (attribute == "type") {
      first(type, v);
    } else if (attribute == "time") {
      first(time, v);
    } else if (attribute != "datacontenttype") {
      if (!valid_attribute_name(attribute)) {
        first(bad_name, name);
      } else if (auto [slot, fresh] = e.attributes.try_emplace(std::string(attribute)); fresh) {
        slot->second = decode(v);
      }
    }
  }
  const auto full = [&](std::string_view attribute) {
    return std::string(prefix) + std::string(attribute);
  };
  check_specversion(specversion ? decode(*specversion) : "", full("specversion"));
  for (auto [attribute, slot, target] :
       {std::tuple{kRequired[0], &id, &e.id}, std::tuple{kRequired[1], &source, &e.source},
        std::tuple{kRequired[2], &type, &e.type}}) {
    if (*slot) *target = decode(**slot);
    if (target->empty()) {
      throw EnvelopeError("a CloudEvent needs the header " + full(attribute), full(attribute));
    }
  }
  if (time) e.time = decode(*time);
  check_time(e.time, full("time"));
  if (bad_name) {
    throw EnvelopeError("header " + std::string(*bad_name) +
                            ": an attribute name has 1 to 20 characters of a-z and 0-9",
                        std::string(*bad_name));
  }
  return e;
}

// Binary mode over either binding: the attributes, then the data.
template <class Range>
Envelope from_binary(const Range& headers, std::string_view prefix, std::string_view value,
                     const std::string& data_field, Decode decode) {
  std::optional<std::string_view> content_type;
  auto e = binary_attributes(headers, prefix, decode, content_type);
  check_data_type(content_type.value_or(""), data_field);
  e.data = read_data(value, data_field);
  return e;
}

// The old envelope: {id, type, time, source, data}, no specversion. Its data is moved out of
// `j` (a parsed message's data is not copied a second time).
Envelope from_legacy(json& j) {
  Envelope e;
  for (auto [field, target] : {std::pair{"id", &e.id}, std::pair{"type", &e.type},
                               std::pair{"time", &e.time}, std::pair{"source", &e.source}}) {
    const auto it = j.find(field);
    if (it == j.end() || !it->is_string()) {
      throw EnvelopeError(std::string("envelope field '") + field + "' must be a string", field);
    }
    *target = it->get<std::string>();
  }
  if (e.id.empty()) throw EnvelopeError("envelope field 'id' is empty", "id");
  if (const auto data = j.find("data"); data != j.end()) e.data = std::move(*data);
  return e;
}

// RFC 3986 is too much to check here; what a header can carry safely is what matters: the HTTP
// binding percent-encodes space, '"', '%' and everything outside printable ASCII.
std::string percent_encode(const std::string& s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7F || c == '"' || c == '%') {
      out += '%';
      out += kHex[c >> 4U];
      out += kHex[c & 15U];
    } else {
      out += ch;
    }
  }
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const int hi = hex_value(s[i + 1]);
      const int lo = hex_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

std::string identity(std::string_view s) {
  return std::string(s);
}

bool digits(std::string_view s, std::size_t at, std::size_t n) {
  if (at + n > s.size()) return false;
  for (std::size_t i = at; i < at + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return true;
}

int number(std::string_view s, std::size_t at, std::size_t n) {
  int v = 0;
  for (std::size_t i = at; i < at + n; ++i)
    v = v * 10 + (s[i] - '0');
  return v;
}

}  // namespace

const char* to_string(Mode m) {
  switch (m) {
    case Mode::binary:
      return "binary";
    case Mode::structured:
      return "structured";
    case Mode::legacy:
      return "legacy";
  }
  return "?";
}

bool valid_attribute_name(std::string_view name) {
  if (name.empty() || name.size() > 20) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); });
}

bool valid_rfc3339(std::string_view t) {
  // 2026-12-01T08:15:20[.123]Z or +hh:mm / -hh:mm
  if (!digits(t, 0, 4) || t.size() < 20 || t[4] != '-' || !digits(t, 5, 2) || t[7] != '-' ||
      !digits(t, 8, 2) || (t[10] != 'T' && t[10] != 't') || !digits(t, 11, 2) || t[13] != ':' ||
      !digits(t, 14, 2) || t[16] != ':' || !digits(t, 17, 2)) {
    return false;
  }
  const int month = number(t, 5, 2), day = number(t, 8, 2), hour = number(t, 11, 2),
            minute = number(t, 14, 2), second = number(t, 17, 2);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return false;
  }
  std::size_t at = 19;
  if (at < t.size() && t[at] == '.') {
    std::size_t n = 0;
    while (at + 1 + n < t.size() && t[at + 1 + n] >= '0' && t[at + 1 + n] <= '9')
      ++n;
    if (n == 0) return false;
    at += 1 + n;
  }
  const auto zone = t.substr(at);
  if (zone == "Z" || zone == "z") return true;
  return zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && digits(zone, 1, 2) &&
         zone[3] == ':' && digits(zone, 4, 2) && number(zone, 1, 2) <= 23 &&
         number(zone, 4, 2) <= 59;
}

Headers kafka_headers(const Envelope& e) {
  // Sized once and built in place: a braced list copied every name and value a second time and
  // the vector grew twice (a tenth of a small step's CPU went to these headers).
  const auto view = view_of(e);
  Headers h;
  h.reserve(kafka_header_count(view));
  each_kafka_header(
      view, [&](std::string_view name, std::string_view value) { h.emplace_back(name, value); });
  return h;
}

std::string kafka_value(const Envelope& e) {
  // What data.dump() writes, into a buffer sized for a typical event at once: growing the
  // string from empty costs a handful of reallocations per message.
  std::string out;
  out.reserve(512);
  nlohmann::detail::serializer<json> writer(nlohmann::detail::output_adapter<char>(out), ' ');
  writer.dump(e.data, false, false, 0);
  return out;
}

namespace {

using HeaderMap = std::map<std::string, std::string>;

// Header names are matched in lower case (the Python SDK reads them so, too); the first of a
// repeated header counts.
template <class Range>
HeaderMap lowered(const Range& headers) {
  HeaderMap h;
  for (const auto& [name, v] : headers)
    h.try_emplace(lower(name), v);
  return h;
}

std::string content_type_of(const HeaderMap& h) {
  const auto ct = h.find("content-type");
  return ct == h.end() ? std::string() : media_type(ct->second);
}

const char* const kNotAnEvent = "not a CloudEvent (no ce_specversion header, no content-type ";

// A value that is a JSON object, in a message with neither ce_specversion nor a structured
// content-type: a structured event (its specversion member says so) or the old envelope.
Decoded from_object(json& j) {
  if (j.contains("specversion")) return {from_structured(j), Mode::structured};
  try {
    return {from_legacy(j), Mode::legacy};
  } catch (const EnvelopeError& e) {
    throw EnvelopeError(kNotAnEvent + std::string(kStructuredContentType) +
                            ") nor a Pipewright envelope: " + e.what(),
                        e.field());
  }
}

}  // namespace

Decoded from_kafka(std::string_view value, const Headers& headers) {
  const auto h = lowered(headers);
  if (h.contains("ce_specversion")) {
    return {from_binary(h, "ce_", value, "value", identity), Mode::binary};
  }
  const auto type = content_type_of(h);
  if (type.starts_with("application/cloudevents-batch")) {
    throw EnvelopeError("a batch of CloudEvents is not read: send one event per message",
                        "content-type");
  }
  if (type.starts_with(kStructuredContentType)) {
    return {from_structured(parse_json(value, "value")), Mode::structured};
  }
  std::string why;
  auto j = pipewright::json::try_parse(value, &why);
  if (!j || !j->is_object()) {
    throw EnvelopeError(kNotAnEvent + std::string(kStructuredContentType) +
                            ") and the value is not a JSON object" +
                            (why.empty() ? "" : ": " + why),
                        "value");
  }
  // A structured event written without its content-type header is still one.
  return from_object(*j);
}

namespace {

constexpr std::string_view kNoData = "{}";

// The old envelope straight from its scanned members when from_legacy would take its attributes
// as they are: no "specversion" (that is a structured event), and "id" (not empty), "type",
// "time" and "source" strings without an escape (canonical: their bytes). No document of the
// members, no copy of them into one and out again. nullopt for anything else: the document's
// path decides that.
std::optional<DecodedText> legacy_text(const std::vector<canonical::Member>& members) {
  std::string_view id, type, time, source, data = kNoData;
  int found = 0;
  for (const auto& [key, text] : members) {
    if (key == "data") {
      data = text;
      continue;
    }
    if (key == "specversion") return std::nullopt;
    auto* target = key == "id"       ? &id
                   : key == "type"   ? &type
                   : key == "time"   ? &time
                   : key == "source" ? &source
                                     : nullptr;
    if (target == nullptr) continue;
    if (text.size() < 2 || text.front() != '"' || text.find('\\') != std::string_view::npos) {
      return std::nullopt;
    }
    *target = text.substr(1, text.size() - 2);
    ++found;  // keys of a canonical object are unique
  }
  if (found != 4 || id.empty()) return std::nullopt;
  return DecodedText{
      Envelope(std::string(id), std::string(type), std::string(time), std::string(source), nullptr),
      Mode::legacy, data};
}

}  // namespace

namespace {

bool has_upper(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

// A binary-mode event of Kafka headers matched as they are (lower case) without a document
// of its data. Throws EnvelopeError where from_binary would; nullopt for data not canonical.
template <class Range>
std::optional<DecodedText> binary_text(std::string_view value, const Range& headers,
                                       DataText check) {
  std::optional<std::string_view> content_type;
  auto e = binary_attributes(headers, "ce_", identity, content_type);
  check_data_type(content_type.value_or(""), "value");
  if (check == DataText::canonical && !value.empty() && !canonical::whole(value))
    return std::nullopt;
  return DecodedText{std::move(e), Mode::binary, value.empty() ? kNoData : value};
}

// from_kafka_text over a message's headers, copied (Headers) or in place (HeaderView): binary
// mode with lower-case names reads them where they are; anything else reads their lower-cased
// map, as from_kafka does.
template <class Range>
std::optional<DecodedText> text_of(std::string_view value, const Range& headers, DataText check) {
  try {
    bool lower_case = true, binary = false;
    for (const auto& [name, v] : headers) {
      lower_case = lower_case && !has_upper(name);
      binary = binary || std::string_view(name) == "ce_specversion";
    }
    if (lower_case && binary) return binary_text(value, headers, check);
    const auto h = lowered(headers);
    if (h.contains("ce_specversion")) return binary_text(value, h, check);
    const auto type = content_type_of(h);
    if (type.starts_with("application/cloudevents-batch")) return std::nullopt;
    thread_local std::vector<canonical::Member> members;
    if (!(check == DataText::canonical ? canonical::object(value, &members)
                                       : canonical::object_but(value, "data", &members))) {
      return std::nullopt;
    }
    const bool structured = type.starts_with(kStructuredContentType);
    if (!structured) {
      if (auto legacy = legacy_text(members)) return legacy;
    }
    // The value's document with an empty object for its data: the members but data are a few
    // short strings, each the bytes between its quotes when it has no escape.
    json j = json::object();
    std::string_view data = kNoData;
    for (const auto& [key, text] : members) {
      auto& slot = j[std::string(key)];
      if (key == "data") {
        slot = json::object();
        data = text;
      } else if (text.front() == '"' && text.find('\\') == std::string_view::npos) {
        slot = std::string(text.substr(1, text.size() - 2));
      } else {
        slot = pipewright::json::parse(text);
      }
    }
    auto d = structured ? Decoded{from_structured(j), Mode::structured} : from_object(j);
    d.event.data = nullptr;
    return DecodedText{std::move(d.event), d.mode, data};
  } catch (const EnvelopeError&) {
    return std::nullopt;  // from_kafka says why
  } catch (const pipewright::json::ParseError&) {
    return std::nullopt;
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

}  // namespace

std::optional<DecodedText> from_kafka_text(std::string_view value, const Headers& headers,
                                           DataText data) {
  return text_of(value, headers, data);
}

std::optional<DecodedText> from_kafka_text(std::string_view value,
                                           std::span<const HeaderView> headers, DataText data) {
  return text_of(value, headers, data);
}

std::optional<Decoded> from_http(const std::map<std::string, std::string>& headers,
                                 std::string_view body) {
  if (headers.contains("ce-specversion")) {
    return Decoded{from_binary(headers, "ce-", body, "body", percent_decode), Mode::binary};
  }
  const auto ct = headers.find("content-type");
  const auto type = ct == headers.end() ? std::string() : media_type(ct->second);
  if (type.starts_with("application/cloudevents-batch")) {
    throw EnvelopeError("a batch of CloudEvents is not accepted: send one event per request",
                        "content-type");
  }
  if (!type.starts_with(kStructuredContentType)) return std::nullopt;
  return Decoded{from_structured(parse_json(body, "body")), Mode::structured};
}

std::map<std::string, std::string> http_headers(const Envelope& e) {
  std::map<std::string, std::string> h{{"ce-specversion", std::string(kSpecVersion)},
                                       {"ce-id", percent_encode(e.id)},
                                       {"ce-source", percent_encode(e.source)},
                                       {"ce-type", percent_encode(e.type)}};
  if (!e.time.empty()) h["ce-time"] = percent_encode(e.time);
  for (const auto& [name, value] : e.attributes)
    h["ce-" + name] = percent_encode(value);
  h["Content-Type"] = std::string(kDataContentType);
  return h;
}

json to_structured(const Envelope& e) {
  json j = {{"specversion", kSpecVersion}, {"id", e.id}, {"source", e.source}, {"type", e.type}};
  if (!e.time.empty()) j["time"] = e.time;
  j["datacontenttype"] = kDataContentType;
  for (const auto& [name, value] : e.attributes)
    j[name] = value;
  j["data"] = e.data;
  return j;
}

Envelope from_structured(const json& j) {
  if (!j.is_object()) throw EnvelopeError("a structured CloudEvent is a JSON object", "value");
  const auto text = [&](const char* field) -> std::string {
    const auto it = j.find(field);
    if (it == j.end()) return "";
    if (!it->is_string()) throw EnvelopeError(std::string(field) + " must be a string", field);
    return it->get<std::string>();
  };
  check_specversion(text("specversion"), "specversion");
  Envelope e;
  for (auto [attribute, target] :
       {std::pair{kRequired[0], &e.id}, std::pair{kRequired[1], &e.source},
        std::pair{kRequired[2], &e.type}}) {
    *target = text(std::string(attribute).c_str());
    if (target->empty()) {
      throw EnvelopeError("a CloudEvent needs the attribute " + std::string(attribute),
                          std::string(attribute));
    }
  }
  e.time = text("time");
  check_time(e.time, "time");
  const auto content_type = text("datacontenttype");
  if (j.contains("data_base64")) {
    throw EnvelopeError("data_base64 is not read: Pipewright steps read JSON data", "data_base64");
  }
  if (const auto data = j.find("data"); data != j.end()) {
    const auto type = media_type(content_type);
    if (!type.empty() && !is_json_media(type)) {
      throw EnvelopeError("data of content type '" + content_type +
                              "' is not read: Pipewright steps read JSON data (application/json)",
                          "datacontenttype");
    }
    e.data = *data;
  }
  for (const auto& [name, value] : j.items()) {
    if (name == "specversion" || name == "id" || name == "source" || name == "type" ||
        name == "time" || name == "datacontenttype" || name == "data") {
      continue;
    }
    if (!valid_attribute_name(name)) {
      throw EnvelopeError("attribute '" + name + "': a name has 1 to 20 characters of a-z and 0-9",
                          name);
    }
    if (value.is_string()) {
      e.attributes[name] = value.get<std::string>();
    } else if (value.is_boolean() || value.is_number_integer()) {
      e.attributes[name] = value.dump();
    } else {
      throw EnvelopeError("attribute '" + name + "' must be a string, a boolean or an integer",
                          name);
    }
  }
  return e;
}

std::string new_id() {
  static constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  static std::mutex mutex;
  static std::mt19937_64 random{std::random_device{}()};
  const auto ms =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
  std::uint64_t r1 = 0, r2 = 0;
  {
    std::lock_guard lock(mutex);
    r1 = random();
    r2 = random();
  }
  std::string id(26, '0');
  // 48 bits of time in 10 characters, then 80 random bits in 16.
  for (int i = 9; i >= 0; --i)
    id[static_cast<std::size_t>(i)] = kAlphabet[(ms >> (5 * (9 - i))) & 31U];
  for (std::size_t i = 0; i < 16; ++i) {
    const std::uint64_t source = i < 12 ? r1 >> (5 * i) : r2 >> (5 * (i - 12));
    id[10 + i] = kAlphabet[source & 31U];
  }
  return id;
}

std::string now_rfc3339() {
  // Formatted once per millisecond and thread (gmtime_r and snprintf cost more than the rest of
  // a small step's message): what rfc3339() writes depends on the millisecond only.
  thread_local std::int64_t cached_ms = -1;
  thread_local std::string cached;
  const auto now = std::chrono::system_clock::now();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch());
  if (ms.count() != cached_ms || ms.count() < 0) {
    cached = units::rfc3339(std::chrono::system_clock::time_point(ms));
    cached_ms = ms.count();
  }
  return cached;
}

Envelope make(std::string type, std::string source, nlohmann::json data) {
  return {new_id(), std::move(type), now_rfc3339(), std::move(source), std::move(data)};
}

}  // namespace pipewright::event
