#include "pkg/event/envelope.h"

#include <array>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <mutex>
#include <random>
#include "pkg/json/limited.h"

namespace pipewright::event {

std::string to_json(const Envelope& e) {
  return nlohmann::json{
      {"id", e.id}, {"type", e.type}, {"time", e.time}, {"source", e.source}, {"data", e.data}}
      .dump();
}

Envelope parse(const std::string& text) {
  nlohmann::json j;
  try {
    j = json::parse(text);  // nesting bounded: the envelope comes from anyone's message
  } catch (const json::ParseError& ex) {
    throw EnvelopeError(std::string("not JSON: ") + ex.what());
  }
  if (!j.is_object()) throw EnvelopeError("the envelope is not a JSON object");
  Envelope e;
  for (auto [field, target] : {std::pair{"id", &e.id}, std::pair{"type", &e.type},
                               std::pair{"time", &e.time}, std::pair{"source", &e.source}}) {
    const auto it = j.find(field);
    if (it == j.end() || !it->is_string()) {
      throw EnvelopeError(std::string("envelope field '") + field + "' must be a string");
    }
    *target = it->get<std::string>();
  }
  if (e.id.empty()) throw EnvelopeError("envelope field 'id' is empty");
  e.data = j.value("data", nlohmann::json::object());
  return e;
}

std::string new_id() {
  static constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  static std::mutex mutex;
  static std::mt19937_64 random{std::random_device{}()};
  const auto ms =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
  std::uint64_t r1 = 0, r2 = 0;
  {
    std::lock_guard lock(mutex);
    r1 = random();
    r2 = random();
  }
  std::string id(26, '0');
  // 48 bits of time in 10 characters, then 80 random bits in 16.
  for (int i = 9; i >= 0; --i)
    id[static_cast<std::size_t>(i)] = kAlphabet[(ms >> (5 * (9 - i))) & 31U];
  for (std::size_t i = 0; i < 16; ++i) {
    const std::uint64_t source = i < 12 ? r1 >> (5 * i) : r2 >> (5 * (i - 12));
    id[10 + i] = kAlphabet[source & 31U];
  }
  return id;
}

std::string now_rfc3339() {
  const auto now = std::chrono::system_clock::now();
  const auto t = std::chrono::system_clock::to_time_t(now);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::array<char, 40> buf{};
  const auto n = std::strftime(buf.data(), buf.size(), "%Y-%m-%dT%H:%M:%S", &tm);
  std::array<char, 8> frac{};
  std::snprintf(frac.data(), frac.size(), ".%03dZ", static_cast<int>(ms));
  return std::string(buf.data(), n) + frac.data();
}

Envelope make(std::string type, std::string source, nlohmann::json data) {
  return {new_id(), std::move(type), now_rfc3339(), std::move(source), std::move(data)};
}

}  // namespace pipewright::event
