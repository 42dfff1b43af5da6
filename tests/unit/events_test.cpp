// The pure parts of the events pipeline: what POST /events accepts, `wait`, /produce frames and
// enrich's choice of a word.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <set>

#include "pkg/event/canonical.h"
#include "pkg/event/envelope.h"
#include "pkg/workers/events_model.h"
#include "tests/support/suite_logs.h"

namespace pipewright::workers::events {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

std::string field_of(const std::string& body) {
  try {
    parse_create_body(body);
  } catch (const FieldError& e) {
    EXPECT_FALSE(std::string(e.what()).empty());
    return e.field();
  }
  return "";
}

TEST(CreateBody, AcceptsNameAndPayloadWithDefaults) {
  EXPECT_EQ(parse_create_body("{}"), (json{{"name", "event"}, {"payload", json::object()}}));
  EXPECT_EQ(parse_create_body(R"({"name":"signup","payload":{"a":[1,2]}})"),
            (json{{"name", "signup"}, {"payload", {{"a", {1, 2}}}}}));
}

TEST(CreateBody, RefusesBadInputNamingTheField) {
  EXPECT_EQ(field_of(""), "body");
  EXPECT_EQ(field_of("{"), "body");
  EXPECT_EQ(field_of("[]"), "body");
  EXPECT_EQ(field_of("\"text\""), "body");
  EXPECT_EQ(field_of(R"({"name":1})"), "name");
  EXPECT_EQ(field_of(R"({"name":""})"), "name");
  EXPECT_EQ(field_of(R"({"name":")" + std::string(101, 'a') + "\"}"), "name");
  EXPECT_EQ(field_of(R"({"payload":[1]})"), "payload");
  EXPECT_EQ(field_of(R"({"payload":null})"), "payload");
  EXPECT_EQ(field_of(R"({"word":"x"})"), "word");
}

TEST(Wait, IsADurationAboveZeroUpToTheCap) {
  EXPECT_EQ(parse_wait("5s", 30s), 5s);
  EXPECT_EQ(parse_wait("250ms", 30s), 250ms);
  EXPECT_EQ(parse_wait("30s", 30s), 30s);
  for (const auto* bad : {"31s", "1m", "0s", "soon", "", "-1s"}) {
    try {
      parse_wait(bad, 30s);
      ADD_FAILURE() << bad << " accepted";
    } catch (const FieldError& e) {
      EXPECT_EQ(e.field(), "wait") << bad;
    }
  }
}

TEST(Frame, JsonStaysJsonAndTextStaysText) {
  EXPECT_EQ(frame_data(R"({"a":1})")["payload"], (json{{"a", 1}}));
  EXPECT_EQ(frame_data("hello there")["payload"], "hello there");
  EXPECT_EQ(frame_data("hi")["name"], "message");
}

TEST(Dictionary, TheWordFollowsFromTheIdAlone) {
  const auto path = testing::suite_dir() / "words.txt";
  std::ofstream(path) << "abacaxi\n\n  banana \r\ncaju\nduende\n";
  const auto words = load_dictionary(path);
  ASSERT_EQ(words, (std::vector<std::string>{"abacaxi", "banana", "caju", "duende"}));
  std::set<std::string> used;
  for (int i = 0; i < 200; ++i) {
    const auto id = event::new_id();
    EXPECT_EQ(word_for(words, id), word_for(words, id));
    used.insert(word_for(words, id));
  }
  EXPECT_EQ(used.size(), 4U);  // spread over the list
  EXPECT_THROW(load_dictionary(testing::suite_dir() / "missing.txt"), std::runtime_error);
  std::ofstream(testing::suite_dir() / "empty.txt") << "\n \n";
  EXPECT_THROW(load_dictionary(testing::suite_dir() / "empty.txt"), std::runtime_error);
}

TEST(Dictionary, TheInstalledPortugueseListLoads) {
  const auto words = load_dictionary("/usr/share/dict/brazilian");
  EXPECT_GT(words.size(), 100000U);
  EXPECT_FALSE(word_for(words, "01JDEXAMPLE").empty());
}

// The gateway's frame is the event's structured form, byte for byte what clients got before it
// stopped copying `data`: every attribute, an event without time, and data of any JSON type.
TEST(ClientFrame, IsTheStructuredFormOfTheEvent) {
  const std::vector<event::Envelope> events = {
      {"e1", "t", "2026-12-01T08:15:20Z", "/s", {{"seq", 1}, {"pad", std::string(300, 'x')}}},
      {"e2", "t", "", "/s", json::array({1, "two", nullptr}), {{"subject", "a"}, {"zz", "b"}}},
      {"e3", "t", "2026-12-01T08:15:20.5+01:00", "/s", json("text \u00e9 \"quoted\"")},
      {"e4", "t", "2026-12-01T08:15:20Z", "/s", json::object()},
      {"e5", "t", "2026-12-01T08:15:20Z", "/s", nullptr, {{"aaa", "first"}}},
  };
  for (const auto& e : events) {
    EXPECT_EQ(client_frame(e), event::to_structured(e).dump()) << e.id;
    EXPECT_EQ(event::from_structured(json::parse(client_frame(e))).data, e.data) << e.id;
  }
}

// What a client gets for a Kafka message the slow way: the whole event decoded and dumped.
std::string slow_frame(const std::string& value, const event::Headers& headers) {
  return client_frame(event::from_kafka(value, headers).event);
}

event::Headers binary_headers(std::string content_type = "application/json") {
  event::Headers h = {{"ce_specversion", "1.0"},
                      {"ce_id", "b1"},
                      {"ce_source", "/pipewright/default/events/enrich"},
                      {"ce_type", "pipewright.event.enriched"},
                      {"ce_time", "2026-12-01T08:15:20Z"},
                      {"ce_subject", "caf\u00e9 \"x\""}};
  if (!content_type.empty()) h.emplace_back("content-type", std::move(content_type));
  return h;
}

// The gateway's fast frame (data spliced in, not parsed and dumped) is byte for byte the slow
// one, for structured events with or without a content type, extension attributes of every
// kind, binary-mode events, and data of every JSON type dump() writes back unchanged.
TEST(ClientFrameOf, IsTheSlowFrameByteForByte) {
  const json data = {
      {"seq", 12345},
      {"neg", -7},
      {"zero", 0},
      {"big", 999999999999999999LL},
      {"word", "abacaxi \u00e7\u00e3o \xF0\x9F\x98\x80"},
      {"esc", "quote \" backslash \\ tab \t newline \n\r\b\f"},
      {"list", json::array({1, "two", nullptr, true, false, json::object(), json::array()})},
      {"nested", {{"a", {{"b", {{"c", json::array({json::array({1})})}}}}}}},
      {"pad", std::string(150, 'x')}};
  std::vector<std::pair<std::string, event::Headers>> cases;
  json structured = {{"id", "s1"},
                     {"specversion", "1.0"},
                     {"type", "pipewright.event.enriched"},
                     {"time", "2026-11-23T00:00:00.000Z"},
                     {"source", "bench"},
                     {"data", data}};
  cases.emplace_back(structured.dump(), event::Headers{});  // what bench/events produces
  cases.emplace_back(structured.dump(),
                     event::Headers{{"Content-Type", "application/cloudevents+json"}});
  auto with_attributes = structured;
  with_attributes["aaa"] = "sorts before data";
  with_attributes["count"] = 5;  // an integer extension: a string in the frame
  with_attributes["flag"] = true;
  with_attributes["datacontenttype"] = "application/json";
  with_attributes.erase("time");
  cases.emplace_back(with_attributes.dump(), event::Headers{});
  auto typed = structured;  // written as the frame already is
  typed["datacontenttype"] = "application/json";
  typed["subject"] = "caf\u00e9 \"x\"";
  cases.emplace_back(typed.dump(), event::Headers{});
  typed["datacontenttype"] = "application/json; charset=utf-8";  // the frame says application/json
  cases.emplace_back(typed.dump(), event::Headers{});
  auto untimed = structured;
  untimed["time"] = "";  // to_structured leaves it out
  cases.emplace_back(untimed.dump(), event::Headers{});
  for (const json& d : {json(nullptr), json("just text"), json(42), json::array(), data}) {
    auto s = structured;
    s["data"] = d;
    cases.emplace_back(s.dump(), event::Headers{});
    cases.emplace_back(d.dump(), binary_headers());
  }
  cases.emplace_back(data.dump(), binary_headers(""));  // binary without a content type
  auto upper = binary_headers();
  upper[0].first = "CE_SpecVersion";
  cases.emplace_back(data.dump(), upper);
  for (const auto& [value, headers] : cases) {
    const auto fast = client_frame_of(value, headers);
    ASSERT_TRUE(fast.has_value()) << value;
    EXPECT_EQ(*fast, slow_frame(value, headers)) << value;
  }
}

// Anything the scan cannot vouch for is left to the slow path, which writes it the way dump()
// does, or refuses it (the runtime dead-letters it) exactly as before.
TEST(ClientFrameOf, LeavesWhatItCannotVouchForToTheSlowPath) {
  const auto event_with = [](const std::string& data) {
    return R"({"data":)" + data + R"(,"id":"s1","source":"bench","specversion":"1.0","type":"t"})";
  };
  std::string deep;
  for (int i = 0; i < 40; ++i)
    deep += "[";
  deep += "1";
  for (int i = 0; i < 40; ++i)
    deep += "]";
  // Valid events whose data dump() writes differently: the slow path's frame is correct.
  for (const std::string& data : {std::string("1.50"), std::string("1e3"), std::string("-0"),
                                  std::string("1234567890123456789"), std::string(R"("caf\u00e9")"),
                                  std::string(R"("a\/b")"), std::string(R"({"b":1,"a":2})"),
                                  std::string(R"({"a":1,"a":2})"), std::string(R"({ "a":1})"),
                                  std::string(R"([1, 2])"), std::string(R"({"k\"ey":1})"), deep}) {
    const auto value = event_with(data);
    EXPECT_FALSE(client_frame_of(value, {}).has_value()) << value;
    EXPECT_FALSE(client_frame_of(data, binary_headers()).has_value()) << data;
    EXPECT_NO_THROW(slow_frame(value, {})) << value;
    EXPECT_EQ(json::parse(slow_frame(value, {}))["data"], json::parse(data)) << value;
  }
  EXPECT_FALSE(client_frame_of(event_with("{}") + " ", {}).has_value());  // trailing space
  // Not events, or not valid ones: refused by the slow path as before.
  const std::vector<std::pair<std::string, event::Headers>> refused = {
      {event_with("\"\xC3\x28\""), {}},      // invalid UTF-8
      {event_with("\"\xED\xA0\x80\""), {}},  // a UTF-16 surrogate in UTF-8
      {event_with("\"\xE0\x80\xAF\""), {}},  // overlong
      {event_with("{\"a\":1"), {}},          // cut short
      {R"({"data":{},"id":"s1","source":"bench","specversion":"0.3","type":"t"})", {}},
      {R"({"data":{},"source":"bench","specversion":"1.0","type":"t"})", {}},
      {R"({"data":{},"id":"s1","source":"bench","specversion":"1.0","time":"yesterday","type":"t"})",
       {}},
      {R"({"data":{},"data_base64":"eA==","id":"s1","source":"b","specversion":"1.0","type":"t"})",
       {}},
      {R"({"data":{},"datacontenttype":"text/plain","id":"s1","source":"b","specversion":"1.0","type":"t"})",
       {}},
      {R"({"Bad":"x","data":{},"id":"s1","source":"b","specversion":"1.0","type":"t"})", {}},
      {"{}", binary_headers("text/plain")},
      {"{}", {{"ce_specversion", "1.0"}, {"ce_id", "x"}, {"ce_type", "t"}}},  // no source
      {"[1,2]", {}},                                                          // not an object
  };
  for (const auto& [value, headers] : refused) {
    EXPECT_FALSE(client_frame_of(value, headers).has_value()) << value;
    EXPECT_THROW(slow_frame(value, headers), event::EnvelopeError) << value;
  }
  // A legacy envelope is an event, but not one the fast path decodes.
  const std::string legacy = R"({"data":{},"id":"l1","source":"s","time":"","type":"t"})";
  EXPECT_FALSE(client_frame_of(legacy, {}).has_value());
  EXPECT_FALSE(client_frame_of("", binary_headers()).has_value());  // no data: data is {}
}

// Random documents as dump() writes them: the fast frame, whenever it is given, is the slow
// one, and it is given for all but those with a fraction or a control character.
TEST(ClientFrameOf, RandomDocumentsMatchTheSlowFrame) {
  std::uint64_t state = 42;
  const auto next = [&state](std::uint64_t n) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (state >> 33) % n;
  };
  const std::vector<std::string> pieces = {
      "a", "Z", "\u00e9", "\xF0\x9F\x98\x80", "\"", "\\", "\n", "/", " ", "\x01", "\x7f", "data"};
  const auto text = [&] {
    std::string t;
    for (std::uint64_t i = 0, n = next(6); i < n; ++i)
      t += pieces[next(pieces.size())];
    return t;
  };
  std::function<json(int)> make = [&](int depth) -> json {
    switch (depth > 3 ? next(5) : next(7)) {
      case 0:
        return nullptr;
      case 1:
        return next(2) == 0;
      case 2:
        return static_cast<std::int64_t>(next(2000000)) - 1000000;
      case 3:
        return next(10) == 0 ? json(0.5 * static_cast<double>(next(100))) : json(text());
      case 4:
        return text();
      case 5: {
        json a = json::array();
        for (std::uint64_t i = 0, n = next(4); i < n; ++i)
          a.push_back(make(depth + 1));
        return a;
      }
      default: {
        json o = json::object();
        for (std::uint64_t i = 0, n = next(4); i < n; ++i)
          o[text()] = make(depth + 1);
        return o;
      }
    }
  };
  int fast_ones = 0;
  for (int i = 0; i < 2000; ++i) {
    const json data = make(0);
    const json structured = {{"id", "r" + std::to_string(i)},
                             {"source", "/s"},
                             {"specversion", "1.0"},
                             {"type", "t"},
                             {"data", data}};
    for (const auto& [value, headers] : {std::pair{structured.dump(), event::Headers{}},
                                         std::pair{data.dump(), binary_headers()}}) {
      const auto fast = client_frame_of(value, headers);
      if (!fast) continue;
      ++fast_ones;
      ASSERT_EQ(*fast, slow_frame(value, headers)) << value;
    }
  }
  EXPECT_GT(fast_ones, 2000);  // most of the 4,000 (dump() escapes control characters as \u)
}

// Numbers are canonical when dump() writes their value as the same text: floats included, so
// an order's 12.5 and 25.0 keep the fast paths.
TEST(Canonical, NumbersAreCanonicalWhenDumpWritesThemBack) {
  for (const std::string t :
       {"0", "-7", "123456789012345678", "1.5", "25.0", "-0.0", "0.1", "1e+22", "40000.0",
        "1.2345678901234568e+22", "0.30000000000000004"}) {
    EXPECT_TRUE(event::canonical::whole(t)) << t;
    EXPECT_EQ(json::parse(t).dump(), t);
  }
  for (const std::string t : {"-0", "01", "1.50", "1e3", "1E400", "1e-400", "1.", ".5", "+1",
                              "1234567890123456789", "1.0e2", "2.5E1", "-", "1e", "0x10"}) {
    EXPECT_FALSE(event::canonical::whole(t)) << t;
  }
}

event::Decoded slow_event(const std::string& value, const event::Headers& headers) {
  return event::from_kafka(value, headers);
}

// from_kafka_text decodes what from_kafka decodes, its data the very text of from_kafka's data,
// in every mode (the bench's legacy envelope with floats, binary, structured with or without
// its content type), and leaves to from_kafka every message it would refuse.
TEST(FromKafkaText, IsFromKafkaWithTheDataAsText) {
  const json order = {{"customer", "c-1"},
                      {"id", "o-1"},
                      {"items", {{{"price", 12.5}, {"quantity", 2}, {"sku", "sku-1"}}}},
                      {"receivedAt", "2026-12-01T08:15:20.123Z"},
                      {"total", 25.0}};
  const json legacy = {{"id", "o-1"},
                       {"type", "pipewright.order.created"},
                       {"time", "2026-12-01T08:15:20.123Z"},
                       {"source", "bench/orders/api"},
                       {"data", order}};
  json structured = {{"specversion", "1.0"}, {"id", "s1"},     {"source", "/s"},
                     {"type", "t"},          {"subject", "é"}, {"data", order}};
  auto no_data = structured;
  no_data.erase("data");
  auto legacy_no_data = legacy;
  legacy_no_data.erase("data");
  auto extension = structured;
  extension["count"] = 5;
  const std::vector<std::pair<std::string, event::Headers>> cases = {
      {legacy.dump(), {}},
      {legacy_no_data.dump(), {}},
      {structured.dump(), {}},
      {structured.dump(), {{"Content-Type", "application/cloudevents+json"}}},
      {no_data.dump(), {}},
      {extension.dump(), {}},
      {order.dump(), binary_headers()},
      {"", binary_headers()},
      {"[1,\"x\",null]", binary_headers("")},
      {"\"text\"", binary_headers("application/json; charset=utf-8")},
      // The old envelope read from its members: escaped attributes (left to the document),
      // members it does not read, a time it does not check, a content type that is not
      // structured, no data.
      {R"({"data":[1],"id":"a\"b","source":"s\\t","time":"","type":"t\n"})", {}},
      {R"({"a":{"b":null},"data":"x","id":"é","source":"","time":"later","type":"","z":2})", {}},
      {R"({"data":{},"id":"x","source":"s","time":"t","type":"t"})",
       {{"Content-Type", "text/plain"}}},
      {R"({"id":"x","source":"s","time":"t","type":"t"})", {}},
  };
  for (const auto& [value, headers] : cases) {
    const auto fast = event::from_kafka_text(value, headers);
    ASSERT_TRUE(fast.has_value()) << value;
    const auto slow = slow_event(value, headers);
    EXPECT_EQ(fast->mode, slow.mode) << value;
    EXPECT_EQ(fast->event.id, slow.event.id);
    EXPECT_EQ(fast->event.type, slow.event.type);
    EXPECT_EQ(fast->event.time, slow.event.time);
    EXPECT_EQ(fast->event.source, slow.event.source);
    EXPECT_EQ(fast->event.attributes, slow.event.attributes);
    EXPECT_EQ(json::parse(fast->data), slow.event.data) << value;
    EXPECT_EQ(slow.event.data.dump(), fast->data) << value;
  }
  const std::vector<std::pair<std::string, event::Headers>> refused = {
      {R"({"data":{},"id":"","source":"s","time":"","type":"t"})", {}},  // empty id
      {R"({"data":{},"id":"x","source":"s","type":"t"})", {}},           // no time
      {R"({"data":{},"id":"x","source":"s","time":5,"type":"t"})", {}},  // time no string
      {R"({"data":{},"id":"x","source":null,"time":"t","type":"t"})", {}},
      {R"({"data":{},"id":"","source":"s","time":"t","type":"t"})", {}},
      {R"({"data":{},"id":"x","source":"s","specversion":1,"time":"t","type":"t"})", {}},
      {R"({"data":{},"id":"s1","source":"b","specversion":"0.3","type":"t"})", {}},
      {R"({"data":{},"id":"s1","source":"b","specversion":"1.0","time":"no","type":"t"})", {}},
      {R"({"Bad":"x","data":{},"id":"s1","source":"b","specversion":"1.0","type":"t"})", {}},
      {R"({"data":{},"id":"s1","source":"b","specversion":"1.0","type":"t","x":1.5})", {}},
      {"{}", binary_headers("text/plain")},
      {"{}", {{"ce_specversion", "1.0"}, {"ce_id", "x"}, {"ce_type", "t"}}},  // no source
      {"{}", {{"content-type", "application/cloudevents-batch+json"}}},
      {"[1,2]", {}},
      {"{\"a\":", binary_headers()},
  };
  for (const auto& [value, headers] : refused) {
    EXPECT_FALSE(event::from_kafka_text(value, headers).has_value()) << value;
    EXPECT_THROW(slow_event(value, headers), event::EnvelopeError) << value;
  }
  // Valid events whose data dump() writes otherwise: from_kafka decodes them.
  for (const std::string data : {R"({"b":1,"a":2})", "1e3", R"({ "a":1})", R"("caf\u00e9")"}) {
    EXPECT_FALSE(event::from_kafka_text(data, binary_headers()).has_value()) << data;
    EXPECT_NO_THROW(slow_event(data, binary_headers()));
  }
}

// Unchecked, the data's text is the member's or the value's as it is: the same answer as
// checked wherever that answers, and an answer too for data dump() writes otherwise (indented,
// unsorted, escaped, brackets and quotes inside strings) and for data that is no JSON at all,
// which from_kafka refuses. Attributes are still checked; data nested deeper than the
// canonical scan goes is left to from_kafka.
TEST(FromKafkaText, UncheckedDataIsTheTextAsTheMessageHasIt) {
  const auto legacy = [](const std::string& data) {
    return R"({"data":)" + data + R"(,"id":"o-1","source":"/s","time":"2026-12-01T08:15:20Z",)" +
           R"("type":"t"})";
  };
  const std::vector<std::string> datas = {R"({"a":1})",
                                          R"({"b":1,"a":2})",
                                          R"( { "a" : [ 1 , 2 ] } )",
                                          R"("caf\u00e9")",
                                          "1e3",
                                          R"({"s":"}]\"{["})",
                                          R"([[[],{}],"\\"])",
                                          "-0",
                                          "true",
                                          R"({"a":1,"a":2})",
                                          std::string(31, '[') + std::string(31, ']')};
  for (const auto& data : datas) {
    for (const auto& [value, headers] :
         {std::pair{legacy(data), event::Headers{}}, std::pair{data, binary_headers()}}) {
      const auto raw = event::from_kafka_text(value, headers, event::DataText::unchecked);
      ASSERT_TRUE(raw.has_value()) << value;
      EXPECT_EQ(json::parse(raw->data), slow_event(value, headers).event.data) << value;
      EXPECT_EQ(raw->event.id, slow_event(value, headers).event.id);
      if (const auto checked = event::from_kafka_text(value, headers)) {
        EXPECT_EQ(checked->data, raw->data);
      }
    }
  }
  for (const std::string data : {R"({"a":tru})", R"({"a":1,})", "[1 2]", R"({"a":"x)"}) {
    for (const auto& [value, headers] :
         {std::pair{legacy(data), event::Headers{}}, std::pair{data, binary_headers()}}) {
      const auto raw = event::from_kafka_text(value, headers, event::DataText::unchecked);
      EXPECT_THROW(slow_event(value, headers), event::EnvelopeError) << value;
      if (raw) {
        EXPECT_FALSE(json::accept(raw->data)) << value;  // the step's parser refuses it
      }
    }
  }
  const std::string deep = std::string(32, '[') + std::string(32, ']');
  EXPECT_FALSE(event::from_kafka_text(legacy(deep), event::Headers{}, event::DataText::unchecked));
  EXPECT_NO_THROW(slow_event(legacy(deep), {}));
  // The attributes are checked as ever, and the rest of the value must be canonical.
  for (const std::string value :
       {R"({"data":{},"id":"","source":"s","time":"","type":"t"})",
        R"({"data":{},"id":"s1","source":"b","specversion":"0.3","type":"t"})",
        R"({"data":{}, "id":"x","source":"s","time":"t","type":"t"})"}) {
    EXPECT_FALSE(event::from_kafka_text(value, event::Headers{}, event::DataText::unchecked))
        << value;
  }
  EXPECT_FALSE(
      event::from_kafka_text("{}", binary_headers("text/plain"), event::DataText::unchecked));
}

// Binary-mode headers are read where they are (event::HeaderView, as the runtime passes a
// consumed message's): the same event as from_kafka for repeated headers (the first counts),
// names in upper case, extension attributes and the attributes it skips, and nothing for every
// header from_kafka refuses.
TEST(FromKafkaText, BinaryHeadersInPlaceAreFromKafka) {
  using H = event::Headers;
  auto views_of = [](const H& headers) {
    std::vector<event::HeaderView> views;
    for (const auto& [name, value] : headers)
      views.push_back({name, value});
    return views;
  };
  auto with = [](H extra) {
    auto h = binary_headers();
    h.insert(h.end(), extra.begin(), extra.end());
    return h;
  };
  auto first = [](H extra) {
    auto h = binary_headers();
    h.insert(h.begin(), extra.begin(), extra.end());
    return h;
  };
  const std::vector<H> accepted = {
      binary_headers(),
      binary_headers(""),
      binary_headers("application/cloudevents+json; charset=utf-8"),
      binary_headers(" Application/JSON ; charset=utf-8"),
      with({{"ce_id", "second"}, {"ce_count", "5"}, {"ce_count", "6"}}),
      first({{"ce_id", "first"}, {"ce_time", ""}}),
      with({{"ce_datacontenttype", "text/plain"}, {"x-other", "y"}, {"ce_z9", ""}}),
      with({{"CE_ID", "upper"}, {"Ce_Extra", "e"}, {"ce_Bad", "lowered"}}),
      first({{"CE_ID", "upper first"}}),
      {{"content-type", "application/json"},
       {"ce_type", "t"},
       {"ce_source", "/s"},
       {"ce_id", "i"},
       {"ce_specversion", "1.0"}},
  };
  for (const auto& headers : accepted) {
    const auto views = views_of(headers);
    const auto fast = event::from_kafka_text("{\"a\":1}", views);
    ASSERT_TRUE(fast.has_value()) << json(headers).dump();
    const auto slow = slow_event("{\"a\":1}", headers);
    EXPECT_EQ(fast->mode, slow.mode);
    EXPECT_EQ(fast->event.id, slow.event.id) << json(headers).dump();
    EXPECT_EQ(fast->event.type, slow.event.type);
    EXPECT_EQ(fast->event.time, slow.event.time);
    EXPECT_EQ(fast->event.source, slow.event.source);
    EXPECT_EQ(fast->event.attributes, slow.event.attributes) << json(headers).dump();
    EXPECT_EQ(fast->data, "{\"a\":1}");
  }
  const std::vector<H> refused = {
      with({{"ce_b-d", "x"}}),
      with({{"ce_", "x"}}),
      with({{"ce_waytoolongattributename", "x"}}),
      first({{"ce_specversion", "0.3"}}),
      first({{"ce_id", ""}}),
      first({{"ce_time", "yesterday"}}),
      first({{"content-type", "text/plain"}}),
      {{"ce_specversion", "1.0"}, {"ce_id", "x"}, {"ce_type", "t"}},
      {{"ce_specversion", "1.0"}, {"ce_source", "/s"}, {"ce_type", "t"}},
      {{"ce_specversion", "1.0"}, {"ce_id", "x"}, {"ce_source", "/s"}},
  };
  for (const auto& headers : refused) {
    const auto views = views_of(headers);
    EXPECT_FALSE(event::from_kafka_text("{}", views).has_value()) << json(headers).dump();
    EXPECT_THROW(slow_event("{}", headers), event::EnvelopeError) << json(headers).dump();
  }
}

// enrich's spliced data is the document's dump byte for byte: a word inserted before, after
// or between keys, one replaced, data that is no object wrapped, words that need escaping.
TEST(EnrichedData, TheTextIsTheDocumentsDump) {
  const std::vector<std::string> datas = {
      "{}",
      R"({"name":"plain","payload":{}})",
      R"({"a":1,"z":2})",
      R"({"word":"old"})",
      R"({"a":[1,{"word":2}],"word":{"x":1},"zz":null})",
      R"({"wordy":1,"wor":2})",
      R"({"wor":2,"wordy":1})",
      R"({"customer":"c","items":[{"price":12.5}],"total":25.0})",
      "null",
      "\"text\"",
      "42",
      "-0.5",
      "[1,2]",
      "true",
  };
  const std::vector<std::string> words = {"aportarás", "abacaxi", "a\"b", "back\\slash",
                                          "tab\t",     "\x01",    "",     "\xF0\x9F\x98\x80"};
  for (const auto& data : datas) {
    for (const auto& word : words) {
      const auto fast = enriched_data_text(data, word);
      if (data == R"({"wordy":1,"wor":2})") {  // unsorted: not canonical
        EXPECT_FALSE(fast.has_value());
        continue;
      }
      ASSERT_TRUE(fast.has_value()) << data;
      EXPECT_EQ(*fast, enriched_data(json::parse(data), word).dump()) << data << " " << word;
    }
  }
  // A word that is not UTF-8 fails as dump() fails (the runtime retries, then dead-letters).
  EXPECT_THROW(enriched_data_text("{}", "\xC3\x28"), json::type_error);
  EXPECT_THROW(enriched_data(json::object(), "\xC3\x28").dump(), json::type_error);
}

// The same over random documents as dump() writes them (floats included).
TEST(EnrichedData, RandomDocumentsMatchTheDump) {
  std::uint64_t state = 7;
  const auto next = [&state](std::uint64_t n) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (state >> 33) % n;
  };
  const std::vector<std::string> keys = {"a", "word", "wordz", "wor", "payload", "\u00e9", "Z"};
  std::function<json(int)> make = [&](int depth) -> json {
    switch (depth > 2 ? next(4) : next(6)) {
      case 0:
        return nullptr;
      case 1:
        return static_cast<double>(next(100000)) / static_cast<double>(1 + next(64));
      case 2:
        return static_cast<std::int64_t>(next(2000)) - 1000;
      case 3:
        return keys[next(keys.size())];
      case 4:
        return json::array({make(depth + 1), make(depth + 1)});
      default: {
        json o = json::object();
        for (std::uint64_t i = 0, n = next(5); i < n; ++i)
          o[keys[next(keys.size())]] = make(depth + 1);
        return o;
      }
    }
  };
  int fast_ones = 0;
  for (int i = 0; i < 3000; ++i) {
    const json data = make(0);
    const auto fast = enriched_data_text(data.dump(), "palavra");
    if (!fast) continue;
    ++fast_ones;
    ASSERT_EQ(*fast, enriched_data(data, "palavra").dump()) << data.dump();
  }
  EXPECT_EQ(fast_ones, 3000);  // every dump() is canonical text
}

// config.topic names an input by its logical name (the manifest's) or its Kafka name, from the
// wiring the plan wrote, not by guessing from the Kafka name: a topic with its own topicName
// is found by its logical name too.
TEST(GatewayTopic, FindsAnInputByItsLogicalOrKafkaName) {
  runtime::Wiring w;
  w.inputs = {"demo.events.enriched", "legacy-feed"};
  w.input_topics = {{"enriched", "demo.events.enriched"}, {"feed", "legacy-feed"}};
  EXPECT_EQ(gateway_topic(w, "enriched"), "demo.events.enriched");
  EXPECT_EQ(gateway_topic(w, "feed"), "legacy-feed");
  EXPECT_EQ(gateway_topic(w, "demo.events.enriched"), "demo.events.enriched");
  EXPECT_EQ(gateway_topic(w, "legacy-feed"), "legacy-feed");
  try {
    gateway_topic(w, "events");  // a suffix of nothing, and "events.enriched" is no name either
    ADD_FAILURE() << "no error";
  } catch (const runtime::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("enriched (demo.events.enriched), feed (legacy-feed)"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(gateway_topic(w, "events.enriched"), runtime::ConfigError);
  EXPECT_THROW(gateway_topic(w, ""), runtime::ConfigError);  // two inputs: say which

  runtime::Wiring one;
  one.inputs = {"ns.p.only"};
  one.input_topics = {{"only", "ns.p.only"}};
  EXPECT_EQ(gateway_topic(one, ""), "ns.p.only");
  EXPECT_EQ(gateway_topic(one, "only"), "ns.p.only");
  // A name that maps to a topic the step does not consume is not an input.
  one.input_topics["other"] = "ns.p.other";
  EXPECT_THROW(gateway_topic(one, "other"), runtime::ConfigError);
}

}  // namespace
}  // namespace pipewright::workers::events
