#include "pkg/dlq/dlq.h"

#include <charconv>
#include <ctime>
#include <set>
#include <stdexcept>
#include <utility>

#include "pkg/json/limited.h"
#include "pkg/kafka/topic_reader.h"

namespace pipewright::dlq {
namespace {

constexpr std::size_t kMaxLetters = 1000000;  // a dead-letter topic larger than this is refused
constexpr std::size_t kBatch = 500;           // letters per transaction
constexpr auto kTimeout = std::chrono::seconds(60);

std::string header(const kafka::InMessage& m, std::string_view key) {
  for (const auto& h : m.headers)
    if (h.key == key) return h.value;
  return {};
}

bool has_header(const kafka::InMessage& m, std::string_view key) {
  for (const auto& h : m.headers)
    if (h.key == key) return true;
  return false;
}

std::string where(const kafka::InMessage& m) {
  return std::to_string(m.partition) + "/" + std::to_string(m.offset);
}

// Reads digits [pos, pos+n) as a number; false when they are not all digits.
bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  const auto* first = s.data() + pos;
  const auto [end, ec] = std::from_chars(first, first + n, out);
  return ec == std::errc() && end == first + n;
}

std::optional<std::int64_t> parse_rfc3339(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SS[.fff][Z|±HH:MM]
  std::tm tm{};
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (s.size() < 20 || !digits(s, 0, 4, year) || s[4] != '-' || !digits(s, 5, 2, month) ||
      s[7] != '-' || !digits(s, 8, 2, day) || (s[10] != 'T' && s[10] != 't') ||
      !digits(s, 11, 2, hour) || s[13] != ':' || !digits(s, 14, 2, minute) || s[16] != ':' ||
      !digits(s, 17, 2, second))
    return std::nullopt;
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60)
    return std::nullopt;
  std::size_t pos = 19;
  std::int64_t millis = 0;
  if (pos < s.size() && s[pos] == '.') {
    std::int64_t scale = 100;
    ++pos;
    const std::size_t start = pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      millis += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start || pos - start > 9) return std::nullopt;
  }
  std::int64_t offset_s = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh = 0, om = 0;
    if (!digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !digits(s, pos + 4, 2, om) || oh > 23 || om > 59)
      return std::nullopt;
    offset_s = static_cast<std::int64_t>(s[pos] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  const std::int64_t utc = timegm(&tm);
  return (utc - offset_s) * 1000 + millis;
}

std::optional<std::int64_t> parse_ago(std::string_view s,
                                      std::chrono::system_clock::time_point now) {
  if (s.size() < 2 || s.size() > 12) return std::nullopt;
  std::int64_t n = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size() - 1, n);
  if (ec != std::errc() || end != s.data() + s.size() - 1 || n < 0) return std::nullopt;
  std::int64_t unit = 0;
  switch (s.back()) {
    case 's':
      unit = 1000;
      break;
    case 'm':
      unit = 60'000;
      break;
    case 'h':
      unit = 3'600'000;
      break;
    case 'd':
      unit = 86'400'000;
      break;
    default:
      return std::nullopt;
  }
  const auto now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  return now_ms - n * unit;
}

}  // namespace

std::optional<std::int64_t> parse_time(std::string_view text,
                                       std::chrono::system_clock::time_point now) {
  if (auto t = parse_rfc3339(text)) return t;
  return parse_ago(text, now);
}

std::vector<Letter> letters(const std::vector<kafka::InMessage>& messages) {
  std::set<std::string> replayed;
  for (const auto& m : messages)
    if (has_header(m, kReplayedHeader)) replayed.insert(header(m, kReplayedHeader));
  std::vector<Letter> out;
  for (const auto& m : messages) {
    if (has_header(m, kReplayedHeader)) continue;
    Letter l;
    l.message = m;
    l.error = header(m, kErrorHeader);
    const auto attempt = header(m, kAttemptHeader);
    std::from_chars(attempt.data(), attempt.data() + attempt.size(), l.attempt);
    l.source = header(m, kSourceHeader);
    // "topic/partition/offset": topic names cannot hold '/'.
    l.source_topic = l.source.substr(0, l.source.find('/'));
    l.id = header(m, "ce_id");
    l.type = header(m, "ce_type");
    if (l.id.empty() || l.type.empty()) {
      // The JSON envelope of earlier versions carries both in the value.
      if (auto doc = json::try_parse(m.value); doc && doc->is_object()) {
        if (l.id.empty() && doc->contains("id") && (*doc)["id"].is_string())
          l.id = (*doc)["id"].get<std::string>();
        if (l.type.empty() && doc->contains("type") && (*doc)["type"].is_string())
          l.type = (*doc)["type"].get<std::string>();
      }
    }
    l.replayed = replayed.contains(where(m));
    out.push_back(std::move(l));
  }
  return out;
}

bool selected(const Letter& l, const Selection& s) {
  if (!s.ids.empty()) {
    bool any = false;
    for (const auto& id : s.ids)
      any = any || id == l.id;
    if (!any) return false;
  }
  if (s.since_ms && l.message.timestamp_ms < *s.since_ms) return false;
  if (s.until_ms && l.message.timestamp_ms > *s.until_ms) return false;
  if (!s.error.empty() && l.error.find(s.error) == std::string::npos) return false;
  return true;
}

kafka::OutMessage replay_message(const Letter& l) {
  if (l.source_topic.empty())
    throw std::invalid_argument("dead letter " + where(l.message) + " names no source topic (" +
                                std::string(kSourceHeader) + " header)");
  kafka::OutMessage out{l.source_topic, l.message.key, l.message.value, {}};
  for (const auto& h : l.message.headers) {
    if (h.key == kAttemptHeader || h.key == kErrorHeader || h.key == kSourceHeader ||
        h.key == kReplayOfHeader)
      continue;
    out.headers.push_back(h);
  }
  out.headers.push_back({std::string(kReplayOfHeader), l.message.topic + "/" + where(l.message)});
  return out;
}

kafka::OutMessage marker(const Letter& l) {
  return {l.message.topic, l.message.key, "", {{std::string(kReplayedHeader), where(l.message)}}};
}

nlohmann::json to_json(const Letter& l, bool with_message) {
  nlohmann::json j = {{"topic", l.message.topic},
                      {"partition", l.message.partition},
                      {"offset", l.message.offset},
                      {"timestamp_ms", l.message.timestamp_ms},
                      {"id", l.id},
                      {"type", l.type},
                      {"key", l.message.key},
                      {"attempt", l.attempt},
                      {"error", l.error},
                      {"source", l.source},
                      {"replayed", l.replayed}};
  if (with_message) {
    auto headers = nlohmann::json::object();
    for (const auto& h : l.message.headers)
      headers[h.key] = h.value;
    j["headers"] = headers;
    // Values are shown as text when they are valid UTF-8 JSON or text; JSON's dump replaces
    // invalid bytes instead of failing.
    j["value"] = l.message.value;
  }
  return j;
}

std::vector<Letter> read(const kafka::Properties& properties, const std::string& dlq_topic) {
  return letters(kafka::read_topic(properties, dlq_topic, kTimeout, kMaxLetters));
}

ReplayReport replay(const kafka::Properties& properties, const std::string& dlq_topic,
                    const Selection& selection, bool dry_run) {
  // Fence first, read second: an earlier replay's open transaction is finished or aborted before
  // we read the markers, and a later one fences us before it reads, so no letter goes twice.
  std::unique_ptr<kafka::TransactionalProducer> producer;
  if (!dry_run)
    producer = kafka::make_transactional_producer(properties, "pipewright-dlq-replay." + dlq_topic,
                                                  kTimeout);
  ReplayReport report;
  std::vector<Letter> todo;
  for (auto& l : read(properties, dlq_topic)) {
    if (!selected(l, selection)) continue;
    if (l.replayed) {
      ++report.already_replayed;
      continue;
    }
    replay_message(l);  // refuses a letter without a source before anything is written
    todo.push_back(std::move(l));
  }
  for (std::size_t i = 0; i < todo.size(); i += kBatch) {
    const auto end = std::min(todo.size(), i + kBatch);
    if (!dry_run) {
      std::vector<kafka::OutMessage> batch;
      for (std::size_t j = i; j < end; ++j) {
        batch.push_back(replay_message(todo[j]));
        batch.push_back(marker(todo[j]));
      }
      producer->send_atomically(batch, kTimeout);
    }
    for (std::size_t j = i; j < end; ++j)
      report.replayed.push_back(todo[j]);
  }
  return report;
}

}  // namespace pipewright::dlq
