// WebSocket /produce frames as events-gateway turns them into events (events::frame_data, any
// text: JSON or not), published as an envelope and read back (event::parse). Beast hands the
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
  nlohmann::json event_data;
  try {
    event_data = events::frame_data(frame);
  } catch (const nlohmann::json::out_of_range&) {
    // Known finding, not fixed on main yet (tests/fuzz/findings/gateway_frame/): a frame such
    // as "1e999" escapes frame_data, and the gateway closes the connection with 1011 instead
    // of publishing the frame as text. Remove with the fix.
    return;
  }
  const auto back =
      event::parse(event::to_json(event::make(events::kCreatedType, "ns/e/gw", event_data)));
  pipewright::fuzz::check(back.data == event_data, "the envelope changed the frame's data");
}
