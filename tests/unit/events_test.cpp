// The pure parts of the events pipeline: what POST /events accepts, `wait`, /produce frames and
// enrich's choice of a word.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

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
