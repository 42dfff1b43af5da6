#include "pkg/runtime/wiring.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "pkg/contract/duration.h"
#include "pkg/contract/env.h"
#include "pkg/json/limited.h"

namespace pipewright::runtime {

std::string Wiring::source() const {
  if (!service.empty()) return "/pipewright/" + namespace_ + "/" + service + "/" + backend;
  return "/pipewright/" + namespace_ + "/" + pipeline + "/" + step;
}

const std::string& Wiring::output(const std::string& logical) const {
  const auto it = outputs.find(logical);
  if (it == outputs.end()) {
    throw ConfigError("step " + step + " has no output '" + logical +
                      "' (add it to the step's outputs)");
  }
  return it->second;
}

Getenv process_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

std::chrono::milliseconds parse_duration(const std::string& text) {
  const auto d = contract::parse_duration(text);
  // The text is quoted whole only when short: it may come from anywhere.
  if (!d) {
    throw ConfigError("'" + (text.size() <= 32 ? text : text.substr(0, 32) + "...") + "' is not " +
                      std::string(contract::kDurationRule));
  }
  return *d;
}

// Every variable is read by its typed key (pkg/contract/env.h), the code that also writes it.
Wiring wiring_from_env(const Getenv& getenv) {
  namespace env = contract::env;
  using contract::get;
  Wiring w;
  try {
    w.namespace_ = get(getenv, env::kNamespace);
    w.pipeline = get(getenv, env::kPipeline);
    w.step = get(getenv, env::kStep);
    w.worker = get(getenv, env::kWorker);
    w.service = get(getenv, env::kService);
    w.backend = get(getenv, env::kBackend);
    w.bootstrap = get(getenv, env::kKafkaBootstrap);
    w.inputs = get(getenv, env::kInputs);
    for (auto& [logical, topic] : get(getenv, env::kInputTopics))
      w.input_topics[logical] = topic;
    for (auto& [logical, topic] : get(getenv, env::kOutputs))
      w.outputs[logical] = topic;
    w.group = get(getenv, env::kConsumerGroup);
    w.max_attempts = get(getenv, env::kMaxAttempts);
    w.backoff_initial = get(getenv, env::kBackoffInitial);
    w.backoff_max = get(getenv, env::kBackoffMax);
    w.dead_letter = get(getenv, env::kDeadLetter);
    w.config_path = get(getenv, env::kConfig);
    w.data_dir = get(getenv, env::kDataDir);
    w.kafka_secret_dir = get(getenv, env::kKafkaSecretDir);
    w.bind_host = get(getenv, env::kBindHost);
    w.base_path = get(getenv, env::kBasePath);
    w.http_port = get(getenv, env::kHttpPort);
    w.metrics_port = get(getenv, env::kMetricsPort);
    w.http_request_timeout = get(getenv, env::kHttpRequestTimeout);
    w.http_max_connections = get(getenv, env::kHttpMaxConnections);
  } catch (const contract::EnvError& e) {
    throw ConfigError(e.what());
  }
  while (w.base_path.size() > 1 && w.base_path.back() == '/')
    w.base_path.pop_back();
  if (w.base_path == "/") w.base_path.clear();
  if (!w.base_path.empty() && w.base_path.front() != '/') {
    throw ConfigError(std::string(env::kBasePath.name) + " must start with '/'");
  }
  if (w.http_request_timeout.count() <= 0)
    throw ConfigError(std::string(env::kHttpRequestTimeout.name) + " must be above zero");
  if (!w.inputs.empty() && w.group.empty()) {
    throw ConfigError(std::string(env::kConsumerGroup.name) + " must be set when " +
                      std::string(env::kInputs.name) + " is");
  }
  if ((!w.inputs.empty() || !w.outputs.empty()) && w.bootstrap.empty()) {
    throw ConfigError(std::string(env::kKafkaBootstrap.name) +
                      " must be set for a step with topics");
  }
  return w;
}

nlohmann::json load_config(const std::filesystem::path& path) {
  if (path.empty()) return nlohmann::json::object();
  std::ifstream in(path);
  if (!in) return nlohmann::json::object();
  std::stringstream s;
  s << in.rdbuf();
  if (s.str().find_first_not_of(" \t\r\n") == std::string::npos) return nlohmann::json::object();
  nlohmann::json j;
  try {
    j = json::parse(s.str());
  } catch (const json::ParseError& e) {
    throw ConfigError(path.string() + ": not JSON: " + e.what());
  }
  if (!j.is_object()) throw ConfigError(path.string() + ": the config must be a JSON object");
  return j;
}

void check_keys(const nlohmann::json& config, const std::set<std::string>& known,
                const std::string& path) {
  for (const auto& [key, value] : config.items()) {
    if (known.contains(key)) continue;
    std::string list;
    for (const auto& k : known)
      list += (list.empty() ? "" : ", ") + k;
    throw ConfigError(path + "." + key + ": unknown key (known: " + (list.empty() ? "none" : list) +
                      ")");
  }
}

std::int64_t config_int(const nlohmann::json& config, const std::string& key, std::int64_t fallback,
                        std::int64_t min, std::int64_t max) {
  const auto it = config.find(key);
  if (it == config.end()) return fallback;
  if (!it->is_number_integer()) throw ConfigError("config." + key + ": must be a whole number");
  const auto n = it->get<std::int64_t>();
  if (n < min || n > max) {
    throw ConfigError("config." + key + ": must be from " + std::to_string(min) + " to " +
                      std::to_string(max));
  }
  return n;
}

std::string config_string(const nlohmann::json& config, const std::string& key,
                          const std::string& fallback) {
  const auto it = config.find(key);
  if (it == config.end()) return fallback;
  if (!it->is_string()) throw ConfigError("config." + key + ": must be a string");
  return it->get<std::string>();
}

std::vector<std::string> config_strings(const nlohmann::json& config, const std::string& key,
                                        const std::vector<std::string>& fallback) {
  const auto it = config.find(key);
  if (it == config.end()) return fallback;
  std::vector<std::string> out;
  if (!it->is_array()) throw ConfigError("config." + key + ": must be a list of strings");
  for (const auto& v : *it) {
    if (!v.is_string()) throw ConfigError("config." + key + ": must be a list of strings");
    out.push_back(v.get<std::string>());
  }
  return out;
}

}  // namespace pipewright::runtime
