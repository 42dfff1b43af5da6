// POST /events bodies as events-api reads them (events::parse_create_body), the envelope it
// publishes, and that event as enrich and the gateway read it back (event::from_kafka).
// The documented failure is FieldError naming the field.

#include <string>

#include "pkg/event/envelope.h"
#include "pkg/workers/events_model.h"
#include "tests/fuzz/fuzz.h"

PW_FUZZ_TARGET(events_body) {
  namespace events = pipewright::workers::events;
  namespace event = pipewright::event;
  nlohmann::json created;
  try {
    created = events::parse_create_body(std::string(pipewright::fuzz::as_text(data, size)));
  } catch (const events::FieldError&) {
    return;  // 400 naming the field (an unknown key "" is named as "")
  }
  const auto envelope = event::make(events::kCreatedType, "ns/events/api", created);
  const auto back =
      event::from_kafka(event::kafka_value(envelope), event::kafka_headers(envelope)).event;
  pipewright::fuzz::check(back.data == created,
                          "the event's data changed on its way through Kafka");
}
