#pragma once
// The pure parts of the events pipeline (events.cpp): what a request to create an event may
// hold, the `wait` of a synchronous create, and enrich's dictionary with its deterministic
// choice of a word per event id.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "pkg/event/envelope.h"
#include "pkg/runtime/wiring.h"

namespace pipewright::workers::events {

inline constexpr const char* kCreatedType = "pipewright.event.created";
inline constexpr const char* kEnrichedType = "pipewright.event.enriched";

// A request refused, naming the field at fault ("body" for the body as a whole).
class FieldError : public std::runtime_error {
 public:
  FieldError(std::string field, const std::string& message)
      : std::runtime_error(message), field_(std::move(field)) {}
  const std::string& field() const { return field_; }

 private:
  std::string field_;
};

// The body of POST /events: a JSON object with optional `name` (1 to 100 characters, default
// "event") and `payload` (any JSON object, default {}); other keys are refused. Returns the
// event's data {"name", "payload"}. Throws FieldError.
nlohmann::json parse_create_body(const std::string& body);

// One WebSocket /produce frame as event data: {"name": "message", "payload": the frame parsed as
// JSON, or the frame as a string when it is not JSON}.
nlohmann::json frame_data(const std::string& frame);

// The Kafka topic of the gateway's config.topic: one of the step's inputs, named by its logical
// name (the manifest's, from wiring.input_topics) or its Kafka name; the only input when
// `topic` is empty. Throws runtime::ConfigError naming the inputs otherwise.
std::string gateway_topic(const runtime::Wiring& wiring, const std::string& topic);

// What a /consume-events client gets for an event: its structured form, exactly
// event::to_structured(e).dump(), without a copy of `data` (it is moved into the frame's JSON;
// the gateway builds one frame per event for all its clients).
std::string client_frame(event::Envelope e);

// The same frame straight from a Kafka message (value and headers as event::from_kafka takes
// them) without parsing and dumping its `data`: when `data` is already written the way
// nlohmann's dump() writes it (no whitespace, object keys sorted and unique, no \u or \/
// escapes, valid UTF-8, integers only, nested at most 32 deep), its bytes are spliced into
// the frame, and only the rest of the event goes through event::from_kafka (which checks it)
// and to_structured. Equal to client_frame(event::from_kafka(value, headers).event) whenever it
// returns one; nullopt (take that slower path, which also says why a message is no event) for
// anything else: a legacy envelope, a number with a fraction or exponent, an event that is not
// valid.
std::optional<std::string> client_frame_of(std::string_view value, const event::Headers& headers);

// `?wait=` of a synchronous create: a duration ("5s", "500ms") above zero and at most
// `max_wait`. Throws FieldError("wait").
std::chrono::milliseconds parse_wait(const std::string& text, std::chrono::milliseconds max_wait);

// The words of a word list, one per line (blank lines skipped). Throws std::runtime_error when
// the file cannot be read or holds no word.
std::vector<std::string> load_dictionary(const std::filesystem::path& path);

// enrich's output data: the event's data with "word" set (replacing one it had), data that is
// no object becoming {"payload": data, "word": word}.
nlohmann::json enriched_data(nlohmann::json data, const std::string& word);
// The same from the data's canonical text (event::from_kafka_text) without a document: equal to
// enriched_data(parse(data), word).dump() whenever it answers; nullopt when `data` is not
// canonical. Throws what dump() throws for a word that is not valid UTF-8.
std::optional<std::string> enriched_data_text(std::string_view data, const std::string& word);

// The word for an event id: FNV-1a of the id picks it, so every replica and every redelivery
// gives the same event the same word.
const std::string& word_for(const std::vector<std::string>& words, const std::string& id);

}  // namespace pipewright::workers::events
