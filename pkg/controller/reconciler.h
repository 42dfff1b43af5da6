#pragma once
// Reconcile, keyed by kind and namespace/name, level-triggered, safe to run any number of times:
// read (from the informers' caches), compute desired (plan), diff, act (server-side apply,
// delete), report (one status write, only when it changed). NotFound means done.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "pkg/controller/lag.h"
#include "pkg/kafka/admin.h"
#include "pkg/kube/client.h"
#include "pkg/plan/render.h"
#include "pkg/plan/topics.h"

namespace pipewright::controller {

inline constexpr const char* kTopicsFinalizer = "pipewright.io/topics";

// What the reconciler reads: the informers' caches.
class Cache {
 public:
  virtual ~Cache() = default;
  virtual std::optional<nlohmann::json> get(const kube::Resource& r, const std::string& ns,
                                            const std::string& name) const = 0;
  virtual std::vector<nlohmann::json> list(const kube::Resource& r,
                                           const std::string& ns) const = 0;
  // The objects of `ns` labelled `key=value` (an owner's children), without copying the rest.
  virtual std::vector<nlohmann::json> list_labeled(const kube::Resource& r, const std::string& ns,
                                                   const std::string& key,
                                                   const std::string& value) const = 0;
  // Calls `each` on every object of `ns` (all when empty) without copying them; `each` must not
  // call back into the cache.
  virtual void each(const kube::Resource& r, const std::string& ns,
                    const std::function<void(const nlohmann::json&)>& each) const = 0;
};

// Kafka admin clients by bootstrap servers and the Pipeline's spec.kafka.secretRef (its namespace
// and name; empty: none), kept open between reconciles (see admins.h); the caller holds the
// client while it uses it.
using AdminFor = std::function<std::shared_ptr<kafka::TopicAdmin>(
    const std::string& bootstrap, const std::string& ns, const std::string& secret)>;

struct Outcome {
  bool ok = true;                                  // false: retry with backoff
  std::optional<std::chrono::milliseconds> after;  // retry this much later even when ok
  std::string error;
};

class Reconciler {
 public:
  Reconciler(kube::Client& client, const Cache& cache, AdminFor admin, plan::RenderOptions options);

  Outcome pipeline(const std::string& ns, const std::string& name);
  Outcome weighted_service(const std::string& ns, const std::string& name);

  // Samples each Pipeline's consumer lag and dead letters into its status, and looks at it again
  // every `monitor->interval()` (call before reconciling).
  void watch_lag(std::unique_ptr<LagMonitor> monitor) { lag_ = std::move(monitor); }
  // Told every status a reconcile computed (written or not), and null when the resource is gone.
  using StatusSink = std::function<void(const kube::Resource&, const std::string& ns,
                                        const std::string& name, const nlohmann::json* status)>;
  void on_status(StatusSink sink) { status_sink_ = std::move(sink); }

  // The kinds of children, in apply order (config before the workloads that mount it).
  static const std::vector<const kube::Resource*>& child_kinds();

 private:
  struct Children {
    std::string error;     // the first API call that failed (retried with backoff)
    std::string conflict;  // the first object of a child's name that is not ours (left alone)
  };
  // Applies what differs, deletes what the owner no longer names. Never touches an object this
  // owner did not create: such a conflict is reported (and an Event says so once).
  Children sync_children(const std::vector<nlohmann::json>& desired, const nlohmann::json& owner,
                         const std::string& owner_label);
  // Which of `topics` another Pipeline holds, and by whom (see reconciler.cpp).
  std::map<std::string, std::string> topics_taken(const nlohmann::json& pipeline,
                                                  const std::set<std::string>& created,
                                                  const std::vector<plan::TopicPlan>& topics) const;
  // The topics this Pipeline created: its status record plus what a failed status write has
  // not recorded yet; with `parsed`, also legacy_topics() of its status.
  std::set<std::string> created_topics(const nlohmann::json& pipeline,
                                       const api::Pipeline* parsed = nullptr) const;
  // A Kubernetes Event on `owner` (best effort: a failure is only logged).
  void event(const nlohmann::json& owner, const std::string& type, const std::string& reason,
             const std::string& message);
  void write_status(const kube::Resource& r, const nlohmann::json& object,
                    const nlohmann::json& status);
  bool set_finalizer(const kube::Resource& r, const nlohmann::json& object, bool wanted);
  int ready_replicas(const std::string& ns, const std::string& deployment) const;
  Outcome delete_pipeline(const nlohmann::json& object);
  std::string bootstrap_of(const std::string& declared) const;

  kube::Client& client_;
  const Cache& cache_;
  AdminFor admin_;
  plan::RenderOptions options_;
  std::unique_ptr<LagMonitor> lag_;
  StatusSink status_sink_;
  // Topics created but not yet in the cached Pipeline's status (its write failed, or the cache
  // has not seen it yet): "ns/name" -> (uid, topics). Entries go once the cached status holds
  // them or the Pipeline is gone.
  mutable std::mutex unrecorded_mu_;
  mutable std::map<std::string, std::pair<std::string, std::set<std::string>>> unrecorded_;
};

// How long a conflict (a foreign object, a topic held by another Pipeline) waits before the
// next look: nothing announces that the other party let go.
inline constexpr std::chrono::seconds kConflictRecheck{30};

// Upgrading from a version that kept no record of created topics: a `status` with topic lines
// but no createdTopics adopts the ready ones named by the default rule
// "<namespace>.<pipeline>.<topic>" (and their dead-letter topics), so their deletionPolicy still
// holds. A name given by topicName could have been anyone's, so it is not adopted.
std::set<std::string> legacy_topics(const nlohmann::json& status, const api::Pipeline& p);

// True when every field of `desired` is in `live` with the same value (arrays: same length,
// element by element); fields the server added are ignored. Decides drift.
bool contains(const nlohmann::json& live, const nlohmann::json& desired);

}  // namespace pipewright::controller
