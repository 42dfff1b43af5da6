#include <gtest/gtest.h>

#include "pkg/dlq/dlq.h"

namespace pipewright::dlq {
namespace {

using std::chrono::system_clock;

kafka::InMessage letter(int offset, const std::string& id, const std::string& error,
                        std::int64_t ts, bool cloudevent) {
  kafka::InMessage m;
  m.topic = "demo.mail.notifications.dlq";
  m.partition = 0;
  m.offset = offset;
  m.key = "key-" + id;
  m.timestamp_ms = ts;
  if (cloudevent) {
    m.value = R"({"file":"a.jpg"})";
    m.headers = {{"ce_id", id}, {"ce_type", "image.rotated"}, {"ce_specversion", "1.0"}};
  } else {
    m.value = R"({"id":")" + id + R"(","type":"image.rotated","data":{}})";
    m.headers = {{"ce_type", "image.rotated"}};
  }
  m.headers.push_back({"pipewright-attempt", "5"});
  m.headers.push_back({"pipewright-error", error});
  m.headers.push_back({"pipewright-source", "demo.mail.notifications/2/" + std::to_string(offset)});
  return m;
}

TEST(DeadLetters, ReadsTheRuntimesHeadersInBothMessageFormats) {
  const auto ls = letters({letter(0, "e1", "smtp: connection refused", 1000, true),
                           letter(1, "e2", "not JSON", 2000, false)});
  ASSERT_EQ(ls.size(), 2u);
  EXPECT_EQ(ls[0].id, "e1");
  EXPECT_EQ(ls[0].type, "image.rotated");
  EXPECT_EQ(ls[0].attempt, 5);
  EXPECT_EQ(ls[0].error, "smtp: connection refused");
  EXPECT_EQ(ls[0].source_topic, "demo.mail.notifications");
  EXPECT_EQ(ls[1].id, "e2");  // from the JSON envelope of earlier versions
  EXPECT_FALSE(ls[0].replayed);
}

TEST(DeadLetters, AMarkerMakesItsLetterReplayedAndIsNoLetterItself) {
  const auto first = letters({letter(0, "e1", "x", 1, true), letter(1, "e2", "x", 1, true)});
  const auto m = marker(first[1]);
  EXPECT_EQ(m.topic, "demo.mail.notifications.dlq");
  EXPECT_TRUE(m.value.empty());
  auto messages =
      std::vector<kafka::InMessage>{letter(0, "e1", "x", 1, true), letter(1, "e2", "x", 1, true)};
  kafka::InMessage read_back;
  read_back.topic = m.topic;
  read_back.offset = 2;
  read_back.headers = m.headers;
  messages.push_back(read_back);
  const auto after = letters(messages);
  ASSERT_EQ(after.size(), 2u);
  EXPECT_FALSE(after[0].replayed);
  EXPECT_TRUE(after[1].replayed);
}

TEST(DeadLetters, AReplayIsTheOriginalMessageWithoutTheDeadLetterHeaders) {
  const auto l = letters({letter(7, "e1", "boom", 1, true)})[0];
  const auto out = replay_message(l);
  EXPECT_EQ(out.topic, "demo.mail.notifications");
  EXPECT_EQ(out.key, "key-e1");
  EXPECT_EQ(out.value, l.message.value);
  std::map<std::string, std::string> h;
  for (const auto& x : out.headers)
    h[x.key] = x.value;
  EXPECT_EQ(h.at("ce_id"), "e1");
  EXPECT_EQ(h.at("ce_type"), "image.rotated");
  EXPECT_EQ(h.at("pipewright-replay-of"), "demo.mail.notifications.dlq/0/7");
  EXPECT_FALSE(h.contains("pipewright-error") || h.contains("pipewright-attempt") ||
               h.contains("pipewright-source"));
  auto no_source = l;
  no_source.source_topic.clear();
  EXPECT_THROW(replay_message(no_source), std::invalid_argument);
}

TEST(DeadLetters, SelectionByIdTimeAndErrorCombine) {
  const auto ls = letters({letter(0, "e1", "smtp 451 try later", 1000, true),
                           letter(1, "e2", "smtp 550 no such user", 2000, true),
                           letter(2, "e3", "smtp 451 try later", 3000, true)});
  auto count = [&](const Selection& s) {
    int n = 0;
    for (const auto& l : ls)
      n += selected(l, s) ? 1 : 0;
    return n;
  };
  Selection all, two, busy, late_busy, range, nobody;
  all.all = true;
  two.ids = {"e2", "e3"};
  busy.error = "451";
  late_busy.since_ms = 1500;
  late_busy.error = "451";
  range.since_ms = 1000;
  range.until_ms = 2000;
  nobody.ids = {"nope"};
  EXPECT_EQ(count(all), 3);
  EXPECT_EQ(count(two), 2);
  EXPECT_EQ(count(busy), 2);
  EXPECT_EQ(count(late_busy), 1);
  EXPECT_EQ(count(range), 2);
  EXPECT_EQ(count(nobody), 0);
  EXPECT_TRUE(Selection{}.empty());
  EXPECT_FALSE(all.empty());
}

TEST(DeadLetters, TimesAreRfc3339OrADurationAgo) {
  const auto now = system_clock::time_point(std::chrono::seconds(1'800'000'000));
  EXPECT_EQ(parse_time("2026-12-01T10:00:00Z", now), 1'796'119'200'000);
  EXPECT_EQ(parse_time("2026-12-01T10:00:00.250Z", now), 1'796'119'200'250);
  EXPECT_EQ(parse_time("2026-12-01T12:00:00+02:00", now), 1'796'119'200'000);
  EXPECT_EQ(parse_time("30m", now), 1'800'000'000'000 - 1'800'000);
  EXPECT_EQ(parse_time("2d", now), 1'800'000'000'000 - 172'800'000);
  for (const char* bad : {"", "yesterday", "2026-13-01T00:00:00Z", "2026-12-01 10:00:00",
                          "2026-12-01T10:00:00", "10x", "m", "-5m", "99999999999999d"})
    EXPECT_FALSE(parse_time(bad, now)) << bad;
}

}  // namespace
}  // namespace pipewright::dlq
