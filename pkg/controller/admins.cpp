#include "pkg/controller/admins.h"

#include <algorithm>

namespace pipewright::controller {

AdminCache::AdminCache(std::size_t capacity, std::chrono::milliseconds idle, Factory make,
                       Clock now)
    : capacity_(std::max<std::size_t>(1, capacity)),
      idle_(idle),
      make_(std::move(make)),
      now_(std::move(now)) {}

void AdminCache::evict_idle(std::chrono::steady_clock::time_point now,
                            std::vector<std::shared_ptr<kafka::TopicAdmin>>& gone) {
  // Oldest last: stop at the first one still fresh.
  while (!lru_.empty() && now - lru_.back().used >= idle_) {
    evict_last(gone);
  }
}

void AdminCache::evict_last(std::vector<std::shared_ptr<kafka::TopicAdmin>>& gone) {
  gone.push_back(std::move(lru_.back().admin));
  index_.erase(lru_.back().key);
  lru_.pop_back();
}

std::shared_ptr<kafka::TopicAdmin> AdminCache::get(const std::string& key, const Factory& make) {
  // Declared before the lock, so evicted clients close (joining librdkafka's threads) after
  // it is released.
  std::vector<std::shared_ptr<kafka::TopicAdmin>> gone;
  std::unique_lock lock(mutex_);
  const auto now = now_();
  evict_idle(now, gone);
  if (const auto it = index_.find(key); it != index_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second);
    it->second->used = now;
    return it->second->admin;
  }
  // Made outside the lock: a client takes a moment to start, and other keys need not wait.
  lock.unlock();
  std::shared_ptr<kafka::TopicAdmin> made = make(key);
  lock.lock();
  if (const auto it = index_.find(key); it != index_.end()) {
    gone.push_back(std::move(made));  // another thread made one meanwhile: keep a single client
    return it->second->admin;
  }
  lru_.push_front({key, made, now});
  index_.emplace(key, lru_.begin());
  while (lru_.size() > capacity_)
    evict_last(gone);
  return made;
}

std::size_t AdminCache::size() const {
  const std::lock_guard lock(mutex_);
  return lru_.size();
}

}  // namespace pipewright::controller
