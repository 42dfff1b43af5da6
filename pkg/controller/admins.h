#pragma once
// Kafka clients kept open between reconciles, one per connection key (the bootstrap servers a
// Pipeline names): admin clients for topics, offset readers for lag. Bounded: a key is only a
// string in a tenant's spec, so every distinct one would otherwise keep a librdkafka client (its
// threads and sockets) for ever. The least recently used client goes when the cap is reached,
// and any client unused for `idle` goes on the next lookup. Callers hold a shared_ptr, so a
// client evicted while a reconcile still uses it closes when that reconcile is done with it.

#include <algorithm>
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

template <class Client>
class ClientCache {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  using Factory = std::function<std::unique_ptr<Client>(const std::string& key)>;

  ClientCache(
      std::size_t capacity, std::chrono::milliseconds idle, Factory make,
      Clock now = [] { return std::chrono::steady_clock::now(); })
      : capacity_(std::max<std::size_t>(1, capacity)),
        idle_(idle),
        make_(std::move(make)),
        now_(std::move(now)) {}

  // The client for `key`, made on first use. Throws what the factory throws (nothing cached).
  std::shared_ptr<Client> get(const std::string& key) { return get(key, make_); }
  // The same, made by `make` (a key whose client needs more than the key, e.g. a Secret's
  // settings read at this lookup).
  std::shared_ptr<Client> get(const std::string& key, const Factory& make) {
    // Declared before the lock, so evicted clients close (joining librdkafka's threads) after
    // it is released.
    std::vector<std::shared_ptr<Client>> gone;
    std::unique_lock lock(mutex_);
    const auto now = now_();
    evict_idle(now, gone);
    if (const auto it = index_.find(key); it != index_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second);
      it->second->used = now;
      return it->second->client;
    }
    // Made outside the lock: a client takes a moment to start, and other keys need not wait.
    lock.unlock();
    std::shared_ptr<Client> made = make(key);
    lock.lock();
    if (const auto it = index_.find(key); it != index_.end()) {
      gone.push_back(std::move(made));  // another thread made one meanwhile: keep a single one
      return it->second->client;
    }
    lru_.push_front({key, made, now});
    index_.emplace(key, lru_.begin());
    while (lru_.size() > capacity_)
      evict_last(gone);
    return made;
  }

  std::size_t size() const {
    const std::lock_guard lock(mutex_);
    return lru_.size();
  }

 private:
  struct Entry {
    std::string key;
    std::shared_ptr<Client> client;
    std::chrono::steady_clock::time_point used;
  };
  void evict_idle(std::chrono::steady_clock::time_point now,
                  std::vector<std::shared_ptr<Client>>& gone) {
    // Oldest last: stop at the first one still fresh.
    while (!lru_.empty() && now - lru_.back().used >= idle_)
      evict_last(gone);
  }
  void evict_last(std::vector<std::shared_ptr<Client>>& gone) {
    gone.push_back(std::move(lru_.back().client));
    index_.erase(lru_.back().key);
    lru_.pop_back();
  }

  const std::size_t capacity_;
  const std::chrono::milliseconds idle_;
  Factory make_;
  Clock now_;
  mutable std::mutex mutex_;
  std::list<Entry> lru_;  // most recently used first
  std::unordered_map<std::string, typename std::list<Entry>::iterator> index_;
};

using AdminCache = ClientCache<kafka::TopicAdmin>;

}  // namespace pipewright::controller
