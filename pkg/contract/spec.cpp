#include "pkg/contract/spec.h"

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
    constexpr std::string_view P = "Pipeline";
    r.push_back(text(P, "spec.kafka.bootstrapServers", kMaxBootstrap));
    r.push_back(text(P, "spec.kafka.secretRef.name", kMaxObjectRef));
    r.push_back(list(P, "spec.topics", 0, kMaxTopics));
    auto topic = text(P, "spec.topics[].name", kMaxTopicLogical, kTopicNamePattern);
    topic.min_length = 1;
    r.push_back(topic);
    r.push_back(text(P, "spec.topics[].topicName", kMaxKafkaTopic, kTopicNamePattern));
    r.push_back(integer(P, "spec.topics[].partitions", kPartitions));
    r.push_back(integer(P, "spec.topics[].replicationFactor", kReplicationFactor));
    FieldRule settings = make_rule(P, "spec.topics[].config");
    settings.max_properties = kMaxTopicSettings;
    r.push_back(settings);
    r.push_back(text(P, "spec.topics[].config.*", kMaxTopicSetting));
    r.push_back(choice(P, "spec.topics[].deletionPolicy", strings(kDeletionPolicies),
                       std::string(kDefaultDeletionPolicy)));
    for (const auto* field : {"className", "host", "tlsSecretName"})
      r.push_back(text(P, std::string("spec.ingress.") + field, kMaxObjectRef));
    FieldRule size = make_rule(P, "spec.storage.size");
    size.pattern = std::string(kStorageSizePattern);
    r.push_back(size);
    r.push_back(text(P, "spec.storage.storageClassName", kMaxObjectRef));
    r.push_back(choice(P, "spec.storage.accessMode", strings(kAccessModes),
                       std::string(kDefaultAccessMode)));
    r.push_back(list(P, "spec.steps", 1, kMaxSteps));
    r.push_back(text(P, "spec.steps[].name", kMaxPartName, kDnsLabelPattern));
    r.push_back(choice(P, "spec.steps[].worker", worker_names()));
    r.push_back(text(P, "spec.steps[].image", kMaxImage));
    r.push_back(integer(P, "spec.steps[].replicas", kStepReplicas));
    for (const auto* refs : {"inputs", "outputs"}) {
      r.push_back(list(P, std::string("spec.steps[].") + refs, 0, kMaxTopicRefs));
      r.push_back(text(P, std::string("spec.steps[].") + refs + "[]", kMaxTopicLogical));
    }
    r.push_back(text(P, "spec.steps[].expose.path", kMaxExposePath, kExposePathPattern));
    r.push_back(boolean(P, "spec.steps[].storage", false));
    resources(r, P, "spec.steps[]");
    auto attempts = integer(P, "spec.steps[].delivery.maxAttempts", kMaxAttempts);
    attempts.default_value.reset();  // left out: the pipeline's
    r.push_back(attempts);
    r.push_back(duration(P, "spec.steps[].delivery.backoff.initial"));
    r.push_back(duration(P, "spec.steps[].delivery.backoff.max"));
    r.push_back(integer(P, "spec.delivery.maxAttempts", kMaxAttempts));
    r.push_back(duration(P, "spec.delivery.backoff.initial", kDefaultBackoffInitial));
    r.push_back(duration(P, "spec.delivery.backoff.max", kDefaultBackoffMax));
    r.push_back(boolean(P, "spec.delivery.deadLetter", kDefaultDeadLetter));

    constexpr std::string_view W = "WeightedService";
    r.push_back(choice(W, "spec.worker", weighted_worker_names()));
    r.push_back(text(W, "spec.image", kMaxImage));
    r.push_back(integer(W, "spec.port", kServicePort));
    r.push_back(list(W, "spec.backends", 1, kMaxBackends));
    r.push_back(text(W, "spec.backends[].name", kMaxPartName, kDnsLabelPattern));
    r.push_back(integer(W, "spec.backends[].weight", kBackendWeight));
    r.push_back(boolean(W, "spec.backends[].backup", false));
    r.push_back(integer(W, "spec.backends[].replicas", kBackendReplicas));
    resources(r, W, "spec.backends[]");
    r.push_back(integer(W, "spec.healthCheck.maxFails", kMaxFails));
    r.push_back(duration(W, "spec.healthCheck.failTimeout", kDefaultFailTimeout));
    r.push_back(duration(W, "spec.healthCheck.connectTimeout", kDefaultConnectTimeout));
    r.push_back(duration(W, "spec.healthCheck.readTimeout"));
    r.push_back(text(W, "spec.expose.path", kMaxExposePath, kExposePathPattern));
    for (const auto* field : {"className", "host", "tlsSecretName"})
      r.push_back(text(W, std::string("spec.ingress.") + field, kMaxObjectRef));
    r.push_back(text(W, "spec.gatewayRef.name", kMaxObjectRef));
    r.push_back(text(W, "spec.gatewayRef.namespace", kMaxNamespace));
    return r;
  }();
  return all;
}

}  // namespace pipewright::contract
