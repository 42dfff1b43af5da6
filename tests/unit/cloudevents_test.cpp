// CloudEvents 1.0 in pkg/event: what we write (Kafka binary mode, HTTP binary mode, the JSON
// event format) and what we read (both modes on both bindings, and the old envelope), with
// the reasons a message is refused. The official SDKs check the same against real Kafka and
// HTTP in tests/integration/cloudevents_test.cpp.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "pkg/event/envelope.h"
#include "pkg/runtime/runtime.h"

namespace pipewright {
namespace {

using event::EnvelopeError;
using event::Headers;
using event::Mode;
using nlohmann::json;
using ::testing::HasSubstr;

std::map<std::string, std::string> as_map(const Headers& h) {
  std::map<std::string, std::string> m;
  for (const auto& [k, v] : h)
    m[k] = v;
  return m;
}

// The field an EnvelopeError names, with its message checked for `text`.
std::string refused(std::string_view value, const Headers& headers, const std::string& text = "") {
  try {
    event::from_kafka(value, headers);
  } catch (const EnvelopeError& e) {
    EXPECT_THAT(e.what(), HasSubstr(text));
    return e.field();
  }
  ADD_FAILURE() << "accepted: " << value;
  return "";
}

const Headers kBinary = {{"ce_specversion", "1.0"},
                         {"ce_id", "A-1"},
                         {"ce_source", "/crm/signup"},
                         {"ce_type", "com.example.signup"},
                         {"content-type", "application/json"}};

TEST(CloudEventsWrite, KafkaBinaryModeHasTheRequiredAttributesAsHeadersAndDataAsValue) {
  const event::Envelope e{"01J.rotate", "pipewright.image.processed", "2026-12-01T08:00:00.000Z",
                          "/pipewright/demo/images/rotate", json{{"file", "a.jpg"}}};
  const auto h = as_map(event::kafka_headers(e));
  EXPECT_EQ(h.at("ce_specversion"), "1.0");
  EXPECT_EQ(h.at("ce_id"), "01J.rotate");
  EXPECT_EQ(h.at("ce_source"), "/pipewright/demo/images/rotate");
  EXPECT_EQ(h.at("ce_type"), "pipewright.image.processed");
  EXPECT_EQ(h.at("ce_time"), "2026-12-01T08:00:00.000Z");
  EXPECT_EQ(h.at("content-type"), "application/json");
  EXPECT_EQ(h.size(), 6U);
  EXPECT_EQ(json::parse(event::kafka_value(e)), (json{{"file", "a.jpg"}}));
  EXPECT_TRUE(event::valid_rfc3339(event::make("t", "/s", {}).time));
}

TEST(CloudEventsWrite, TheStructuredFormHasTheOldEnvelopeFieldsToo) {
  const event::Envelope e{
      "1", "t", "2026-12-01T08:00:00Z", "/s", json{{"a", 1}}, {{"subject", "x"}}};
  const auto j = event::to_structured(e);
  EXPECT_EQ(j["specversion"], "1.0");
  EXPECT_EQ(j["datacontenttype"], "application/json");
  EXPECT_EQ(j["subject"], "x");
  for (const auto* field : {"id", "type", "time", "source", "data"})
    EXPECT_TRUE(j.contains(field)) << field;
  const auto back = event::from_structured(j);
  EXPECT_EQ(back.attributes.at("subject"), "x");
  EXPECT_EQ(back.data, e.data);
}

TEST(CloudEventsRead, BinaryModeFromAnotherProducer) {
  auto headers = kBinary;
  headers.emplace_back("ce_time", "2026-12-01T09:15:20.123456+01:00");
  headers.emplace_back("ce_traceparent", "00-abc-def-01");
  headers.emplace_back("pipewright-attempt", "2");  // not an attribute: ignored
  const auto d = event::from_kafka(R"({"name":"signup"})", headers);
  EXPECT_EQ(d.mode, Mode::binary);
  EXPECT_EQ(d.event.id, "A-1");
  EXPECT_EQ(d.event.source, "/crm/signup");
  EXPECT_EQ(d.event.type, "com.example.signup");
  EXPECT_EQ(d.event.data["name"], "signup");
  EXPECT_EQ(d.event.attributes.at("traceparent"), "00-abc-def-01");
  EXPECT_EQ(d.event.attributes.size(), 1U);
}

TEST(CloudEventsRead, HeaderNamesInAnyCaseAndNoDataAreFine) {
  const auto d = event::from_kafka(
      "", {{"CE_SPECVERSION", "1.0"}, {"ce_id", "1"}, {"Ce_Source", "s"}, {"ce_type", "t"}});
  EXPECT_EQ(d.event.source, "s");
  EXPECT_EQ(d.event.data, json::object());
}

TEST(CloudEventsRead, StructuredModeWithOrWithoutItsContentType) {
  const std::string value =
      R"({"specversion":"1.0","id":"9","source":"urn:x","type":"t","time":"2026-12-01T08:00:00Z",)"
      R"("datacontenttype":"application/json","myext":"v","count":3,"data":{"k":[1,2]}})";
  for (const Headers& h :
       {Headers{{"content-type", "application/cloudevents+json; charset=UTF-8"}}, Headers{}}) {
    const auto d = event::from_kafka(value, h);
    EXPECT_EQ(d.mode, Mode::structured);
    EXPECT_EQ(d.event.id, "9");
    EXPECT_EQ(d.event.data["k"][1], 2);
    EXPECT_EQ(d.event.attributes.at("myext"), "v");
    EXPECT_EQ(d.event.attributes.at("count"), "3");
  }
}

TEST(CloudEventsRead, TheOldEnvelopeIsStillRead) {
  const auto d = event::from_kafka(
      R"({"id":"01J","type":"pipewright.order.created","time":"2026-11-30T10:00:00.000Z",)"
      R"("source":"demo/orders/orders-api","data":{"total":3}})",
      {{"ce_type", "pipewright.order.created"}});
  EXPECT_EQ(d.mode, Mode::legacy);
  EXPECT_EQ(d.event.id, "01J");
  EXPECT_EQ(d.event.data["total"], 3);
}

TEST(CloudEventsRead, WhatIsNotACloudEventIsRefusedWithTheReason) {
  EXPECT_EQ(refused("hello", {}, "not a CloudEvent"), "value");
  EXPECT_EQ(refused(R"({"a":1})", {}, "nor a Pipewright envelope"), "id");
  auto h = kBinary;
  h[2] = {"ce_source", ""};
  EXPECT_EQ(refused("{}", h, "ce_source"), "ce_source");
  h = kBinary;
  h[0] = {"ce_specversion", "0.3"};
  EXPECT_EQ(refused("{}", h, "not supported"), "ce_specversion");
  h = kBinary;
  h.emplace_back("ce_time", "yesterday");
  EXPECT_EQ(refused("{}", h, "RFC 3339"), "ce_time");
  h = kBinary;
  h.emplace_back("ce_Bad_Name", "x");
  EXPECT_EQ(refused("{}", h, "a-z and 0-9"), "ce_bad_name");
  h = kBinary;
  h.emplace_back("ce_averyveryverylongname", "x");  // 21 characters
  EXPECT_EQ(refused("{}", h, "1 to 20"), "ce_averyveryverylongname");
  EXPECT_EQ(refused("{not json", kBinary, "not JSON"), "value");
  h = kBinary;
  h[4] = {"content-type", "image/png"};
  EXPECT_EQ(refused("\x89PNG", h, "image/png"), "value");
  EXPECT_EQ(refused(std::string(100, '[') + std::string(100, ']'), kBinary, "deeper"), "value");
  const Headers structured{{"content-type", "application/cloudevents+json"}};
  EXPECT_EQ(refused(R"({"specversion":"1.0","id":"1","source":"s"})", structured, "type"), "type");
  EXPECT_EQ(
      refused(R"({"specversion":"1.0","id":"1","source":"s","type":"t","data_base64":"AA=="})",
              structured, "data_base64"),
      "data_base64");
  EXPECT_EQ(refused(R"({"specversion":"1.0","id":1,"source":"s","type":"t"})", structured,
                    "must be a string"),
            "id");
  EXPECT_EQ(refused("[]", {{"content-type", "application/cloudevents-batch+json"}}, "batch"),
            "content-type");
}

// With several faults the one named is the first of: specversion, id, source, type, time, an
// extension's name, the content type, the value; whatever order the headers come in.
TEST(CloudEventsRead, OfSeveralFaultsTheFirstInTheAttributesOrderIsNamed) {
  const Headers all_wrong = {{"content-type", "image/png"},
                             {"ce_bad-name", "x"},
                             {"ce_time", "yesterday"},
                             {"ce_type", ""},
                             {"ce_source", ""},
                             {"ce_id", ""},
                             {"ce_specversion", "0.3"}};
  const std::vector<std::string> order = {"ce_specversion", "ce_id",       "ce_source", "ce_type",
                                          "ce_time",        "ce_bad-name", "value"};
  auto h = all_wrong;
  for (const auto& expected : order) {
    EXPECT_EQ(refused("{not json", h), expected);
    // mend the fault just named; the next one is named then
    for (auto& [k, v] : h) {
      if (k != expected && !(expected == "value" && k == "content-type")) continue;
      if (k == "ce_specversion") v = "1.0";
      if (k == "ce_id" || k == "ce_source" || k == "ce_type") v = "x";
      if (k == "ce_time") v = "2026-12-02T10:00:00Z";
      if (k == "ce_bad-name") k = "ce_goodname";
      if (k == "content-type") v = "application/json";
    }
  }
  EXPECT_EQ(refused("{not json", h, "not JSON"), "value");
  EXPECT_NO_THROW(event::from_kafka("{}", h));
  std::map<std::string, std::string> http{{"ce-specversion", "1%2E0"}, {"ce-id", "%41"},
                                          {"ce-source", "/s"},         {"ce-type", "t"},
                                          {"ce-x", "a%20b"},           {"ce-bad_", "x"}};
  try {
    event::from_http(http, "{}");
    ADD_FAILURE() << "accepted a bad attribute name";
  } catch (const EnvelopeError& e) {
    EXPECT_EQ(e.field(), "ce-bad_");
  }
  http.erase("ce-bad_");
  const auto d = event::from_http(http, "{}");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->event.id, "A");  // every header is percent-decoded, specversion too
  EXPECT_EQ(d->event.attributes.at("x"), "a b");
}

TEST(CloudEventsRead, TheRuntimeMakesARefusalAPermanentError) {
  kafka::InMessage m;
  m.value = "plain text";
  EXPECT_THROW(runtime::read_event(m), runtime::PermanentError);
  m.value = "{}";
  for (const auto& [k, v] : kBinary)
    m.headers.push_back({k, v});
  EXPECT_EQ(runtime::read_event(m).id, "A-1");
}

TEST(CloudEventsHttp, BinaryAndStructuredRequestsAreEventsAndOthersAreNot) {
  std::map<std::string, std::string> binary{{"ce-specversion", "1.0"},
                                            {"ce-id", "a%20b"},
                                            {"ce-source", "/x"},
                                            {"ce-type", "t"},
                                            {"content-type", "application/json"}};
  const auto b = event::from_http(binary, R"({"name":"n"})");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->mode, Mode::binary);
  EXPECT_EQ(b->event.id, "a b");  // percent-decoded, as the HTTP binding says
  EXPECT_EQ(b->event.data["name"], "n");
  const auto s = event::from_http(
      {{"content-type", "application/cloudevents+json"}},
      R"({"specversion":"1.0","id":"1","source":"/x","type":"t","data":{"name":"n"}})");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->mode, Mode::structured);
  EXPECT_EQ(s->event.data["name"], "n");
  EXPECT_FALSE(event::from_http({{"content-type", "application/json"}}, "{}"));
  binary.erase("ce-type");
  EXPECT_THROW(event::from_http(binary, "{}"), EnvelopeError);
}

TEST(CloudEventsHttp, OutgoingHeadersArePercentEncodedWhereTheBindingSaysSo) {
  const event::Envelope e{
      "id 1", "t", "2026-12-01T08:00:00Z", "/s", json::object(), {{"note", "50% \"off\" é"}}};
  const auto h = event::http_headers(e);
  EXPECT_EQ(h.at("ce-id"), "id%201");
  EXPECT_EQ(h.at("ce-note"), "50%25%20%22off%22%20%C3%A9");
  EXPECT_EQ(h.at("Content-Type"), "application/json");
  std::map<std::string, std::string> lower;  // as pkg/http hands headers to a handler
  for (const auto& [k, v] : h)
    lower[k == "Content-Type" ? "content-type" : k] = v;
  const auto back = event::from_http(lower, "{}");
  ASSERT_TRUE(back);
  EXPECT_EQ(back->event.id, "id 1");
  EXPECT_EQ(back->event.attributes.at("note"), "50% \"off\" é");
}

TEST(CloudEventsNames, AttributeNamesAndTimesFollowTheSpec) {
  EXPECT_TRUE(event::valid_attribute_name("pipewrightattempt"));
  EXPECT_TRUE(event::valid_attribute_name("a1"));
  EXPECT_FALSE(event::valid_attribute_name(""));
  EXPECT_FALSE(event::valid_attribute_name("pipewright-attempt"));
  EXPECT_FALSE(event::valid_attribute_name("Upper"));
  EXPECT_FALSE(event::valid_attribute_name(std::string(21, 'a')));
  for (const auto* name :
       {runtime::kAttemptAttribute, runtime::kErrorAttribute, runtime::kOriginAttribute}) {
    EXPECT_TRUE(event::valid_attribute_name(name)) << name;
  }
  for (const auto* good :
       {"2026-12-01T08:15:20Z", "2026-12-01t08:15:20.5z", "2026-12-01T08:15:20.123456789-03:00"}) {
    EXPECT_TRUE(event::valid_rfc3339(good)) << good;
  }
  for (const auto* bad :
       {"2026-12-01", "2026-12-01 08:15:20Z", "2026-13-01T08:15:20Z", "2026-12-01T08:15:20",
        "2026-12-01T08:15:20.Z", "2026-12-01T08:15:20+0100"}) {
    EXPECT_FALSE(event::valid_rfc3339(bad)) << bad;
  }
}

}  // namespace
}  // namespace pipewright
