#include "pkg/controller/workqueue.h"
#include "pkg/units/backoff.h"

#include <algorithm>

namespace pipewright::controller {

WorkQueue::WorkQueue(std::chrono::milliseconds base_delay, std::chrono::milliseconds max_delay)
    : base_delay_(base_delay), max_delay_(max_delay) {}

void WorkQueue::add_locked(const std::string& key) {
  if (shutdown_) return;
  if (processing_.contains(key)) {
    dirty_.insert(key);  // processed again once the current run is done
    return;
  }
  if (queued_.insert(key).second) {
    queue_.push_back(key);
    cv_.notify_one();
  }
}

void WorkQueue::add(const std::string& key) {
  const std::lock_guard lock(mu_);
  add_locked(key);
}

void WorkQueue::add_after(const std::string& key, std::chrono::milliseconds delay) {
  const std::lock_guard lock(mu_);
  if (delay <= std::chrono::milliseconds::zero()) {
    add_locked(key);
    return;
  }
  // One pending retry per key, the earliest: retries from resyncs and child events must not
  // pile up into parallel chains.
  const auto when = Clock::now() + delay;
  if (const auto it = waiting_at_.find(key); it != waiting_at_.end() && it->second <= when) return;
  waiting_at_[key] = when;
  waiting_.emplace(when, key);
  cv_.notify_one();
}

void WorkQueue::add_rate_limited(const std::string& key) {
  std::chrono::milliseconds delay;
  {
    const std::lock_guard lock(mu_);
    delay = units::exponential_backoff(base_delay_, max_delay_, ++failures_[key]);
  }
  add_after(key, delay);
}

void WorkQueue::forget(const std::string& key) {
  const std::lock_guard lock(mu_);
  failures_.erase(key);
}

int WorkQueue::failures(const std::string& key) const {
  const std::lock_guard lock(mu_);
  const auto it = failures_.find(key);
  return it == failures_.end() ? 0 : it->second;
}

void WorkQueue::promote_due_locked(Clock::time_point now) {
  while (!waiting_.empty() && waiting_.top().first <= now) {
    const auto [when, key] = waiting_.top();
    waiting_.pop();
    const auto it = waiting_at_.find(key);
    if (it == waiting_at_.end() || it->second != when) continue;  // superseded by an earlier one
    waiting_at_.erase(it);
    add_locked(key);
  }
}

std::optional<std::string> WorkQueue::get(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    promote_due_locked(Clock::now());
    if (shutdown_) return std::nullopt;
    if (!queue_.empty()) {
      std::string key = queue_.front();
      queue_.pop_front();
      queued_.erase(key);
      processing_.insert(key);
      return key;
    }
    auto wake = deadline;
    if (!waiting_.empty()) wake = std::min(wake, waiting_.top().first);
    if (Clock::now() >= deadline) return std::nullopt;
    cv_.wait_until(lock, wake);
  }
}

void WorkQueue::done(const std::string& key) {
  const std::lock_guard lock(mu_);
  processing_.erase(key);
  if (dirty_.erase(key) > 0) add_locked(key);
}

void WorkQueue::shutdown() {
  const std::lock_guard lock(mu_);
  shutdown_ = true;
  cv_.notify_all();
}

std::size_t WorkQueue::depth() const {
  const std::lock_guard lock(mu_);
  return queue_.size();
}

}  // namespace pipewright::controller
