#pragma once
// Kafka topics through the Admin API: the small interface the operator and local mode use,
// its librdkafka implementation, and the one function that brings topics to their plan.

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "pkg/plan/topics.h"

namespace pipewright::kafka {

struct TopicState {
  std::string name;
  int partitions = 0;                         // 0: the topic does not exist
  std::map<std::string, std::string> config;  // settings set on the topic (not broker defaults)
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
  virtual std::vector<TopicResult> create(const std::vector<plan::TopicPlan>& topics) = 0;
  // The named topics as the cluster has them (partitions 0 when missing). Throws
  // std::runtime_error when the cluster cannot be reached.
  virtual std::vector<TopicState> describe(const std::vector<std::string>& names) = 0;
  // Each returns "" on success, else the broker's complaint.
  virtual std::string grow_partitions(const std::string& name, int total) = 0;
  // Replaces the topic's settings with `config` (what is not named returns to the default).
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

// What reconcile_topics found and did for one topic.
struct TopicStatus {
  std::string logical;
  std::string name;
  int partitions = 0;  // as the cluster has them afterwards
  bool ready = false;
  std::string reason;   // when not ready: PartitionDecreaseRefused, CreateFailed, ...
  std::string message;  // for people
};

struct TopicReconcile {
  std::vector<TopicStatus> topics;
  int writes = 0;  // admin calls that changed something (0 in steady state)
};

// Creates missing topics, grows partitions, puts back changed settings; refuses (in the
// status) to shrink partitions. Throws std::runtime_error when Kafka cannot be reached.
TopicReconcile reconcile_topics(TopicAdmin& admin, const std::vector<plan::TopicPlan>& desired);

}  // namespace pipewright::kafka
