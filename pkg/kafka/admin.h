#pragma once
// Kafka topics through the Admin API: the small interface the operator and local mode use,
// and its librdkafka implementation.

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "pkg/plan/topics.h"

namespace pipewright::kafka {

struct TopicState {
  std::string name;
  int partitions = 0;  // 0: the topic does not exist
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
  // The named topics as the cluster has them (partitions 0 when missing).
  virtual std::vector<TopicState> describe(const std::vector<std::string>& names) = 0;
};

// Throws std::runtime_error when the client cannot be created (bad settings).
std::unique_ptr<TopicAdmin> make_admin(
    const std::string& bootstrap, std::chrono::milliseconds timeout = std::chrono::seconds(15));

}  // namespace pipewright::kafka
