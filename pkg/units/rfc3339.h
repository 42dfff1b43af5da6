#pragma once
// The one RFC 3339 formatter (UTC, "Z"): log lines, CloudEvent times and orders' timestamps in
// milliseconds, status conditions and dead-letter listings in seconds (metav1.Time), Lease
// renewals in microseconds (metav1.MicroTime).

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <string>

namespace pipewright::units {

enum class Precision { seconds, milliseconds, microseconds };

inline std::string rfc3339(std::chrono::system_clock::time_point t,
                           Precision precision = Precision::milliseconds) {
  const auto us =
      std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  std::int64_t seconds = us / 1'000'000;
  std::int64_t fraction = us % 1'000'000;
  if (fraction < 0) {  // before 1970: the second is the one below, the fraction counts up
    fraction += 1'000'000;
    --seconds;
  }
  const auto whole = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&whole, &tm);
  char buf[80];
  int n = std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                        tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  if (precision == Precision::milliseconds)
    n += std::snprintf(buf + n, sizeof buf - static_cast<std::size_t>(n), ".%03d",
                       static_cast<int>(fraction / 1000));
  else if (precision == Precision::microseconds)
    n += std::snprintf(buf + n, sizeof buf - static_cast<std::size_t>(n), ".%06d",
                       static_cast<int>(fraction));
  return std::string(buf, static_cast<std::size_t>(n)) + "Z";
}

// From Kafka's and the stores' epoch milliseconds.
inline std::string rfc3339_from_ms(std::int64_t epoch_ms,
                                   Precision precision = Precision::milliseconds) {
  return rfc3339(std::chrono::system_clock::time_point(std::chrono::milliseconds(epoch_ms)),
                 precision);
}

}  // namespace pipewright::units
