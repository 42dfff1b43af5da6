// POST /events bodies as events-api reads them (events::parse_create_body), the envelope it
// publishes, and that envelope as enrich and the gateway read it back (event::parse).
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
  } catch (const nlohmann::json::out_of_range&) {
    // Known finding, not fixed on main yet (tests/fuzz/findings/events_body/): a number too
    // large for a double ("1e999") escapes parse_create_body, and events-api answers 500
    // instead of 400. Remove with the fix.
    return;
  }
  const auto envelope = event::make(events::kCreatedType, "ns/events/api", created);
  const auto back = event::parse(event::to_json(envelope));
  pipewright::fuzz::check(back.data == created, "the envelope changed the event's data");
}
