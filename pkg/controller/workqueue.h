#pragma once
// The controller's work queue, after client-go's: a key is queued at most once; a key added
// while it is being processed is processed again afterwards (never twice at once); failures
// come back after a per-key exponential backoff; delayed adds wait in a timer heap.

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <queue>
#include <set>
#include <string>
#include <vector>

namespace pipewright::controller {

class WorkQueue {
 public:
  using Clock = std::chrono::steady_clock;
  explicit WorkQueue(std::chrono::milliseconds base_delay = std::chrono::milliseconds(200),
                     std::chrono::milliseconds max_delay = std::chrono::minutes(5));

  void add(const std::string& key);
  void add_after(const std::string& key, std::chrono::milliseconds delay);
  // Backoff for this key: base * 2^(failures so far), capped.
  void add_rate_limited(const std::string& key);
  // The key succeeded: its next failure starts from the base delay again.
  void forget(const std::string& key);
  int failures(const std::string& key) const;

  // Blocks until a key is ready, the timeout passes (nullopt) or shutdown (nullopt).
  std::optional<std::string> get(std::chrono::milliseconds timeout);
  // The caller finished with a key it got.
  void done(const std::string& key);

  void shutdown();
  std::size_t depth() const;

 private:
  void add_locked(const std::string& key);
  void promote_due_locked(Clock::time_point now);

  const std::chrono::milliseconds base_delay_, max_delay_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  std::set<std::string> queued_, processing_, dirty_;
  std::map<std::string, int> failures_;
  using Timed = std::pair<Clock::time_point, std::string>;
  std::priority_queue<Timed, std::vector<Timed>, std::greater<>> waiting_;
  std::map<std::string, Clock::time_point> waiting_at_;  // the one live entry per key
  bool shutdown_ = false;
};

}  // namespace pipewright::controller
