#pragma once
// Status from observations (pure): conditions with stable lastTransitionTime, phase, per-topic
// and per-step lines. The same observations give the same status, so an unchanged world causes
// no status write.

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "pkg/kafka/admin.h"

namespace pipewright::controller {

struct StepObservation {
  std::string name;
  int replicas = 0;        // desired
  int ready_replicas = 0;  // from the Deployment's status (0 when it does not exist yet)
};

// A step's latest sample from Kafka (lag.h).
struct StepLagObservation {
  std::optional<std::int64_t> lag;           // none: the step has no inputs
  std::optional<std::int64_t> dead_letters;  // none: it sends no dead letters
  std::optional<bool> lag_growing;           // none: too few samples yet
};

struct PipelineObservation {
  long generation = 0;
  std::optional<std::string> invalid_spec;  // "spec.steps[1].worker: ..." when refused
  std::vector<kafka::TopicStatus> topics;
  std::string topics_error;       // Kafka unreachable or not configured
  std::string children_error;     // an API write the server refused
  std::string children_conflict;  // an object of a child's name that is someone else's
  std::vector<StepObservation> steps;
  // The record of topics this Pipeline created; none: leave the status without one (a spec
  // refused before an older operator's topics were adopted).
  std::optional<std::vector<std::string>> created_topics;
  std::map<std::string, StepLagObservation> step_lag;  // by step name
  bool lag_watched = false;  // the operator reads lag: LagGrowing and DeadLetters are reported
  bool lag_unknown = false;  // Kafka did not answer this time: keep what status showed
};

struct BackendObservation {
  std::string name;
  int weight = 1;
  bool backup = false;
  int replicas = 0;
  int ready_replicas = 0;
};

struct ServiceObservation {
  long generation = 0;
  std::optional<std::string> invalid_spec;
  std::string children_error;
  std::string children_conflict;
  std::vector<BackendObservation> backends;
  int router_replicas = 1;
  int router_ready = 0;
  std::string warning;  // e.g. a backup that an HTTPRoute cannot express
};

// `previous` is the resource's current .status (or null); `now` an RFC 3339 time.
nlohmann::json pipeline_status(const PipelineObservation& o, const nlohmann::json& previous,
                               const std::string& now);
nlohmann::json service_status(const ServiceObservation& o, const nlohmann::json& previous,
                              const std::string& now);

// RFC 3339 UTC with seconds, as metav1.Time expects.
std::string now_rfc3339();

}  // namespace pipewright::controller
