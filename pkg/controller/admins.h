#pragma once
// Kafka admin clients kept open between reconciles, one per connection key (the bootstrap
// servers a Pipeline names). Bounded: a key is only a string in a tenant's spec, so every
// distinct one would otherwise keep a librdkafka client (its threads and sockets) for ever.
// The least recently used client goes when the cap is reached, and any client unused for
// `idle` goes on the next lookup. Callers hold a shared_ptr, so a client evicted while a
// reconcile still uses it closes when that reconcile is done with it.

#include <chrono>
#include <cstddef>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "pkg/kafka/admin.h"

namespace pipewright::controller {

class AdminCache {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  using Factory = std::function<std::unique_ptr<kafka::TopicAdmin>(const std::string& key)>;

  AdminCache(
      std::size_t capacity, std::chrono::milliseconds idle, Factory make,
      Clock now = [] { return std::chrono::steady_clock::now(); });

  // The client for `key`, made on first use. Throws what the factory throws (nothing cached).
  std::shared_ptr<kafka::TopicAdmin> get(const std::string& key) { return get(key, make_); }
  // The same, made by `make` (a key whose client needs more than the key, e.g. a Secret's
  // settings read at this lookup).
  std::shared_ptr<kafka::TopicAdmin> get(const std::string& key, const Factory& make);
  std::size_t size() const;

 private:
  struct Entry {
    std::string key;
    std::shared_ptr<kafka::TopicAdmin> admin;
    std::chrono::steady_clock::time_point used;
  };
  void evict_idle(std::chrono::steady_clock::time_point now,
                  std::vector<std::shared_ptr<kafka::TopicAdmin>>& gone);
  void evict_last(std::vector<std::shared_ptr<kafka::TopicAdmin>>& gone);

  const std::size_t capacity_;
  const std::chrono::milliseconds idle_;
  Factory make_;
  Clock now_;
  mutable std::mutex mutex_;
  std::list<Entry> lru_;  // most recently used first
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
};

}  // namespace pipewright::controller
