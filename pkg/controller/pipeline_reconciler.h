#pragma once
// The Pipeline reconciler: its topics (kafka::reconcile_topics, with the record of which topics
// it created and which another Pipeline holds), its children (Children), its finalizer (topics
// deleted with it by deletionPolicy), lag, and its status.

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "pkg/controller/children.h"
#include "pkg/controller/lag.h"
#include "pkg/kafka/admin.h"
#include "pkg/plan/render.h"
#include "pkg/plan/topics.h"

namespace pipewright::api {
struct Pipeline;
}

namespace pipewright::controller {

inline constexpr const char* kTopicsFinalizer = "pipewright.io/topics";

// Kafka admin clients by bootstrap servers and the Pipeline's spec.kafka.secretRef (its namespace
// and name; empty: none), kept open between reconciles (see admins.h); the caller holds the
// client while it uses it.
using AdminFor = std::function<std::shared_ptr<kafka::TopicAdmin>(
    const std::string& bootstrap, const std::string& ns, const std::string& secret)>;

class PipelineReconciler {
 public:
  PipelineReconciler(Children& children, AdminFor admin, plan::RenderOptions options);

  Outcome reconcile(const std::string& ns, const std::string& name);

  // Samples each Pipeline's consumer lag and dead letters into its status, and looks at it again
  // every `monitor->interval()` (call before reconciling).
  void watch_lag(std::unique_ptr<LagMonitor> monitor) { lag_ = std::move(monitor); }

 private:
  // Which of `topics` another Pipeline holds, and by whom (see pipeline_reconciler.cpp).
  std::map<std::string, std::string> topics_taken(const nlohmann::json& pipeline,
                                                  const std::set<std::string>& created,
                                                  const std::vector<plan::TopicPlan>& topics) const;
  // The topics this Pipeline created: its status record plus what a failed status write has
  // not recorded yet; with `parsed`, also legacy_topics() of its status.
  std::set<std::string> created_topics(const nlohmann::json& pipeline,
                                       const api::Pipeline* parsed = nullptr) const;
  bool set_finalizer(const nlohmann::json& object, bool wanted);
  Outcome delete_pipeline(const nlohmann::json& object);
  std::string bootstrap_of(const std::string& declared) const;

  Children& children_;
  AdminFor admin_;
  plan::RenderOptions options_;
  std::unique_ptr<LagMonitor> lag_;
  // Topics created but not yet in the cached Pipeline's status (its write failed, or the cache
  // has not seen it yet): "ns/name" -> (uid, topics). Entries go once the cached status holds
  // them or the Pipeline is gone.
  mutable std::mutex unrecorded_mu_;
  mutable std::map<std::string, std::pair<std::string, std::set<std::string>>> unrecorded_;
};

// Upgrading from a version that kept no record of created topics: a `status` with topic lines
// but no createdTopics adopts the ready ones named by the default rule
// "<namespace>.<pipeline>.<topic>" (and their dead-letter topics), so their deletionPolicy still
// holds. A name given by topicName could have been anyone's, so it is not adopted.
std::set<std::string> legacy_topics(const nlohmann::json& status, const api::Pipeline& p);

}  // namespace pipewright::controller
