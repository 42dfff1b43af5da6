// Kafka messages as fraud reads their order: from the data's text, without a document
// (orders::received_order_text), against the document's path (orders::received_order on the
// parsed data). Both the message's data as event::from_kafka_text keeps it and the whole value
// read as a body (any JSON, canonical or not: repeated keys, escapes, whitespace): the text path
// must never throw what the document's path does not, answer with the same order, receive time
// and errors, and leave a text to the document's path only where its contract says (no JSON,
// too deep, an id that is null, a receivedAt that is no string). The first byte picks the
// headers as in event_text.

#include <optional>
#include <string>

#include "pkg/event/envelope.h"
#include "pkg/json/limited.h"
#include "pkg/workers/orders_rules.h"
#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/kafka_shapes.h"

namespace {

namespace orders = pipewright::workers::orders;
using nlohmann::json;

std::string described(const orders::ReceivedOrder& r) {
  return orders::to_json(r.order).dump() + " " + r.received_at + " " + std::to_string(r.time_ms);
}

// The order or the documented error (OrderError, json's type_error) of a path.
template <typename Read>
std::string outcome_of(const Read& read) {
  try {
    return read();
  } catch (const orders::OrderError& e) {
    pipewright::fuzz::check(!e.field().empty(), "an OrderError without a field");
    return "OrderError " + e.field() + ": " + e.what();
  } catch (const json::type_error& e) {
    return std::string("json ") + e.what();
  }
}

void compare(std::string_view text, const json& data, const std::string& id,
             const std::string& time) {
  const auto fast = outcome_of([&] {
    const auto r = orders::received_order_text(text, id, time, 7);
    return r ? described(*r) : std::string("unsure");
  });
  if (fast == "unsure") {
    pipewright::fuzz::check(
        data.is_object() && ((data.contains("id") && data["id"].is_null()) ||
                             (data.contains("receivedAt") && !data["receivedAt"].is_string())),
        "the text path left an order it must read to the document's path");
    return;
  }
  const auto slow =
      outcome_of([&] { return described(orders::received_order(data, id, time, 7)); });
  pipewright::fuzz::check(fast == slow, "the text path's order differs from the document's");
}

}  // namespace

PW_FUZZ_TARGET(orders_text) {
  namespace event = pipewright::event;
  if (size == 0) return;
  const std::string value(pipewright::fuzz::as_text(data + 1, size - 1));
  const event::Headers headers = pipewright::fuzz::kafka_headers(data[0]);
  // The whole value as an event's data.
  if (const auto body = pipewright::json::try_parse(value)) {
    compare(value, *body, data[0] % 2 == 0 ? "ev-1" : "ev-\xff", "2026-12-01T00:00:00.000Z");
  } else {
    const auto r = orders::received_order_text(value, "ev-1", "", 7);
    pipewright::fuzz::check(!r.has_value(), "the text path read an order from no JSON");
  }
  // The data of the message as fraud gets it.
  const auto text = event::from_kafka_text(value, headers);
  if (!text) return;
  const auto decoded = event::from_kafka(value, headers).event;
  compare(text->data, decoded.data, text->event.id, text->event.time);
}
