#pragma once
// Dead letters of a step (`pipewright dlq`): what a dead-letter topic holds, which letters a
// user selects, and their replay to the topic they came from — exactly once. A replay writes
// the original message (key, value, headers other than the dead-letter ones) to its source
// topic and, in the same Kafka transaction, a marker into the dead-letter topic that names the
// letter; a letter with a marker is never replayed again, and the transactional id fences a
// second replay running at the same time.

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pkg/kafka/client.h"

namespace pipewright::dlq {

// The runtime's dead-letter headers (pkg/runtime) and the replay marker's.
inline constexpr std::string_view kAttemptHeader = "pipewright-attempt";
inline constexpr std::string_view kErrorHeader = "pipewright-error";
inline constexpr std::string_view kSourceHeader = "pipewright-source";  // topic/partition/offset
inline constexpr std::string_view kReplayedHeader = "pipewright-replayed";  // partition/offset
inline constexpr std::string_view kReplayOfHeader = "pipewright-replay-of";

struct Letter {
  kafka::InMessage message;  // as read from the dead-letter topic
  std::string id, type;      // the event's (CloudEvents header or JSON envelope), or empty
  std::string error;
  int attempt = 0;
  std::string source;  // "topic/partition/offset" of the failed input
  std::string source_topic;
  bool replayed = false;
};

// Which letters: every given filter must hold; `all` alone selects everything.
struct Selection {
  std::vector<std::string> ids;
  std::optional<std::int64_t> since_ms, until_ms;  // Kafka timestamps of the dead letters
  std::string error;                               // a substring of the error
  bool all = false;

  [[nodiscard]] bool empty() const {
    return ids.empty() && !since_ms && !until_ms && error.empty() && !all;
  }
};

// A time for --since/--until: RFC 3339 ("2026-12-01T10:00:00Z", offsets and fractions allowed)
// or a duration back from `now` ("90s", "30m", "2h", "7d"). nullopt when it is neither.
std::optional<std::int64_t> parse_time(std::string_view text,
                                       std::chrono::system_clock::time_point now);

// The letters of a dead-letter topic's messages; replay markers are folded into `replayed`.
std::vector<Letter> letters(const std::vector<kafka::InMessage>& messages);

bool selected(const Letter& letter, const Selection& selection);

// What a replay writes back: the original message to its source topic, and the marker.
// Throws std::invalid_argument when the letter names no source topic.
kafka::OutMessage replay_message(const Letter& letter);
kafka::OutMessage marker(const Letter& letter);

nlohmann::json to_json(const Letter& letter, bool with_message);

// Reads a dead-letter topic (read_committed, from its start to its end).
std::vector<Letter> read(const kafka::Properties& properties, const std::string& dlq_topic);

struct ReplayReport {
  std::vector<Letter> replayed;      // in this run
  std::size_t already_replayed = 0;  // selected, but replayed by an earlier run
};

// Replays the selected letters not replayed before, in batches of one transaction each.
// dry_run: reports what would be replayed and writes nothing. Throws kafka::KafkaError.
ReplayReport replay(const kafka::Properties& properties, const std::string& dlq_topic,
                    const Selection& selection, bool dry_run);

}  // namespace pipewright::dlq
