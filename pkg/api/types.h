#pragma once
// The pipewright.io/v1alpha1 resources as C++ values (SPEC section 1), with defaults applied.

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "pkg/contract/spec.h"

namespace pipewright::api {

inline constexpr const char* kGroupVersion = contract::kGroupVersion;

// Where a value came from, for messages that name the file and line.
struct Source {
  std::string file;
  int line = 0;  // 1-based; 0 when unknown
};

struct Meta {
  std::string name;
  std::string namespace_ = std::string(contract::kDefaultNamespace);
  Source source;
  // Set when the resource came from the API server (empty in local manifests).
  std::string uid;
  long generation = 0;
  bool deleting = false;  // metadata.deletionTimestamp is set
  std::vector<std::string> finalizers;
};

struct Ingress {
  std::string class_name, host, tls_secret_name;
};

struct Delivery {
  int max_attempts = contract::kMaxAttempts.fallback;
  std::string backoff_initial = std::string(contract::kDefaultBackoffInitial);
  std::string backoff_max = std::string(contract::kDefaultBackoffMax);
  bool dead_letter = contract::kDefaultDeadLetter;
};

struct Topic {
  std::string name;        // logical name used by steps
  std::string topic_name;  // empty: "<namespace>.<pipeline>.<name>" (plan decides)
  int partitions = contract::kPartitions.fallback;
  int replication_factor = contract::kReplicationFactor.fallback;
  std::map<std::string, std::string> config;
  std::string deletion_policy = std::string(contract::kDefaultDeletionPolicy);  // Retain | Delete
};

// Container resources as Kubernetes writes them: quantities by resource name ("cpu", "memory").
// Set on a step or a backend, they replace the operator's defaults (the chart's) as a whole.
struct Resources {
  std::map<std::string, std::string> requests, limits;
  bool operator==(const Resources&) const = default;
};

struct Step {
  std::string name;
  std::string worker;  // a built-in worker, or empty when `image` is set
  std::string image;
  int replicas = contract::kStepReplicas.fallback;
  std::vector<std::string> inputs, outputs;
  std::string expose_path;  // empty: not exposed
  bool storage = false;
  nlohmann::json config = nlohmann::json::object();
  std::optional<Delivery> delivery;    // empty: the pipeline's
  std::optional<Resources> resources;  // empty: the operator's defaults
};

struct Storage {
  std::string size;  // empty: no shared volume
  std::string storage_class_name;
  std::string access_mode = std::string(contract::kDefaultAccessMode);
};

// spec.networkPolicy: what the steps may reach and be reached by (pkg/plan/network_policy.h).
struct NetworkPolicy {
  std::vector<std::string> kafka_cidrs;  // where the brokers are; empty: see network_policy.h
  std::string ingress_namespace;         // the Ingress controller's; empty: any namespace
};

struct Pipeline {
  Meta meta;
  std::string bootstrap_servers;  // empty: the operator's (or local mode's) default
  std::string kafka_secret;       // Secret with librdkafka SASL/TLS settings, or empty
  std::vector<Topic> topics;
  std::vector<Step> steps;
  std::optional<Ingress> ingress;
  Storage storage;
  Delivery delivery;
  std::optional<NetworkPolicy> network_policy;  // none unless spec.networkPolicy.enabled
};

struct Backend {
  std::string name;
  int weight = contract::kBackendWeight.fallback;
  bool backup = false;
  int replicas = contract::kBackendReplicas.fallback;
  std::optional<Resources> resources;  // empty: the operator's defaults
};

struct HealthCheck {
  int max_fails = contract::kMaxFails.fallback;
  std::string fail_timeout = std::string(contract::kDefaultFailTimeout);
  std::string connect_timeout = std::string(contract::kDefaultConnectTimeout);
  // How long a backend may take to answer before the request moves on; empty: connect_timeout
  // (a backend that accepts but hangs is passed over as fast as one that does not accept).
  std::string read_timeout;
};

struct GatewayRef {
  std::string name, namespace_;
};

struct WeightedService {
  Meta meta;
  std::string worker;
  std::string image;
  int port = contract::kServicePort.fallback;
  std::vector<Backend> backends;
  HealthCheck health;
  std::string expose_path;
  std::optional<Ingress> ingress;
  std::optional<GatewayRef> gateway;
  nlohmann::json config = nlohmann::json::object();
};

struct Manifests {
  std::vector<Pipeline> pipelines;
  std::vector<WeightedService> weighted_services;
};

// False for workers whose outputs come from HTTP requests rather than from their inputs (the
// catalogue's http_source, pkg/contract/workers.h): their inputs are replies they wait for, so a
// loop through them is request/reply, not a cycle. Custom images count as input-driven.
bool outputs_follow_inputs(const Step& step);

}  // namespace pipewright::api
