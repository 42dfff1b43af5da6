#pragma once
// Kafka topics through the Admin API: the small interface the operator and local mode use,
// its librdkafka implementation, and the one function that brings topics to their plan.

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "pkg/contract/topic.h"

namespace pipewright::kafka {

// A topic as it should be (the plan computes these; pkg/contract defines them, so this library
// needs nothing of the control plane).
using TopicSpec = contract::TopicSpec;

struct TopicState {
  std::string name;
  int partitions = 0;                         // 0: the topic does not exist
  std::map<std::string, std::string> config;  // settings set on the topic (not broker defaults)
  bool sensitive = false;  // a setting set on the topic whose value the broker does not tell
};

enum class TopicOutcome { created, exists, failed };

struct TopicResult {
  std::string name;
  TopicOutcome outcome = TopicOutcome::failed;
  std::string error;  // set when failed
};

class TopicAdmin {
 public:
  virtual ~TopicAdmin() = default;
  // Creates the topics that do not exist yet, in one batch; existing ones are reported as such.
  virtual std::vector<TopicResult> create(const std::vector<TopicSpec>& topics) = 0;
  // The named topics as the cluster has them (partitions 0 when missing). Throws
  // std::runtime_error when the cluster cannot be reached.
  virtual std::vector<TopicState> describe(const std::vector<std::string>& names) = 0;
  // Each returns "" on success, else the broker's complaint.
  virtual std::string grow_partitions(const std::string& name, int total) = 0;
  // Replaces the topic's settings with `config`: what is not named returns to the default.
  // (librdkafka 2.0.2 has no IncrementalAlterConfigs, added in 2.2.0: this is AlterConfigs,
  // so reconcile_topics passes the topic's current settings merged with the spec's.)
  virtual std::string set_config(const std::string& name,
                                 const std::map<std::string, std::string>& config) = 0;
  virtual std::string remove(const std::string& name) = 0;
};

// Throws std::runtime_error when the client cannot be created (bad settings).
std::unique_ptr<TopicAdmin> make_admin(
    const std::string& bootstrap, std::chrono::milliseconds timeout = std::chrono::seconds(15));
// With librdkafka settings besides bootstrap.servers (SASL, TLS: a Pipeline's
// spec.kafka.secretRef). An error names the setting, never its value (it may be a password).
std::unique_ptr<TopicAdmin> make_admin(
    const std::map<std::string, std::string>& properties,
    std::chrono::milliseconds timeout = std::chrono::seconds(15));

// Why a topic is not ready, as a code the operator decides on (never a matched string);
// reason() is its name in the TopicsReady condition.
enum class TopicProblem {
  none,
  internal_refused,            // a '__' name: waits for the spec to change
  claimed,                     // another owner's topic: waits for its holder
  partition_decrease_refused,  // Kafka cannot shrink: waits for the spec to change
  create_failed,               // the rest may pass on a retry
  created_elsewhere,           // made by someone else between our look and our create
  grow_partitions_failed,
  config_failed,
};
std::string reason(TopicProblem problem);
// A refused decrease or internal name waits for the spec, a claimed topic for its holder; any
// other failure may pass on a retry.
inline bool retry_may_fix(TopicProblem p) {
  return p != TopicProblem::none && p != TopicProblem::internal_refused &&
         p != TopicProblem::claimed && p != TopicProblem::partition_decrease_refused;
}

// What reconcile_topics found and did for one topic.
struct TopicStatus {
  std::string logical;
  std::string name;
  int partitions = 0;  // as the cluster has them afterwards
  bool ready = false;
  TopicProblem problem = TopicProblem::none;  // when not ready
  std::string message;                        // for people
  std::string reason() const { return kafka::reason(problem); }
};

struct TopicReconcile {
  std::vector<TopicStatus> topics;
  int writes = 0;                    // admin calls that changed something (0 in steady state)
  std::vector<std::string> created;  // topics this call created (the caller records them)
};

// What the caller knows about who holds which topic.
struct TopicClaims {
  std::set<std::string> created;             // topics this owner created earlier (its record)
  std::map<std::string, std::string> taken;  // topic -> who else holds it ("Pipeline ns/name")
};

// True for Kafka's own topics (__consumer_offsets, __transaction_state, ...): never ours.
bool internal_topic(const std::string& name);

// Creates missing topics; of the topics this owner created (claims.created, or now) grows
// partitions and puts back the settings the plan names, leaving every other setting as it is;
// refuses (in the status) to shrink partitions. A topic that exists but was not created by this
// owner is used as it is, never altered. Internal names and topics `taken` by someone else are
// refused in the status and not touched. Throws std::runtime_error when Kafka cannot be reached.
TopicReconcile reconcile_topics(TopicAdmin& admin, const std::vector<TopicSpec>& desired,
                                const TopicClaims& claims = {});

}  // namespace pipewright::kafka
