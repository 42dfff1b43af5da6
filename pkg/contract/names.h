#pragma once
// The names Pipewright gives things: Kafka topics, consumer groups, dead-letter topics and the
// Kubernetes children of a resource. The one place each is built; the plan, the operator, local
// mode and the worker runtime all call these.

#include <cstddef>
#include <string>
#include <string_view>

namespace pipewright::contract {

// Kubernetes object names we create must be DNS labels: a Service name is one.
inline constexpr std::size_t kMaxObjectName = 63;
inline constexpr std::string_view kDnsLabelPattern = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";
bool is_dns_label(std::string_view text);  // 1..63 characters of the pattern

// Kafka's topic name rule (and its length limit).
inline constexpr std::size_t kMaxKafkaTopic = 249;
inline constexpr std::string_view kTopicNamePattern = "^[a-zA-Z0-9._-]+$";
bool is_topic_name(std::string_view text);  // 1..249 characters of the pattern
// Kafka's own topics (__consumer_offsets, ...): never ours to name.
bool is_internal_topic(std::string_view name);

// "<namespace>.<pipeline>.<logical>": a declared topic's Kafka name unless it sets topicName.
std::string topic_name(const std::string& namespace_, const std::string& pipeline,
                       const std::string& logical);

// "<namespace>.<pipeline>.<step>": the consumer group of a step.
std::string consumer_group(const std::string& namespace_, const std::string& pipeline,
                           const std::string& step);

// "<kafka topic>.dlq": where a step puts what it failed to process maxAttempts times (SPEC
// section 5). The worker runtime's dead letters and the topics the plan creates both use it.
inline constexpr std::string_view kDeadLetterSuffix = ".dlq";
std::string dead_letter_topic(const std::string& kafka_topic);
bool is_dead_letter_topic(std::string_view kafka_topic);
// The logical name the plan gives a dead-letter topic: "<logical>.dlq".
std::string dead_letter_logical(const std::string& logical);

// "<owner>-<part>": a child object of a Pipeline (per step, "data") or a WeightedService (per
// backend, "router").
std::string child_name(const std::string& owner, const std::string& part);
inline constexpr std::string_view kRouterPart = "router";  // a WeightedService's nginx router
inline constexpr std::string_view kDataPart = "data";      // a Pipeline's shared volume claim

}  // namespace pipewright::contract
