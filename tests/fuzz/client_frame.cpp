// Kafka messages as events-gateway turns them into /consume-events frames. The fast path
// (events::client_frame_of, which splices the message's own bytes) must never throw and, when
// it answers, must equal the slow path's frame byte for byte (client_frame of from_kafka), and
// only for a message from_kafka accepts. The first byte picks the headers: none (structured or
// legacy), binary mode's ce_ headers with the rest as data, or structured mode's content-type.

#include <string>

#include "pkg/event/envelope.h"
#include "pkg/workers/events_model.h"
#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/kafka_shapes.h"

PW_FUZZ_TARGET(client_frame) {
  namespace events = pipewright::workers::events;
  namespace event = pipewright::event;
  if (size == 0) return;
  const std::string value(pipewright::fuzz::as_text(data + 1, size - 1));
  const event::Headers headers = pipewright::fuzz::kafka_headers(data[0]);
  std::optional<std::string> fast;
  try {
    fast = events::client_frame_of(value, headers);
  } catch (...) {
    pipewright::fuzz::check(false, "client_frame_of threw (it must answer nullopt instead)");
  }
  if (!fast) return;
  std::string slow;
  try {
    slow = events::client_frame(event::from_kafka(value, headers).event);
  } catch (const event::EnvelopeError&) {
    pipewright::fuzz::check(false, "client_frame_of framed a message from_kafka refuses");
  }
  pipewright::fuzz::check(*fast == slow, "client_frame_of's frame differs from the slow path's");
}
