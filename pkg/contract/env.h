#pragma once
// The PIPEWRIGHT_* variables a worker process gets: the one contract between the plan (which
// writes them: pkg/plan/env.cpp, patched by local mode: pkg/local/up.cpp) and
// `pipewright-worker` (which reads them: pkg/runtime/wiring.cpp). Each variable is a typed key;
// the text form of every type is written and read by the functions below, side by side.
// An empty value means the same as no value (the API server drops empty env values).

#include <chrono>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pkg/contract/spec.h"

namespace pipewright::contract {

// Ordered (name, value) pairs: a container's env.
using EnvVars = std::vector<std::pair<std::string, std::string>>;
// How a reader looks a variable up (the process environment, or an EnvVars in tests).
using Getenv = std::function<std::optional<std::string>(const std::string&)>;
// (logical name, Kafka topic) pairs, of outputs or inputs.
using Outputs = std::vector<std::pair<std::string, std::string>>;

// A variable that is missing its form, named in the message ("PIPEWRIGHT_MAX_ATTEMPTS=0: ...").
class EnvError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace env {

struct Text {
  std::string_view name;
  std::string_view fallback = {};
};
struct Integer {
  std::string_view name;
  int min, max, fallback;
};
struct Flag {  // "true" | "false"
  std::string_view name;
  bool fallback;
};
struct Duration {  // written as the manifest's text ("200ms"), read as milliseconds
  std::string_view name;
  std::string_view fallback;
};
struct List {  // comma-separated
  std::string_view name;
};
struct Pairs {  // "logical=topic", comma-separated
  std::string_view name;
};

// Identity of the process.
inline constexpr Text kNamespace{"PIPEWRIGHT_NAMESPACE", kDefaultNamespace};
inline constexpr Text kPipeline{"PIPEWRIGHT_PIPELINE"};
inline constexpr Text kStep{"PIPEWRIGHT_STEP"};
inline constexpr Text kService{"PIPEWRIGHT_SERVICE"};
inline constexpr Text kBackend{"PIPEWRIGHT_BACKEND"};  // the X-Served-By value
inline constexpr Text kWorker{"PIPEWRIGHT_WORKER"};    // empty for custom images
// Kafka.
inline constexpr Text kKafkaBootstrap{"PIPEWRIGHT_KAFKA_BOOTSTRAP"};
inline constexpr List kInputs{"PIPEWRIGHT_INPUTS"};  // Kafka topic names
// logical=Kafka topic of each input, so a step finds an input by the name the manifest gives
// it (the events gateway's config.topic); PIPEWRIGHT_INPUTS stays the list to consume.
inline constexpr Pairs kInputTopics{"PIPEWRIGHT_INPUT_TOPICS"};
inline constexpr Pairs kOutputs{"PIPEWRIGHT_OUTPUTS"};  // logical=Kafka topic
inline constexpr Text kConsumerGroup{"PIPEWRIGHT_CONSUMER_GROUP"};
inline constexpr Text kKafkaSecretDir{"PIPEWRIGHT_KAFKA_SECRET_DIR"};
// Delivery.
inline constexpr Integer kMaxAttempts{"PIPEWRIGHT_MAX_ATTEMPTS", contract::kMaxAttempts.min,
                                      contract::kMaxAttempts.max, contract::kMaxAttempts.fallback};
inline constexpr Duration kBackoffInitial{"PIPEWRIGHT_BACKOFF_INITIAL", kDefaultBackoffInitial};
inline constexpr Duration kBackoffMax{"PIPEWRIGHT_BACKOFF_MAX", kDefaultBackoffMax};
inline constexpr Flag kDeadLetter{"PIPEWRIGHT_DEAD_LETTER", kDefaultDeadLetter};
// Files and HTTP.
inline constexpr Text kConfig{"PIPEWRIGHT_CONFIG"};
inline constexpr Text kDataDir{"PIPEWRIGHT_DATA_DIR"};
inline constexpr Text kBasePath{"PIPEWRIGHT_BASE_PATH"};  // expose.path
inline constexpr Text kBindHost{"PIPEWRIGHT_BIND_HOST"};  // empty: every interface
inline constexpr Integer kHttpPort{"PIPEWRIGHT_HTTP_PORT", 0, 65535, 8080};
inline constexpr Integer kMetricsPort{"PIPEWRIGHT_METRICS_PORT", 0, 65535, 9090};
inline constexpr Duration kHttpRequestTimeout{"PIPEWRIGHT_HTTP_REQUEST_TIMEOUT", "120s"};
inline constexpr Integer kHttpMaxConnections{"PIPEWRIGHT_HTTP_MAX_CONNECTIONS", 1, 1'000'000, 512};
// A notify step's credentials, from Secrets (never in a ConfigMap).
inline constexpr Text kSmtpUsername{"PIPEWRIGHT_SMTP_USERNAME"};
inline constexpr Text kSmtpPassword{"PIPEWRIGHT_SMTP_PASSWORD"};
inline constexpr Text kTelegramToken{"PIPEWRIGHT_TELEGRAM_TOKEN"};

}  // namespace env

// Writing: replaces the variable's value, or appends it (the order of first writes is kept, so
// a rendered Deployment's env, and its hash, stay the same).
void set(EnvVars& vars, const env::Text& key, const std::string& value);
void set(EnvVars& vars, const env::Integer& key, int value);
void set(EnvVars& vars, const env::Flag& key, bool value);
void set(EnvVars& vars, const env::Duration& key, const std::string& text);
void set(EnvVars& vars, const env::List& key, const std::vector<std::string>& values);
void set(EnvVars& vars, const env::Pairs& key, const Outputs& pairs);

// Reading: the key's fallback when unset or empty; EnvError naming the variable otherwise.
std::string get(const Getenv& getenv, const env::Text& key);
int get(const Getenv& getenv, const env::Integer& key);
bool get(const Getenv& getenv, const env::Flag& key);
std::chrono::milliseconds get(const Getenv& getenv, const env::Duration& key);
std::vector<std::string> get(const Getenv& getenv, const env::List& key);
Outputs get(const Getenv& getenv, const env::Pairs& key);

// The value of `name` in `vars`, or "" when it is not set.
std::string value_of(const EnvVars& vars, std::string_view name);
// `vars` as a Getenv (what a process started with them would see).
Getenv lookup(const EnvVars& vars);

}  // namespace pipewright::contract
