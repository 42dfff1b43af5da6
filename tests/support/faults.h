#pragma once
// What the fault tests share: a load that keeps sending while a fault happens (remembering what
// was accepted), a reader of everything a topic holds, and the checker that counts, per accepted
// message, lost outputs and repeated side effects.

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/workers.h"

namespace pipewright::testing {

// Per accepted id, how often its output or side effect was seen.
struct DeliveryCount {
  std::string what;            // "enriched events", "e-mails", ...
  std::size_t accepted = 0;    // distinct ids accepted (2xx, or acknowledged on an input topic)
  std::size_t delivered = 0;   // of those, seen at least once
  std::size_t lost = 0;        // of those, never seen
  std::size_t duplicated = 0;  // of those, seen more than once
  std::size_t extra = 0;       // sightings beyond the first, summed
  std::vector<std::string> lost_ids, duplicated_ids;  // the first few, for the message
  std::string summary() const;
};

// `seen` holds one entry per sighting (an id may repeat); ids in it that were never accepted are
// ignored (a request that timed out on the client may still have gone through).
DeliveryCount count_delivery(const std::string& what, const std::vector<std::string>& accepted,
                             const std::vector<std::string>& seen);

// Prints the count as one line (the tests' report) and records it as a test property.
void report(const DeliveryCount& count);

// Calls `send(n)` for n = 0, 1, 2, ... from `threads` threads, `pause` apart per thread, until
// stop(). `send` returns the accepted message's id, or nothing when it was refused or the
// request failed (counted, not fatal: faults make requests fail).
class Load {
 public:
  using Send = std::function<std::optional<std::string>(int n)>;
  Load(Send send, int threads, std::chrono::milliseconds pause);
  ~Load();
  Load(const Load&) = delete;
  Load& operator=(const Load&) = delete;

  void stop();
  std::vector<std::string> accepted() const;
  std::size_t accepted_count() const;
  int refused() const { return refused_.load(); }
  // Waits until `more` ids beyond those accepted now are accepted; false at the deadline.
  bool wait_more(std::size_t more, std::chrono::milliseconds timeout) const;

 private:
  Send send_;
  std::atomic<bool> stop_{false};
  std::atomic<int> next_{0}, refused_{0};
  mutable std::mutex mutex_;
  std::vector<std::string> accepted_;
  std::vector<std::thread> threads_;
};

// Every message a topic holds now: reads each partition from its start up to the high watermark
// it had when called. Throws when that is not done within `timeout`.
std::vector<ConsumedMessage> read_all(const std::string& bootstrap, const std::string& topic,
                                      std::chrono::milliseconds timeout = std::chrono::seconds(30));

// The CloudEvent id of each message (messages that are not events are skipped).
std::vector<std::string> event_ids(const std::vector<ConsumedMessage>& messages);

// Polls `topic` until every id of `ids` is among its events' ids or `timeout` passes; returns
// the messages read last.
std::vector<ConsumedMessage> wait_for_events(const std::string& bootstrap, const std::string& topic,
                                             const std::vector<std::string>& ids,
                                             std::chrono::milliseconds timeout);

// Produces each message (key, value, headers) to `topic` with an idempotent acks=all producer
// and waits for every acknowledgement; throws when one is refused.
void produce(const std::string& bootstrap, const std::string& topic,
             const std::vector<ConsumedMessage>& messages);

}  // namespace pipewright::testing
