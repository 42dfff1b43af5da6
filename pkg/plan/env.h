#pragma once
// The environment a worker process gets: the one contract between the plan and
// `pipewright-worker`, shared by the Kubernetes Deployments and local mode so both run a worker
// the same way.

#include <string>
#include <utility>
#include <vector>

#include "pkg/api/types.h"
#include "pkg/contract/env.h"

namespace pipewright::plan {

// Images are the project's own (built by the Dockerfile; `scripts/cluster` preloads them), pulled
// only when not present, so a node without a registry runs them.
struct RenderOptions {
  std::string worker_image = "pipewright/worker:latest";
  std::string router_image = "pipewright/router:latest";
  std::string image_pull_policy = "IfNotPresent";
  std::string default_bootstrap_servers;  // for Pipelines that name none
  // Containers' requests and limits unless a step or backend sets its own (the chart sets these).
  api::Resources worker_resources{{{"cpu", "50m"}, {"memory", "64Mi"}}, {{"memory", "512Mi"}}};
  api::Resources router_resources{{{"cpu", "20m"}, {"memory", "16Mi"}}, {{"memory", "128Mi"}}};
};

// Where things live inside a worker container.
inline constexpr const char* kConfigDir = "/etc/pipewright";
inline constexpr const char* kConfigPath = "/etc/pipewright/config.json";
inline constexpr const char* kDataDir = "/data";
inline constexpr const char* kKafkaSecretDir = "/etc/pipewright/kafka";
inline constexpr int kHttpPort = contract::env::kHttpPort.fallback;
inline constexpr int kMetricsPort = contract::env::kMetricsPort.fallback;

using contract::EnvVars;

// PIPEWRIGHT_NAMESPACE, _PIPELINE, _STEP, _WORKER (empty for custom images), _KAFKA_BOOTSTRAP,
// _INPUTS (Kafka topic names, comma-separated), _OUTPUTS (`logical=kafkaTopic`, comma-separated),
// _CONSUMER_GROUP, _MAX_ATTEMPTS, _BACKOFF_INITIAL, _BACKOFF_MAX, _DEAD_LETTER ("true"/"false"),
// _CONFIG (config_path), _HTTP_PORT (8080), _METRICS_PORT (9090), then _BASE_PATH (expose.path)
// when the step is exposed, _DATA_DIR (/data) when the
// step sets storage and _KAFKA_SECRET_DIR when spec.kafka.secretRef is set.
EnvVars step_env(const api::Pipeline& pipeline, const api::Step& step, const RenderOptions& options,
                 const std::string& config_path = kConfigPath);

// A WeightedService backend: PIPEWRIGHT_NAMESPACE, _SERVICE, _BACKEND (the X-Served-By value),
// _WORKER, _HTTP_PORT (spec.port), _METRICS_PORT (9090), _CONFIG (config_path), and _BASE_PATH
// (expose.path) when exposed.
EnvVars service_backend_env(const api::WeightedService& service, const api::Backend& backend,
                            const std::string& config_path = kConfigPath);

// Replaces the value of `name`, or appends it. Untyped: for tests and custom variables; local
// mode patches the typed keys with contract::set.
void set_env(EnvVars& env, const std::string& name, const std::string& value);

// The value of `name`, or "" when it is not set.
std::string env_value(const EnvVars& env, const std::string& name);

}  // namespace pipewright::plan
