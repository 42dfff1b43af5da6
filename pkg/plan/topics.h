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
  bool dead_letter = false;  // the dead-letter topic of another topic, not declared by the user
};

// "<topic>.dlq": where a step puts what it failed to process maxAttempts times (SPEC section 5).
std::string dead_letter_topic(const std::string& kafka_topic);

// "<namespace>.<pipeline>.<name>" unless the topic sets topicName.
std::string topic_name(const api::Pipeline& pipeline, const api::Topic& topic);

// Every declared topic, in declaration order, then the dead-letter topic of each topic that a
// step with `deadLetter: true` reads (one partition; deleted with its source topic).
std::vector<TopicPlan> topics(const api::Pipeline& pipeline);

// "<namespace>.<pipeline>.<step>": the consumer group of a step.
std::string consumer_group(const api::Pipeline& pipeline, const api::Step& step);

}  // namespace pipewright::plan
