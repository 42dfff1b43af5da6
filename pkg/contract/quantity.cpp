#include "pkg/contract/quantity.h"

#include <array>
#include <cctype>
#include <regex>
#include <utility>
#include <vector>

namespace pipewright::contract {
namespace {
// Exabytes times a mantissa overflow 64 bits; __extension__ keeps -Wpedantic quiet.
__extension__ typedef __int128 Big;
}  // namespace

std::string canonical_quantity(const std::string& quantity) {
  std::size_t i = 0;
  Big mantissa = 0;
  int fraction_digits = 0;
  bool seen_point = false;
  for (; i < quantity.size(); ++i) {
    const char c = quantity[i];
    if (c == '.' && !seen_point) {
      seen_point = true;
    } else if (std::isdigit(static_cast<unsigned char>(c)) != 0) {
      mantissa = mantissa * 10 + (c - '0');
      fraction_digits += seen_point ? 1 : 0;
      if (mantissa > (static_cast<Big>(1) << 100)) return quantity;
    } else {
      break;
    }
  }
  const std::string suffix = quantity.substr(i);
  static const std::array<std::pair<const char*, int>, 6> binary = {
      {{"Ki", 1}, {"Mi", 2}, {"Gi", 3}, {"Ti", 4}, {"Pi", 5}, {"Ei", 6}}};
  static const std::array<std::pair<const char*, int>, 7> decimal = {
      {{"", 0}, {"k", 1}, {"M", 2}, {"G", 3}, {"T", 4}, {"P", 5}, {"E", 6}}};
  Big divisor = 1;
  for (int d = 0; d < fraction_digits; ++d)
    divisor *= 10;

  auto format = [&](Big value, const auto& suffixes, Big step) {
    std::size_t best = 0;
    Big unit = 1;
    for (std::size_t s = 1; s < suffixes.size(); ++s) {
      unit *= step;
      if (value % unit == 0) best = s;
    }
    Big scaled = value;
    for (std::size_t s = 0; s < best; ++s)
      scaled /= step;
    std::string digits;
    do {
      digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(scaled % 10)));
      scaled /= 10;
    } while (scaled > 0);
    return digits + suffixes[best].first;
  };

  for (const auto& [name, power] : binary) {
    if (suffix != name) continue;
    Big bytes = mantissa;
    for (int p = 0; p < power; ++p)
      bytes *= 1024;
    if (bytes % divisor != 0) return quantity;
    bytes /= divisor;
    // Binary in, binary out; an amount no binary suffix divides is written in plain bytes.
    std::array<std::pair<const char*, int>, 7> with_bytes = {{{"", 0}}};
    for (std::size_t s = 0; s < binary.size(); ++s)
      with_bytes[s + 1] = binary[s];
    return format(bytes, with_bytes, 1024);
  }
  for (const auto& [name, power] : decimal) {
    if (suffix != name) continue;
    Big value = mantissa;
    for (int p = 0; p < power * 3; ++p)
      value *= 10;
    if (value % divisor != 0) return quantity;
    return format(value / divisor, decimal, 1000);
  }
  return quantity;
}

namespace {
const std::regex& resource_regex() {
  static const std::regex re{std::string(kResourceQuantityPattern)};
  return re;
}
const std::regex& storage_regex() {
  static const std::regex re{std::string(kStorageSizePattern)};
  return re;
}
}  // namespace

// std::regex recurses per character: a value from a manifest meets one only once its length is
// known to be small.
bool is_resource_quantity(const std::string& text) {
  return text.size() <= kMaxQuantityLength && std::regex_match(text, resource_regex());
}

bool is_storage_size(const std::string& text) {
  return text.size() <= kMaxQuantityLength && std::regex_match(text, storage_regex());
}

double quantity_value(const std::string& q) {
  static const std::vector<std::pair<std::string, double>> kSuffixes = {
      {"Ki", 1024.0},
      {"Mi", 1048576.0},
      {"Gi", 1073741824.0},
      {"Ti", 1099511627776.0},
      {"Pi", 1125899906842624.0},
      {"Ei", 1152921504606846976.0},
      {"m", 1e-3},
      {"k", 1e3},
      {"M", 1e6},
      {"G", 1e9},
      {"T", 1e12},
      {"P", 1e15},
      {"E", 1e18}};
  std::size_t end = 0;
  const double number = std::stod(q, &end);  // also reads an exponent such as 1e3
  const auto suffix = q.substr(end);
  for (const auto& [s, factor] : kSuffixes) {
    if (suffix == s) return number * factor;
  }
  return number;
}

}  // namespace pipewright::contract
