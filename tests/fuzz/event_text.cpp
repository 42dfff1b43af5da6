// Kafka messages as enrich reads them the fast way. event::from_kafka_text (which keeps the
// data as its text when that text is canonical) must never throw and, when it answers, must
// agree with the slow path, event::from_kafka: it accepts the message, with the same mode and
// attributes, and the data text is the dump of from_kafka's data. Then enrich's spliced output
// (events::enriched_data_text) must be the slow path's dump byte for byte. The first byte picks
// the headers as in client_frame: none (structured or legacy), binary mode's ce_ headers with
// the rest as data, or structured mode's content-type. Unchecked (DataText::unchecked, as fraud
// reads), the data's text is JSON exactly when from_kafka accepts the message, and its document
// is from_kafka's data.

#include <string>

#include "pkg/event/canonical.h"
#include "pkg/event/envelope.h"
#include "pkg/json/limited.h"
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
  std::optional<event::DecodedText> fast, raw;
  try {
    fast = event::from_kafka_text(value, headers);
    raw = event::from_kafka_text(value, headers, event::DataText::unchecked);
  } catch (...) {
    pipewright::fuzz::check(false, "from_kafka_text threw (it must answer nullopt instead)");
  }
  std::optional<event::Decoded> decoded;
  try {
    decoded = event::from_kafka(value, headers);
  } catch (const event::EnvelopeError&) {
  }
  // Unchecked: the message is an event exactly when the data's text is JSON, and then it is
  // from_kafka's event with that text's document as its data.
  if (fast) pipewright::fuzz::check(raw && raw->data == fast->data, "unchecked lost an answer");
  if (raw) {
    const auto document = pipewright::json::try_parse(raw->data);
    pipewright::fuzz::check(document.has_value() == decoded.has_value(),
                            "unchecked data's text is JSON where from_kafka refuses, or not");
    if (document) {
      const auto& a = raw->event;
      const auto& b = decoded->event;
      pipewright::fuzz::check(raw->mode == decoded->mode && a.id == b.id && a.type == b.type &&
                                  a.time == b.time && a.source == b.source &&
                                  a.attributes == b.attributes && *document == b.data,
                              "unchecked from_kafka_text's event differs from from_kafka's");
    }
  }
  if (!fast) return;
  pipewright::fuzz::check(decoded.has_value(),
                          "from_kafka_text decoded a message from_kafka refuses");
  const auto& slow = *decoded;
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
