// WebSocket /produce frames as events-gateway turns them into events (events::frame_data, any
// text: JSON or not), published as an event and read back (event::from_kafka). Beast hands the
// gateway only valid UTF-8 text frames, so other input is skipped.

#include <string>

#include "pkg/event/envelope.h"
#include "pkg/workers/events_model.h"
#include "tests/fuzz/fuzz.h"

PW_FUZZ_TARGET(gateway_frame) {
  namespace events = pipewright::workers::events;
  namespace event = pipewright::event;
  const std::string frame(pipewright::fuzz::as_text(data, size));
  try {
    (void)nlohmann::json(frame).dump();  // throws for text that is not UTF-8
  } catch (const nlohmann::json::type_error&) {
    return;
  }
  const nlohmann::json event_data = events::frame_data(frame);
  const auto e = event::make(events::kCreatedType, "/ns/e/gw", event_data);
  const auto back = event::from_kafka(event::kafka_value(e), event::kafka_headers(e)).event;
  pipewright::fuzz::check(back.data == event_data,
                          "the frame's data changed on its way through Kafka");
}
