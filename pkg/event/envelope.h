#pragma once
// The message envelope every worker reads and writes (SPEC section 4): CloudEvents field names,
// JSON on the wire, the entity id as the Kafka key so one entity keeps its order.

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

namespace pipewright::event {

struct Envelope {
  std::string id;      // unique per event; side effects are de-duplicated by it
  std::string type;    // e.g. "pipewright.image.uploaded"
  std::string time;    // RFC 3339, UTC, milliseconds
  std::string source;  // "<namespace>/<pipeline>/<step>"
  nlohmann::json data = nlohmann::json::object();
};

class EnvelopeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

std::string to_json(const Envelope& e);

// Throws EnvelopeError naming the missing or mistyped field.
Envelope parse(const std::string& text);

// 26 characters, time-ordered, random in the rest (ULID-like, Crockford base32): sortable ids
// that two processes never repeat.
std::string new_id();

// Now as RFC 3339 UTC with milliseconds.
std::string now_rfc3339();

// A new envelope stamped with a fresh id and the current time.
Envelope make(std::string type, std::string source, nlohmann::json data);

}  // namespace pipewright::event
