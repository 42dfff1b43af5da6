#pragma once
// What a worker process learns from its environment (the contract of plan::step_env and
// plan::service_backend_env) and its step's config file. Read once at start; a mistake is a
// clear error naming the variable or the config key, before anything connects.

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "pkg/contract/env.h"

namespace pipewright::runtime {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Wiring {
  std::string namespace_, pipeline, step, worker;
  std::string service, backend;  // WeightedService backends instead of pipeline/step
  std::string bootstrap;
  std::vector<std::string> inputs;                  // Kafka topic names
  std::map<std::string, std::string> input_topics;  // logical name -> Kafka topic, per input
  std::map<std::string, std::string> outputs;       // logical name -> Kafka topic
  std::string group;
  // Defaults: the keys' (pkg/contract/env.h), which are the manifest's.
  int max_attempts = contract::env::kMaxAttempts.fallback;
  std::chrono::milliseconds backoff_initial{200}, backoff_max{30000};
  bool dead_letter = contract::env::kDeadLetter.fallback;
  std::filesystem::path config_path, data_dir, kafka_secret_dir;
  std::string base_path;  // the step's expose.path: routes are served under it too
  std::string bind_host;  // empty: every interface (containers); local mode sets 127.0.0.1
  int http_port = contract::env::kHttpPort.fallback,
      metrics_port = contract::env::kMetricsPort.fallback;
  // Limits of both HTTP servers (docs/security.md); optional PIPEWRIGHT_HTTP_REQUEST_TIMEOUT
  // (the whole request; the head gets at most 10 s of it) and PIPEWRIGHT_HTTP_MAX_CONNECTIONS.
  std::chrono::milliseconds http_request_timeout{120'000};
  int http_max_connections = contract::env::kHttpMaxConnections.fallback;

  // "/pipewright/<namespace>/<pipeline>/<step>" (or .../<service>/<backend>): the CloudEvents
  // source (a URI-reference) of what the step writes. Names are DNS labels: no escaping needed.
  std::string source() const;
  // The Kafka topic of a logical output; throws ConfigError when the step has no such output.
  const std::string& output(const std::string& logical) const;
};

using contract::Getenv;

// From PIPEWRIGHT_* variables (pkg/contract/env.h, the keys plan/env.cpp writes). Throws
// ConfigError naming the variable.
Wiring wiring_from_env(const Getenv& getenv);
Getenv process_env();

// "200ms", "30s", "5m", "1h". Throws ConfigError.
std::chrono::milliseconds parse_duration(const std::string& text);

// The step's config: {} when the file is absent or empty. Throws ConfigError for invalid JSON or
// a non-object.
nlohmann::json load_config(const std::filesystem::path& path);

// Throws ConfigError "config.<key>: unknown key (known: a, b)" for the first key not in `known`.
void check_keys(const nlohmann::json& config, const std::set<std::string>& known,
                const std::string& path = "config");

// Typed reads with defaults; a present value of the wrong type is a ConfigError naming the key.
std::int64_t config_int(const nlohmann::json& config, const std::string& key, std::int64_t fallback,
                        std::int64_t min, std::int64_t max);
std::string config_string(const nlohmann::json& config, const std::string& key,
                          const std::string& fallback);
std::vector<std::string> config_strings(const nlohmann::json& config, const std::string& key,
                                        const std::vector<std::string>& fallback);

}  // namespace pipewright::runtime
