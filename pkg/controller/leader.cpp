#include "pkg/controller/leader.h"

#include <sys/time.h>
#include <ctime>
#include <thread>

#include "pkg/log/log.h"
#include "pkg/units/rfc3339.h"

namespace pipewright::controller {

using nlohmann::json;

namespace {

// metav1.MicroTime: RFC 3339 with microseconds.
std::string micro_now() {
  return units::rfc3339(std::chrono::system_clock::now(), units::Precision::microseconds);
}

}  // namespace

LeaderElector::LeaderElector(kube::Client& client, LeaderOptions options)
    : client_(client), options_(std::move(options)) {}

bool LeaderElector::try_acquire_or_renew() {
  const auto& r = kube::resources::leases;
  const std::string now = micro_now();
  const auto lease = client_.get(r, options_.ns, options_.name);
  json spec = {{"holderIdentity", options_.identity},
               {"leaseDurationSeconds", options_.lease_duration.count()},
               {"acquireTime", now},
               {"renewTime", now},
               {"leaseTransitions", 0}};
  if (!lease) {
    client_.create(r, {{"apiVersion", "coordination.k8s.io/v1"},
                       {"kind", "Lease"},
                       {"metadata", {{"name", options_.name}, {"namespace", options_.ns}}},
                       {"spec", spec}});
    observed_holder_ = options_.identity;
    observed_at_ = std::chrono::steady_clock::now();
    return true;
  }
  const json current = lease->value("spec", json::object());
  const std::string holder = current.value("holderIdentity", "");
  const std::string renew = current.value("renewTime", "");
  if (holder != observed_holder_ || renew != observed_renew_) {
    observed_holder_ = holder;
    observed_renew_ = renew;
    observed_at_ = std::chrono::steady_clock::now();
  }
  const bool expired = std::chrono::steady_clock::now() > observed_at_ + options_.lease_duration;
  if (!holder.empty() && holder != options_.identity && !expired) return false;

  if (holder == options_.identity) {
    spec["acquireTime"] = current.value("acquireTime", now);
    spec["leaseTransitions"] = current.value("leaseTransitions", 0);
  } else {
    spec["leaseTransitions"] = current.value("leaseTransitions", 0) + 1;
  }
  json updated = *lease;
  updated["spec"] = spec;  // the update carries the resourceVersion: a race loses with 409
  client_.update(r, updated);
  observed_holder_ = options_.identity;
  observed_renew_ = now;
  observed_at_ = std::chrono::steady_clock::now();
  return true;
}

bool LeaderElector::acquire(const std::atomic<bool>& stop) {
  log::info("waiting for leadership",
            {{"lease", options_.ns + "/" + options_.name}, {"identity", options_.identity}});
  while (!stop.load()) {
    try {
      if (try_acquire_or_renew()) {
        log::info("became leader", {{"identity", options_.identity}});
        return true;
      }
    } catch (const std::exception& e) {
      log::debug("lease not taken", {{"error", e.what()}});
    }
    std::this_thread::sleep_for(options_.retry_period);
  }
  return false;
}

bool LeaderElector::hold(const std::atomic<bool>& stop) {
  auto last_renew = std::chrono::steady_clock::now();
  while (!stop.load()) {
    std::this_thread::sleep_for(options_.retry_period);
    if (stop.load()) break;
    try {
      if (try_acquire_or_renew()) {
        last_renew = std::chrono::steady_clock::now();
        continue;
      }
      log::error("leadership lost to another replica", {{"holder", observed_holder_}});
      return false;
    } catch (const std::exception& e) {
      if (std::chrono::steady_clock::now() - last_renew > options_.renew_deadline) {
        log::error("could not renew the lease in time; giving up leadership",
                   {{"error", e.what()}});
        return false;
      }
    }
  }
  return true;
}

void LeaderElector::release() {
  try {
    auto lease = client_.get(kube::resources::leases, options_.ns, options_.name);
    if (!lease || (*lease)["spec"].value("holderIdentity", "") != options_.identity) return;
    (*lease)["spec"]["holderIdentity"] = "";
    (*lease)["spec"]["leaseDurationSeconds"] = 1;
    client_.update(kube::resources::leases, *lease);
    log::info("lease released", {{"identity", options_.identity}});
  } catch (const std::exception& e) {
    log::warn("could not release the lease", {{"error", e.what()}});
  }
}

}  // namespace pipewright::controller
