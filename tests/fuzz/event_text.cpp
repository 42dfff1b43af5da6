// Kafka messages as enrich reads them the fast way. event::from_kafka_text (which keeps the
// data as its text when that text is canonical) must never throw and, when it answers, must
// agree with the slow path, event::from_kafka: it accepts the message, with the same mode and
// attributes, and the data text is the dump of from_kafka's data. Then enrich's spliced output
// (events::enriched_data_text) must be the slow path's dump byte for byte. The first byte picks
// the headers as in client_frame: none (structured or legacy), binary mode's ce_ headers with
// the rest as data, or structured mode's content-type.

#include <string>

#include "pkg/event/canonical.h"
#include "pkg/event/envelope.h"
#include "pkg/workers/events_model.h"
#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/kafka_shapes.h"

PW_FUZZ_TARGET(event_text) {
  namespace events = pipewright::workers::events;
  namespace event = pipewright::event;
  using nlohmann::json;
  if (size == 0) return;
  const std::string value(pipewright::fuzz::as_text(data + 1, size - 1));
  const event::Headers headers = pipewright::fuzz::kafka_headers(data[0]);
  // Any text the scan calls canonical is what dump() writes of it.
  if (event::canonical::whole(value)) {
    pipewright::fuzz::check(json::parse(value).dump() == value,
                            "canonical::whole said yes to text dump() writes otherwise");
  }
  std::optional<event::DecodedText> fast;
  try {
    fast = event::from_kafka_text(value, headers);
  } catch (...) {
    pipewright::fuzz::check(false, "from_kafka_text threw (it must answer nullopt instead)");
  }
  if (!fast) return;
  event::Decoded slow;
  try {
    slow = event::from_kafka(value, headers);
  } catch (const event::EnvelopeError&) {
    pipewright::fuzz::check(false, "from_kafka_text decoded a message from_kafka refuses");
  }
  const auto& a = fast->event;
  const auto& b = slow.event;
  pipewright::fuzz::check(fast->mode == slow.mode && a.id == b.id && a.type == b.type &&
                              a.time == b.time && a.source == b.source &&
                              a.attributes == b.attributes,
                          "from_kafka_text's attributes differ from from_kafka's");
  pipewright::fuzz::check(b.data.dump() == fast->data,
                          "from_kafka_text's data is not the dump of from_kafka's");
  for (const std::string word : {"aportarás", "a\"b\\c\n"}) {
    const auto text = events::enriched_data_text(fast->data, word);
    pipewright::fuzz::check(text.has_value(), "enriched_data_text refused canonical data");
    pipewright::fuzz::check(*text == events::enriched_data(b.data, word).dump(),
                            "enriched_data_text differs from the slow path's dump");
  }
}
