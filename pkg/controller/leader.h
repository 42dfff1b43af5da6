#pragma once
// Leader election on a coordination.k8s.io Lease, the way client-go does it: a replica takes the
// lease when it is free or its holder has not renewed for leaseDuration (measured on our own
// clock from when we last saw it change, so clock skew between nodes does not matter), renews
// it every retry period, and gives up leadership when it cannot renew within the deadline.

#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "pkg/kube/client.h"

namespace pipewright::controller {

struct LeaderOptions {
  std::string ns = "pipewright-system";
  std::string name = "pipewright-operator";
  std::string identity;  // unique per replica (hostname + pid)
  std::chrono::seconds lease_duration{15};
  std::chrono::seconds renew_deadline{10};
  std::chrono::milliseconds retry_period{2000};
};

class LeaderElector {
 public:
  LeaderElector(kube::Client& client, LeaderOptions options);

  // Blocks until this replica leads (true) or `stop` (false).
  bool acquire(const std::atomic<bool>& stop);
  // Renews until `stop` (returns true) or the lease is lost (returns false).
  bool hold(const std::atomic<bool>& stop);
  // On a clean shutdown: hand the lease back so another replica takes over at once.
  void release();

  const std::string& identity() const { return options_.identity; }

 private:
  bool try_acquire_or_renew();
  kube::Client& client_;
  LeaderOptions options_;
  std::string observed_holder_;
  std::string observed_renew_;
  std::chrono::steady_clock::time_point observed_at_{};
};

}  // namespace pipewright::controller
