#include "pkg/plan/env.h"

#include <algorithm>

#include "pkg/plan/topics.h"

namespace pipewright::plan {
namespace {

// A step names topics by their logical names; validation guarantees they are declared, and an
// undeclared one still gets the default Kafka name rather than disappearing.
std::string kafka_topic(const api::Pipeline& pipeline, const std::string& logical) {
  const auto it = std::find_if(pipeline.topics.begin(), pipeline.topics.end(),
                               [&](const api::Topic& t) { return t.name == logical; });
  if (it != pipeline.topics.end()) return topic_name(pipeline, *it);
  api::Topic undeclared;
  undeclared.name = logical;
  return topic_name(pipeline, undeclared);
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += ",";
    out += item;
  }
  return out;
}

}  // namespace

EnvVars step_env(const api::Pipeline& pipeline, const api::Step& step, const RenderOptions& options,
                 const std::string& config_path) {
  std::vector<std::string> inputs, outputs;
  for (const auto& in : step.inputs)
    inputs.push_back(kafka_topic(pipeline, in));
  for (const auto& out : step.outputs)
    outputs.push_back(out + "=" + kafka_topic(pipeline, out));
  const api::Delivery& delivery = step.delivery ? *step.delivery : pipeline.delivery;
  const std::string& bootstrap = pipeline.bootstrap_servers.empty()
                                     ? options.default_bootstrap_servers
                                     : pipeline.bootstrap_servers;
  EnvVars env = {
      {"PIPEWRIGHT_NAMESPACE", pipeline.meta.namespace_},
      {"PIPEWRIGHT_PIPELINE", pipeline.meta.name},
      {"PIPEWRIGHT_STEP", step.name},
      {"PIPEWRIGHT_WORKER", step.worker},
      {"PIPEWRIGHT_KAFKA_BOOTSTRAP", bootstrap},
      {"PIPEWRIGHT_INPUTS", join(inputs)},
      {"PIPEWRIGHT_OUTPUTS", join(outputs)},
      {"PIPEWRIGHT_CONSUMER_GROUP", consumer_group(pipeline, step)},
      {"PIPEWRIGHT_MAX_ATTEMPTS", std::to_string(delivery.max_attempts)},
      {"PIPEWRIGHT_BACKOFF_INITIAL", delivery.backoff_initial},
      {"PIPEWRIGHT_BACKOFF_MAX", delivery.backoff_max},
      {"PIPEWRIGHT_DEAD_LETTER", delivery.dead_letter ? "true" : "false"},
      {"PIPEWRIGHT_CONFIG", config_path},
      {"PIPEWRIGHT_HTTP_PORT", std::to_string(kHttpPort)},
      {"PIPEWRIGHT_METRICS_PORT", std::to_string(kMetricsPort)},
  };
  // Ingress and the local gateway pass the path on unchanged: the worker serves under it.
  if (!step.expose_path.empty()) env.emplace_back("PIPEWRIGHT_BASE_PATH", step.expose_path);
  if (step.storage) env.emplace_back("PIPEWRIGHT_DATA_DIR", kDataDir);
  if (!pipeline.kafka_secret.empty())
    env.emplace_back("PIPEWRIGHT_KAFKA_SECRET_DIR", kKafkaSecretDir);
  return env;
}

EnvVars service_backend_env(const api::WeightedService& service, const api::Backend& backend,
                            const std::string& config_path) {
  EnvVars env = {
      {"PIPEWRIGHT_NAMESPACE", service.meta.namespace_},
      {"PIPEWRIGHT_SERVICE", service.meta.name},
      {"PIPEWRIGHT_BACKEND", backend.name},
      {"PIPEWRIGHT_WORKER", service.worker},
      {"PIPEWRIGHT_HTTP_PORT", std::to_string(service.port)},
      {"PIPEWRIGHT_METRICS_PORT", std::to_string(kMetricsPort)},
      {"PIPEWRIGHT_CONFIG", config_path},
  };
  // The router passes the path on unchanged: a backend also serves its routes under expose.path.
  if (!service.expose_path.empty()) env.emplace_back("PIPEWRIGHT_BASE_PATH", service.expose_path);
  return env;
}

void set_env(EnvVars& env, const std::string& name, const std::string& value) {
  const auto it =
      std::find_if(env.begin(), env.end(), [&](const auto& e) { return e.first == name; });
  if (it != env.end()) {
    it->second = value;
  } else {
    env.emplace_back(name, value);
  }
}

std::string env_value(const EnvVars& env, const std::string& name) {
  const auto it =
      std::find_if(env.begin(), env.end(), [&](const auto& e) { return e.first == name; });
  return it == env.end() ? std::string() : it->second;
}

}  // namespace pipewright::plan
