#pragma once
// A Kafka topic as the control plane wants it: what the plan computes (plan::topics) and what
// the topic admin creates and reconciles (pkg/kafka). Here so that pkg/kafka needs no plan.

#include <map>
#include <string>

namespace pipewright::contract {

struct TopicSpec {
  std::string logical;  // the name steps use ("<logical>.dlq" for a dead-letter topic)
  std::string name;     // the Kafka topic
  int partitions = 1;
  int replication_factor = 1;
  std::map<std::string, std::string> config;
  bool delete_with_pipeline = false;
  bool dead_letter = false;  // the dead-letter topic of another topic, not declared by the user
};

}  // namespace pipewright::contract
