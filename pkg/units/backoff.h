#pragma once
// The one retry policy: capped exponential backoff (initial, 2x, 4x, ... up to max), optionally
// jittered (each wait ± a fraction) so that many clients retrying the same server do not come
// back in step. Used by the worker runtime's retries and re-sends, the operator's work queue,
// the informers' reconnects, and local mode's restarts of workers and of its broker.

#include <algorithm>
#include <chrono>
#include <random>

namespace pipewright::units {

// The wait before retry number `failures` (1 = after the first failure): initial * 2^(failures-1),
// never above max (and never below initial).
inline std::chrono::milliseconds exponential_backoff(std::chrono::milliseconds initial,
                                                     std::chrono::milliseconds max, int failures) {
  auto delay = initial;
  for (int i = 1; i < failures && delay < max; ++i)
    delay *= 2;
  return std::min(delay, std::max(initial, max));
}

// Stateful: next() grows the wait, reset() after a success starts again from initial.
class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max, double jitter = 0)
      : initial_(initial), max_(max), jitter_(std::clamp(jitter, 0.0, 1.0)) {}

  std::chrono::milliseconds next() {
    auto wait = exponential_backoff(initial_, max_, ++failures_);
    if (jitter_ > 0) {
      const double f = std::uniform_real_distribution<double>(1 - jitter_, 1 + jitter_)(rng_);
      wait = std::chrono::milliseconds(static_cast<long>(static_cast<double>(wait.count()) * f));
    }
    return wait;
  }
  void reset() { failures_ = 0; }
  int failures() const { return failures_; }

 private:
  std::chrono::milliseconds initial_, max_;
  double jitter_;
  int failures_ = 0;
  std::mt19937 rng_{std::random_device{}()};
};

}  // namespace pipewright::units
