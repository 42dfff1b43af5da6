#include "pkg/contract/spec.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>

#include "pkg/contract/duration.h"
#include "pkg/contract/names.h"
#include "pkg/contract/quantity.h"
#include "pkg/contract/workers.h"

namespace pipewright::contract {

bool is_expose_path(std::string_view path) {
  if (path.empty() || path.size() > kMaxExposePath || path.front() != '/') return false;
  if (path.find("..") != std::string_view::npos || path.find("//") != std::string_view::npos)
    return false;
  for (const char c : path) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '~' || c == '/' || c == '-';
    if (!ok) return false;
  }
  return true;
}

namespace {

FieldRule make_rule(std::string_view kind, std::string path) {
  FieldRule f;
  f.kind = kind;
  f.path = std::move(path);
  return f;
}

FieldRule integer(std::string_view kind, std::string path, const IntRule& rule) {
  FieldRule f = make_rule(kind, std::move(path));
  f.minimum = rule.min;
  f.maximum = rule.max;
  if (rule.crd_default) f.default_value = std::to_string(rule.fallback);
  return f;
}

FieldRule text(std::string_view kind, std::string path, std::size_t max_length,
               std::string_view pattern = {}) {
  FieldRule f = make_rule(kind, std::move(path));
  f.max_length = max_length;
  f.pattern = std::string(pattern);
  return f;
}

FieldRule duration(std::string_view kind, std::string path, std::string_view fallback = {}) {
  auto f = text(kind, std::move(path), kMaxDurationLength, kDurationPattern);
  if (!fallback.empty()) f.default_value = std::string(fallback);
  return f;
}

FieldRule choice(std::string_view kind, std::string path, std::vector<std::string> values,
                 std::optional<std::string> fallback = std::nullopt) {
  FieldRule f = make_rule(kind, std::move(path));
  f.enum_values = std::move(values);
  f.default_value = std::move(fallback);
  return f;
}

FieldRule boolean(std::string_view kind, std::string path, bool fallback) {
  FieldRule f = make_rule(kind, std::move(path));
  f.default_value = fallback ? "true" : "false";
  return f;
}

FieldRule list(std::string_view kind, std::string path, std::size_t min, std::size_t max) {
  FieldRule f = make_rule(kind, std::move(path));
  if (min > 0) f.min_items = min;
  f.max_items = max;
  return f;
}

std::vector<std::string> strings(const auto& values) {
  return {values.begin(), values.end()};
}

void resources(std::vector<FieldRule>& out, std::string_view kind, const std::string& at) {
  for (const auto* section : {"requests", "limits"}) {
    for (const auto* name : {"cpu", "memory"}) {
      out.push_back(text(kind, at + ".resources." + section + "." + name, kMaxQuantityLength,
                         kResourceQuantityPattern));
    }
  }
}

}  // namespace

const std::vector<FieldRule>& field_rules() {
  static const std::vector<FieldRule> all = [] {
    std::vector<FieldRule> r;
    constexpr std::string_view kP = "Pipeline";
    r.push_back(text(kP, "spec.kafka.bootstrapServers", kMaxBootstrap));
    r.push_back(text(kP, "spec.kafka.secretRef.name", kMaxObjectRef));
    r.push_back(list(kP, "spec.topics", 0, kMaxTopics));
    auto topic = text(kP, "spec.topics[].name", kMaxTopicLogical, kTopicNamePattern);
    topic.min_length = 1;
    r.push_back(topic);
    r.push_back(text(kP, "spec.topics[].topicName", kMaxKafkaTopic, kTopicNamePattern));
    r.push_back(integer(kP, "spec.topics[].partitions", kPartitions));
    r.push_back(integer(kP, "spec.topics[].replicationFactor", kReplicationFactor));
    FieldRule settings = make_rule(kP, "spec.topics[].config");
    settings.max_properties = kMaxTopicSettings;
    r.push_back(settings);
    r.push_back(text(kP, "spec.topics[].config.*", kMaxTopicSetting));
    r.push_back(choice(kP, "spec.topics[].deletionPolicy", strings(kDeletionPolicies),
                       std::string(kDefaultDeletionPolicy)));
    for (const auto* field : {"className", "host", "tlsSecretName"})
      r.push_back(text(kP, std::string("spec.ingress.") + field, kMaxObjectRef));
    FieldRule size = make_rule(kP, "spec.storage.size");
    size.pattern = std::string(kStorageSizePattern);
    r.push_back(size);
    r.push_back(text(kP, "spec.storage.storageClassName", kMaxObjectRef));
    r.push_back(choice(kP, "spec.storage.accessMode", strings(kAccessModes),
                       std::string(kDefaultAccessMode)));
    r.push_back(boolean(kP, "spec.networkPolicy.enabled", false));
    r.push_back(list(kP, "spec.networkPolicy.kafkaCIDRs", 0, kMaxKafkaCidrs));
    r.push_back(text(kP, "spec.networkPolicy.kafkaCIDRs[]", kMaxCidr));
    r.push_back(text(kP, "spec.networkPolicy.ingressNamespace", kMaxNamespace, kDnsLabelPattern));
    r.push_back(list(kP, "spec.steps", 1, kMaxSteps));
    r.push_back(text(kP, "spec.steps[].name", kMaxPartName, kDnsLabelPattern));
    r.push_back(choice(kP, "spec.steps[].worker", worker_names()));
    r.push_back(text(kP, "spec.steps[].image", kMaxImage));
    r.push_back(integer(kP, "spec.steps[].replicas", kStepReplicas));
    for (const auto* refs : {"inputs", "outputs"}) {
      r.push_back(list(kP, std::string("spec.steps[].") + refs, 0, kMaxTopicRefs));
      r.push_back(text(kP, std::string("spec.steps[].") + refs + "[]", kMaxTopicLogical));
    }
    r.push_back(text(kP, "spec.steps[].expose.path", kMaxExposePath, kExposePathPattern));
    r.push_back(boolean(kP, "spec.steps[].storage", false));
    resources(r, kP, "spec.steps[]");
    auto attempts = integer(kP, "spec.steps[].delivery.maxAttempts", kMaxAttempts);
    attempts.default_value.reset();  // left out: the pipeline's
    r.push_back(attempts);
    r.push_back(duration(kP, "spec.steps[].delivery.backoff.initial"));
    r.push_back(duration(kP, "spec.steps[].delivery.backoff.max"));
    r.push_back(integer(kP, "spec.delivery.maxAttempts", kMaxAttempts));
    r.push_back(duration(kP, "spec.delivery.backoff.initial", kDefaultBackoffInitial));
    r.push_back(duration(kP, "spec.delivery.backoff.max", kDefaultBackoffMax));
    r.push_back(boolean(kP, "spec.delivery.deadLetter", kDefaultDeadLetter));

    constexpr std::string_view kW = "WeightedService";
    r.push_back(choice(kW, "spec.worker", weighted_worker_names()));
    r.push_back(text(kW, "spec.image", kMaxImage));
    r.push_back(integer(kW, "spec.port", kServicePort));
    r.push_back(list(kW, "spec.backends", 1, kMaxBackends));
    r.push_back(text(kW, "spec.backends[].name", kMaxPartName, kDnsLabelPattern));
    r.push_back(integer(kW, "spec.backends[].weight", kBackendWeight));
    r.push_back(boolean(kW, "spec.backends[].backup", false));
    r.push_back(integer(kW, "spec.backends[].replicas", kBackendReplicas));
    resources(r, kW, "spec.backends[]");
    r.push_back(integer(kW, "spec.healthCheck.maxFails", kMaxFails));
    r.push_back(duration(kW, "spec.healthCheck.failTimeout", kDefaultFailTimeout));
    r.push_back(duration(kW, "spec.healthCheck.connectTimeout", kDefaultConnectTimeout));
    r.push_back(duration(kW, "spec.healthCheck.readTimeout"));
    r.push_back(text(kW, "spec.expose.path", kMaxExposePath, kExposePathPattern));
    for (const auto* field : {"className", "host", "tlsSecretName"})
      r.push_back(text(kW, std::string("spec.ingress.") + field, kMaxObjectRef));
    r.push_back(text(kW, "spec.gatewayRef.name", kMaxObjectRef));
    r.push_back(text(kW, "spec.gatewayRef.namespace", kMaxNamespace));
    return r;
  }();
  return all;
}

bool is_cidr(std::string_view text) {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos || slash + 1 >= text.size() || text.size() > kMaxCidr)
    return false;
  const std::string address(text.substr(0, slash));
  const auto prefix = text.substr(slash + 1);
  if (prefix.size() > 3 ||
      !std::all_of(prefix.begin(), prefix.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return false;
  const int bits = std::stoi(std::string(prefix));
  unsigned char buf[sizeof(struct in6_addr)];
  if (inet_pton(AF_INET, address.c_str(), buf) == 1) return bits <= 32;
  if (inet_pton(AF_INET6, address.c_str(), buf) == 1) return bits <= 128;
  return false;
}

}  // namespace pipewright::contract
