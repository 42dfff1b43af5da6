#pragma once
// The message every worker reads and writes (docs/messages.md): a CloudEvents 1.0 event. On
// Kafka it is written in binary mode (attributes in ce_* headers, `data` as the value, the
// entity id as the key so one entity keeps its order); both modes are read, and so is the
// JSON envelope written before CloudEvents ({id, type, time, source, data}, header ce_type).
// Over HTTP the same: binary mode written (the webhook), both modes read (events-api,
// orders-api). Pure: no Kafka or HTTP library here, only names and values.

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pipewright::event {

inline constexpr std::string_view kSpecVersion = "1.0";
// The content type of a structured-mode event (JSON event format).
inline constexpr std::string_view kStructuredContentType = "application/cloudevents+json";
// What `data` always is when we write it.
inline constexpr std::string_view kDataContentType = "application/json";

struct Envelope {
  Envelope() = default;
  Envelope(std::string id_, std::string type_, std::string time_, std::string source_,
           nlohmann::json data_ = nlohmann::json::object(),
           std::map<std::string, std::string> attributes_ = {})
      : id(std::move(id_)),
        type(std::move(type_)),
        time(std::move(time_)),
        source(std::move(source_)),
        data(std::move(data_)),
        attributes(std::move(attributes_)) {}

  std::string id;      // unique per source; side effects are de-duplicated by it
  std::string type;    // e.g. "pipewright.image.uploaded"
  std::string time;    // RFC 3339 ("" when an event read from elsewhere has none)
  std::string source;  // a URI-reference: "/pipewright/<namespace>/<pipeline>/<step>"
  nlohmann::json data = nlohmann::json::object();
  // Optional attributes (subject, dataschema) and extension attributes, by name: all strings
  // on the wire in binary mode, so kept as their canonical string form.
  std::map<std::string, std::string> attributes;
};

// What a message or request was refused for. `field` names the attribute or header at fault
// ("id", "ce_source", "data", "value", ...).
class EnvelopeError : public std::runtime_error {
 public:
  explicit EnvelopeError(const std::string& what, std::string field = "")
      : std::runtime_error(what), field_(std::move(field)) {}
  const std::string& field() const { return field_; }

 private:
  std::string field_;
};

// How a message carried its event.
enum class Mode { binary, structured, legacy };
const char* to_string(Mode m);

// Header names and values in their order (Kafka headers; a header may repeat there).
using Headers = std::vector<std::pair<std::string, std::string>>;

// --- Kafka protocol binding ---------------------------------------------------------------

// Binary mode: ce_specversion, ce_id, ce_source, ce_type, ce_time, ce_<attribute> for each
// optional or extension attribute, and content-type: application/json. The value is
// kafka_value(e).
Headers kafka_headers(const Envelope& e);
// An event's attributes where the caller keeps them (no Envelope, no copy of each).
struct AttributesView {
  std::string_view id, type, time, source;
  const std::map<std::string, std::string>* attributes = nullptr;  // optional and extensions
};
inline AttributesView view_of(const Envelope& e) {
  return {e.id, e.type, e.time, e.source, &e.attributes};
}
// kafka_headers' names and values, in its order, each given to add(name, value) as views: for
// a caller writing them into its own message type, no Headers in between.
template <class Add>
void each_kafka_header(const AttributesView& e, Add&& add) {
  add(std::string_view("ce_specversion"), kSpecVersion);
  add(std::string_view("ce_id"), e.id);
  add(std::string_view("ce_source"), e.source);
  add(std::string_view("ce_type"), e.type);
  if (!e.time.empty()) add(std::string_view("ce_time"), e.time);
  if (e.attributes != nullptr) {
    for (const auto& [name, value] : *e.attributes)
      add(std::string_view("ce_" + name), std::string_view(value));
  }
  add(std::string_view("content-type"), kDataContentType);
}
inline std::size_t kafka_header_count(const AttributesView& e) {
  return 5 + (e.time.empty() ? 0 : 1) + (e.attributes == nullptr ? 0 : e.attributes->size());
}
std::string kafka_value(const Envelope& e);

// The event of a Kafka message in either mode, or of an old envelope. Throws EnvelopeError
// saying why it is none of those (the caller dead-letters it: no retry can fix it).
struct Decoded {
  Envelope event;
  Mode mode = Mode::binary;
};
Decoded from_kafka(std::string_view value, const Headers& headers);

// The same without a document of `data`, for a step that handles the data as text: when the
// data's JSON text is canonical (pkg/event/canonical.h), `event` is what from_kafka decodes
// except its data (left null) and `data` is that data's text: a view into `value`, or "{}" for
// an event without data (what from_kafka's data is then). Every check of from_kafka is made
// (the attributes do not depend on what the data holds, only on it being JSON). nullopt when
// it cannot answer so: data not canonical, or no valid event (from_kafka then says why).
struct DecodedText {
  Envelope event;
  Mode mode = Mode::binary;
  std::string_view data;
};
// What `data` is to be: canonical, as above (a step splices or forwards it), or unchecked: the
// data's text as the message has it, not read at all (for a step that parses it with a reader
// refusing what is no JSON and reading it as a document would). Unchecked, the rest of the
// value must still be canonical and every other check is made; the value is JSON exactly when
// `data` is.
enum class DataText { canonical, unchecked };
std::optional<DecodedText> from_kafka_text(std::string_view value, const Headers& headers,
                                           DataText data = DataText::canonical);
// The same reading headers in place (a consumed message's own strings): no copy of each header,
// no map of them per message.
struct HeaderView {
  std::string_view name, value;
};
std::optional<DecodedText> from_kafka_text(std::string_view value,
                                           std::span<const HeaderView> headers,
                                           DataText data = DataText::canonical);

// --- HTTP protocol binding ----------------------------------------------------------------

// The event of an HTTP request when it is a CloudEvent (a ce-specversion header: binary mode;
// Content-Type application/cloudevents+json: structured mode), nullopt for any other request.
// `headers` has lower-case names. Throws EnvelopeError for a CloudEvent that is not valid.
std::optional<Decoded> from_http(const std::map<std::string, std::string>& headers,
                                 std::string_view body);

// Binary mode over HTTP: ce-specversion, ce-id, ce-source, ce-type, ce-time, ce-<attribute>
// and Content-Type: application/json; the body is kafka_value(e) (data as JSON).
std::map<std::string, std::string> http_headers(const Envelope& e);

// --- The JSON event format (structured mode) ----------------------------------------------

// {"specversion": "1.0", "id", "source", "type", "time", "datacontenttype", <attributes>,
// "data"}: what events-api answers and the events gateway sends to WebSocket clients. The old
// envelope's five fields are all there, so readers of those keep working.
nlohmann::json to_structured(const Envelope& e);
// Reads and checks a structured-mode event. Throws EnvelopeError.
Envelope from_structured(const nlohmann::json& j);

// The spec's rule for attribute names: 1 to 20 characters of a-z and 0-9.
bool valid_attribute_name(std::string_view name);
// RFC 3339 date-time: 2026-12-01T08:15:20Z, with optional fraction and a Z or ±hh:mm offset.
bool valid_rfc3339(std::string_view text);

// 26 characters, time-ordered, random in the rest (ULID-like, Crockford base32): sortable ids
// that two processes never repeat.
std::string new_id();

// Now as RFC 3339 UTC with milliseconds.
std::string now_rfc3339();

// A new event stamped with a fresh id and the current time.
Envelope make(std::string type, std::string source, nlohmann::json data);

}  // namespace pipewright::event
