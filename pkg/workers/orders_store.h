#pragma once
// The orders pipeline's state kept by its workers, each in memory and, when the step has
// storage, in an append-only JSON-lines file replayed at start:
//   OrderStore — orders-api: every accepted order and its latest status (idempotent ids).
//   JsonLines  — an append-only file: fsync on sync(), a torn last line
//                (a crash mid-write) cut off at open; read_json_lines reads one.
//   AuditLog   — audit: every consumed message once per (topic, partition, offset).

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "pkg/kafka/client.h"

namespace pipewright::workers::orders {

// Reads an append-only JSON-lines file that a writer may be appending to: calls `each` with
// every complete line, parsed (discarded when it is not JSON), and its 1-based number; stops at
// an unterminated last line. Returns the bytes of the complete lines. A missing file has none.
std::uintmax_t read_json_lines(const std::filesystem::path& file,
                               const std::function<void(nlohmann::json, std::size_t)>& each);

class JsonLines {
 public:
  // `file` empty: nothing is written. Calls `each` for every complete line already there.
  // `flush_each`: every append reaches the OS at once (survives the process dying); otherwise
  // lines are buffered until sync(), for callers that sync before committing what they read.
  JsonLines(const std::filesystem::path& file, const std::function<void(nlohmann::json)>& each,
            bool flush_each = true);
  ~JsonLines();
  JsonLines(const JsonLines&) = delete;
  JsonLines& operator=(const JsonLines&) = delete;

  void append(const nlohmann::json& line);  // throws on failure
  void append_text(std::string_view line);  // a line already written as JSON, without its \n
  void sync();                              // flush and fsync: durable across power loss

 private:
  std::FILE* file_ = nullptr;
  bool flush_each_ = true;
  std::filesystem::path path_;
};

class OrderStore {
 public:
  // Keeps the newest `max_orders` orders (memory grows per request): past it the oldest one not
  // being published is forgotten (GET answers 404 for it, its id may be used again).
  explicit OrderStore(const std::filesystem::path& file, std::size_t max_orders = 200'000);

  enum class Claim { fresh, same, conflict, pending, full };
  // Reserves `id` for `order` (validated, with its id): fresh when unknown (the caller then
  // publishes and calls accept or release), same when the same order was accepted before,
  // conflict when the id holds another order, pending while another request publishes it (after
  // waiting until `wait_until` for that one's outcome), full when every kept order is pending.
  Claim claim(const std::string& id, const nlohmann::json& order,
              std::chrono::steady_clock::time_point wait_until = {});
  void accept(const std::string& id, const std::string& received_at);
  void release(const std::string& id);
  // A final status learnt from the pipeline (valid, rejected with reasons); `order` fills an
  // order this store does not know (accepted before a restart without storage).
  void settle(const std::string& id, const std::string& status, const nlohmann::json& reasons,
              const nlohmann::json& order);
  // {id, status, customer, items, total, receivedAt, reasons?}; nullopt when unknown.
  std::optional<nlohmann::json> get(const std::string& id) const;
  void sync() { lines_->sync(); }

 private:
  struct Entry {
    nlohmann::json order;
    std::string status = "received";
    nlohmann::json reasons;
    bool pending = false;
    std::uint64_t seq = 0;  // its place in age_
  };
  void apply(const nlohmann::json& line);
  // The entry for `id`, made (and the oldest evicted past max_orders_) when missing; null when
  // full of pending entries. Under mutex_.
  Entry* entry(const std::string& id);

  mutable std::mutex mutex_;
  std::condition_variable settled_;  // a pending entry was accepted or released
  std::size_t max_orders_;
  std::uint64_t seq_ = 0;
  std::deque<std::pair<std::uint64_t, std::string>> age_;  // oldest first; stale pairs skipped
  std::unordered_map<std::string, Entry> orders_;
  std::unique_ptr<JsonLines> lines_;
};

class AuditLog {
 public:
  // Replays `file` (created when missing): the newest `keep` entries per topic, and of all
  // topics no more than about `max_bytes` (messages may be large), are served by latest(); every
  // (topic, partition) remembers its highest logged offset.
  explicit AuditLog(const std::filesystem::path& file, std::size_t keep = 10000,
                    std::size_t max_bytes = std::size_t{256} << 20);

  // Appends the message; false (nothing written) when its offset was logged already.
  bool append(const kafka::InMessage& message);
  void sync() { lines_->sync(); }
  // The last `limit` entries, oldest first, of topics named `topic` (the Kafka name, or its
  // last dot-separated part such as "orders-valid"); every topic when empty.
  nlohmann::json latest(const std::string& topic, std::size_t limit) const;
  std::size_t size() const;

 private:
  struct Entry {
    std::uint64_t seq;
    nlohmann::json entry;
    std::size_t bytes;  // about what it takes in memory
  };
  void remember(nlohmann::json entry, std::size_t bytes);

  mutable std::mutex mutex_;
  std::size_t keep_;
  std::size_t max_bytes_;
  std::size_t bytes_ = 0;
  std::uint64_t seq_ = 0;
  std::map<std::string, std::int64_t> max_offset_;  // "topic/partition" -> offset
  std::map<std::string, std::deque<Entry>> recent_;
  std::unique_ptr<JsonLines> lines_;
};

// Epoch milliseconds as RFC 3339 UTC with milliseconds.
std::string rfc3339_ms(std::int64_t epoch_ms);

}  // namespace pipewright::workers::orders
