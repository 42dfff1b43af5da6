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

}  // namespace

EnvVars step_env(const api::Pipeline& pipeline, const api::Step& step, const RenderOptions& options,
                 const std::string& config_path) {
  namespace env = contract::env;
  std::vector<std::string> inputs;
  contract::Outputs input_topics;
  contract::Outputs outputs;
  for (const auto& in : step.inputs) {
    inputs.push_back(kafka_topic(pipeline, in));
    input_topics.emplace_back(in, inputs.back());
  }
  for (const auto& out : step.outputs)
    outputs.emplace_back(out, kafka_topic(pipeline, out));
  const api::Delivery& delivery = step.delivery ? *step.delivery : pipeline.delivery;
  const std::string& bootstrap = pipeline.bootstrap_servers.empty()
                                     ? options.default_bootstrap_servers
                                     : pipeline.bootstrap_servers;
  // In this order: a Deployment's env is part of its hash.
  EnvVars vars;
  contract::set(vars, env::kNamespace, pipeline.meta.namespace_);
  contract::set(vars, env::kPipeline, pipeline.meta.name);
  contract::set(vars, env::kStep, step.name);
  contract::set(vars, env::kWorker, step.worker);
  contract::set(vars, env::kKafkaBootstrap, bootstrap);
  contract::set(vars, env::kInputs, inputs);
  if (!input_topics.empty()) contract::set(vars, env::kInputTopics, input_topics);
  contract::set(vars, env::kOutputs, outputs);
  contract::set(vars, env::kConsumerGroup, consumer_group(pipeline, step));
  contract::set(vars, env::kMaxAttempts, delivery.max_attempts);
  contract::set(vars, env::kBackoffInitial, delivery.backoff_initial);
  contract::set(vars, env::kBackoffMax, delivery.backoff_max);
  contract::set(vars, env::kDeadLetter, delivery.dead_letter);
  contract::set(vars, env::kConfig, config_path);
  contract::set(vars, env::kHttpPort, kHttpPort);
  contract::set(vars, env::kMetricsPort, kMetricsPort);
  // Ingress and the local gateway pass the path on unchanged: the worker serves under it.
  if (!step.expose_path.empty()) contract::set(vars, env::kBasePath, step.expose_path);
  if (step.storage) contract::set(vars, env::kDataDir, std::string(kDataDir));
  if (!pipeline.kafka_secret.empty())
    contract::set(vars, env::kKafkaSecretDir, std::string(kKafkaSecretDir));
  return vars;
}

EnvVars service_backend_env(const api::WeightedService& service, const api::Backend& backend,
                            const std::string& config_path) {
  namespace env = contract::env;
  EnvVars vars;
  contract::set(vars, env::kNamespace, service.meta.namespace_);
  contract::set(vars, env::kService, service.meta.name);
  contract::set(vars, env::kBackend, backend.name);
  contract::set(vars, env::kWorker, service.worker);
  contract::set(vars, env::kHttpPort, service.port);
  contract::set(vars, env::kMetricsPort, kMetricsPort);
  contract::set(vars, env::kConfig, config_path);
  // The router passes the path on unchanged: a backend also serves its routes under expose.path.
  if (!service.expose_path.empty()) contract::set(vars, env::kBasePath, service.expose_path);
  return vars;
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
  return contract::value_of(env, name);
}

}  // namespace pipewright::plan
