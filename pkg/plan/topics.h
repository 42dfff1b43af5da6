#pragma once
// Desired Kafka topics of a Pipeline: the one place that decides topic names and settings,
// for the operator and for local mode alike.

#include <map>
#include <string>
#include <vector>

#include "pkg/api/types.h"

namespace pipewright::plan {

struct TopicPlan {
  std::string logical;  // the name steps use
  std::string name;     // the Kafka topic
  int partitions = 1;
  int replication_factor = 1;
  std::map<std::string, std::string> config;
  bool delete_with_pipeline = false;
};

// "<namespace>.<pipeline>.<name>" unless the topic sets topicName.
std::string topic_name(const api::Pipeline& pipeline, const api::Topic& topic);

// Every declared topic, in declaration order.
std::vector<TopicPlan> topics(const api::Pipeline& pipeline);

// "<namespace>.<pipeline>.<step>": the consumer group of a step.
std::string consumer_group(const api::Pipeline& pipeline, const api::Step& step);

}  // namespace pipewright::plan
