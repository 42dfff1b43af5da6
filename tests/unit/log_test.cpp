#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "pkg/log/log.h"
#include "pkg/units/backoff.h"
#include "pkg/units/rfc3339.h"

namespace pipewright::log {
namespace {

TEST(Log, OneJsonObjectPerLineWithFields) {
  const auto line =
      format_line(Level::warn, "topic created", {{"topic", "demo.images"}, {"partitions", 3}});
  EXPECT_EQ(line.find('\n'), std::string::npos);
  const auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["level"], "warn");
  EXPECT_EQ(j["msg"], "topic created");
  EXPECT_EQ(j["topic"], "demo.images");
  EXPECT_EQ(j["partitions"], 3);
  EXPECT_EQ(j["time"].get<std::string>().back(), 'Z');
}

TEST(Log, FieldsCannotOverwriteTheReservedKeys) {
  const auto j = nlohmann::json::parse(
      format_line(Level::info, "real", {{"msg", "fake"}, {"level", "error"}}));
  EXPECT_EQ(j["msg"], "real");
  EXPECT_EQ(j["level"], "info");
}

TEST(Log, InvalidUtf8IsReplacedNotThrown) {
  const std::string bad = "file \xff\xfe.jpg";
  std::string line;
  ASSERT_NO_THROW(line = format_line(Level::error, bad, {{"name", bad}}));
  EXPECT_TRUE(nlohmann::json::accept(line)) << line;
}

}  // namespace
}  // namespace pipewright::log

// The one RFC 3339 formatter, at each precision its users need: logs/CloudEvents (ms), status
// conditions and dead-letter listings (s), Lease renewals (µs); times before 1970 count down.
TEST(Rfc3339, FormatsEachPrecisionInUtc) {
  using pipewright::units::Precision;
  using pipewright::units::rfc3339;
  using pipewright::units::rfc3339_from_ms;
  EXPECT_EQ(rfc3339_from_ms(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(rfc3339_from_ms(1700000000123), "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(rfc3339_from_ms(1700000000999, Precision::seconds), "2023-11-14T22:13:20Z");
  EXPECT_EQ(
      rfc3339(std::chrono::system_clock::time_point(std::chrono::microseconds(1700000000000042)),
              Precision::microseconds),
      "2023-11-14T22:13:20.000042Z");
  EXPECT_EQ(rfc3339_from_ms(-1), "1969-12-31T23:59:59.999Z");
}

// The one retry policy: doubling from initial, capped at max, jitter within its fraction.
TEST(Backoff, DoublesUpToItsCapAndJittersWithinItsFraction) {
  using pipewright::units::exponential_backoff;
  using std::chrono::milliseconds;
  EXPECT_EQ(exponential_backoff(milliseconds(200), milliseconds(30000), 1), milliseconds(200));
  EXPECT_EQ(exponential_backoff(milliseconds(200), milliseconds(30000), 3), milliseconds(800));
  EXPECT_EQ(exponential_backoff(milliseconds(200), milliseconds(30000), 1000), milliseconds(30000));
  EXPECT_EQ(exponential_backoff(milliseconds(500), milliseconds(100), 4), milliseconds(500));
  pipewright::units::Backoff b(milliseconds(1000), milliseconds(4000), 0.2);
  for (const long expected : {1000L, 2000L, 4000L, 4000L}) {
    const auto wait = b.next().count();
    EXPECT_GE(wait, expected * 8 / 10);
    EXPECT_LE(wait, expected * 12 / 10);
  }
  b.reset();
  EXPECT_LE(b.next().count(), 1200);
}
