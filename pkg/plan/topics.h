#pragma once
// Desired Kafka topics of a Pipeline, for the operator and for local mode alike. The names come
// from the contract (pkg/contract/names.h), the description from pkg/contract/topic.h.

#include <string>
#include <vector>

#include "pkg/api/types.h"
#include "pkg/contract/names.h"
#include "pkg/contract/topic.h"

namespace pipewright::plan {

using TopicPlan = contract::TopicSpec;

// "<topic>.dlq" (SPEC section 5); kept for the callers that have not moved to the contract.
using contract::dead_letter_topic;

// "<namespace>.<pipeline>.<name>" unless the topic sets topicName.
std::string topic_name(const api::Pipeline& pipeline, const api::Topic& topic);

// Every declared topic, in declaration order, then the dead-letter topic of each topic that a
// step with `deadLetter: true` reads (one partition; deleted with its source topic).
std::vector<TopicPlan> topics(const api::Pipeline& pipeline);

// "<namespace>.<pipeline>.<step>": the consumer group of a step.
std::string consumer_group(const api::Pipeline& pipeline, const api::Step& step);

}  // namespace pipewright::plan
