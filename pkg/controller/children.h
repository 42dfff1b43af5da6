#pragma once
// What the Pipeline and WeightedService reconcilers share: applying an owner's children, pruning
// the ones it no longer names, Events, the status write, and reading a Deployment's readiness.
// One owner's children only: an object this owner did not create is never written or deleted.

#include <chrono>
#include <exception>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "pkg/controller/cache.h"
#include "pkg/kube/client.h"

namespace pipewright::api {
class ManifestError;
}

namespace pipewright::controller {

// What one reconcile tells the work queue.
struct Outcome {
  bool ok = true;                                  // false: retry with backoff
  std::optional<std::chrono::milliseconds> after;  // retry this much later even when ok
  std::string error;
};

// How long a conflict (a foreign object, a topic held by another Pipeline) waits before the
// next look: nothing announces that the other party let go.
inline constexpr std::chrono::seconds kConflictRecheck{30};

// Told every status a reconcile computed (written or not), and null when the resource is gone.
using StatusSink = std::function<void(const kube::Resource&, const std::string& ns,
                                      const std::string& name, const nlohmann::json* status)>;

class Children {
 public:
  Children(kube::Client& client, const Cache& cache) : client_(client), cache_(cache) {}

  // The kinds of children, in apply order (config before the workloads that mount it).
  static const std::vector<const kube::Resource*>& child_kinds();

  struct Result {
    std::string error;     // the first API call that failed (retried with backoff)
    std::string conflict;  // the first object of a child's name that is not ours (left alone)
  };
  // Applies what differs, deletes what the owner no longer names. Never touches an object this
  // owner did not create: such a conflict is reported (and an Event says so once).
  Result sync(const std::vector<nlohmann::json>& desired, const nlohmann::json& owner,
              const std::string& owner_label);

  // Writes `status` when it differs from the object's (steady state: no write), with one Event
  // when the Ready condition's reason changes. Throws what the API client throws.
  void write_status(const kube::Resource& r, const nlohmann::json& object,
                    const nlohmann::json& status);
  // The resource is gone: the sink forgets it.
  void forget(const kube::Resource& r, const std::string& ns, const std::string& name);
  void on_status(StatusSink sink) { status_sink_ = std::move(sink); }

  // A Kubernetes Event on `owner` (best effort: a failure is only logged).
  void event(const nlohmann::json& owner, const std::string& type, const std::string& reason,
             const std::string& message);
  // The ready replicas of a cached Deployment (0 when absent or its status is older than it).
  int ready_replicas(const std::string& ns, const std::string& deployment) const;

  kube::Client& client() { return client_; }
  const Cache& cache() const { return cache_; }

 private:
  kube::Client& client_;
  const Cache& cache_;
  StatusSink status_sink_;
};

// True when every field of `desired` is in `live` with the same value (arrays: same length,
// element by element); fields the server added are ignored. Decides drift.
bool contains(const nlohmann::json& live, const nlohmann::json& desired);

// An API error as "409 Conflict: message", anything else as its what().
std::string describe(const std::exception& e);
// "spec.steps[1].worker: unknown worker 'x'": what status shows of a refused spec.
std::string first_problem(const api::ManifestError& e);

}  // namespace pipewright::controller
