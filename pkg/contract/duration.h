#pragma once
// The one duration rule, shared by the manifest's validation (pkg/api), the CRDs' pattern
// (kDurationPattern, compared by tests/unit/contract_test.cpp) and the worker's wiring (pkg/runtime
// reads the same values from PIPEWRIGHT_* variables), so `pipewright validate` accepts exactly
// what the API server and a worker accept. No regex: a manifest's value may be any length
// (std::regex recursed once per character and overflowed the stack on 100,000 digits).

#include <chrono>
#include <cstddef>
#include <optional>
#include <string_view>

namespace pipewright::contract {

inline constexpr std::size_t kMaxDurationDigits = 9;
// The longest duration text: 9 digits and "ms" (the CRDs' maxLength).
inline constexpr std::size_t kMaxDurationLength = kMaxDurationDigits + 2;
inline constexpr std::string_view kDurationPattern = "^[0-9]{1,9}(ms|s|m|h)$";
inline constexpr std::string_view kDurationRule =
    "a duration such as 200ms, 30s or 5m (1 to 9 digits, then ms, s, m or h)";

// "200ms", "30s", "5m", "2h": 1 to 9 decimal digits, then the unit; nullopt for anything else.
inline std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  std::size_t digits = 0;
  long long n = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
    if (digits == kMaxDurationDigits) return std::nullopt;
    n = n * 10 + (text[digits] - '0');
    ++digits;
  }
  if (digits == 0) return std::nullopt;
  const std::string_view unit = text.substr(digits);
  long long factor = 0;
  if (unit == "ms") {
    factor = 1;
  } else if (unit == "s") {
    factor = 1000;
  } else if (unit == "m") {
    factor = 60'000;
  } else if (unit == "h") {
    factor = 3'600'000;
  } else {
    return std::nullopt;
  }
  return std::chrono::milliseconds(n * factor);  // at most 999999999h: fits in 64 bits
}

}  // namespace pipewright::contract
