#include "pkg/controller/status.h"

#include <ctime>

#include "pkg/controller/lag.h"
#include "pkg/units/rfc3339.h"

namespace pipewright::controller {
namespace {

using nlohmann::json;

struct Condition {
  std::string type;
  bool ok = false;
  std::string reason, message;
};

// Keeps lastTransitionTime from `previous` when the condition's status did not change.
json conditions_json(const std::vector<Condition>& conditions, const json& previous,
                     long generation, const std::string& now) {
  json out = json::array();
  for (const auto& c : conditions) {
    const std::string status = c.ok ? "True" : "False";
    std::string since = now;
    if (previous.is_object() && previous.contains("conditions")) {
      for (const auto& p : previous["conditions"]) {
        if (p.value("type", "") == c.type && p.value("status", "") == status) {
          since = p.value("lastTransitionTime", now);
        }
      }
    }
    out.push_back({{"type", c.type},
                   {"status", status},
                   {"reason", c.reason},
                   {"message", c.message},
                   {"lastTransitionTime", since},
                   {"observedGeneration", generation}});
  }
  return out;
}

// The condition of `type` in `previous`, as it was (kept while nothing new is known).
std::optional<Condition> previous_condition(const json& previous, const std::string& type) {
  if (!previous.is_object()) return std::nullopt;
  for (const auto& p : previous.value("conditions", json::array())) {
    if (p.value("type", "") == type)
      return Condition{type, p.value("status", "") == "True", p.value("reason", ""),
                       p.value("message", "")};
  }
  return std::nullopt;
}

// The step's line in `previous` (null when none).
json previous_step(const json& previous, const std::string& name) {
  if (!previous.is_object()) return nullptr;
  for (const auto& line : previous.value("steps", json::array())) {
    if (line.is_object() && line.value("name", "") == name) return line;
  }
  return nullptr;
}

std::optional<std::int64_t> number(const json& line, const char* key) {
  if (!line.is_object() || !line.contains(key) || !line[key].is_number_integer())
    return std::nullopt;
  return line[key].get<std::int64_t>();
}

// Lag and dead letters on each step line, and the two conditions they decide.
void report_lag(const PipelineObservation& o, const json& previous, json& step_lines,
                std::vector<Condition>& conditions) {
  Condition growing{"LagGrowing", false, "LagNotGrowing", "no step's consumer lag is growing"};
  Condition dead{"DeadLetters", false, "NoDeadLetters", "no step has dead letters"};
  std::string grew, letters;
  bool undecided = o.lag_unknown;
  for (std::size_t i = 0; i < o.steps.size(); ++i) {
    const auto it = o.step_lag.find(o.steps[i].name);
    const StepLagObservation s = it == o.step_lag.end() ? StepLagObservation{} : it->second;
    const std::string& step = o.steps[i].name;
    auto& line = step_lines[i];
    const json before = previous_step(previous, step);
    if (const auto shown = number(before, "lag"); s.lag) {
      line["lag"] = reported_lag(shown, *s.lag);
    } else if (o.lag_unknown && shown) {
      line["lag"] = *shown;
    }
    if (const auto shown = number(before, "deadLetters"); s.dead_letters) {
      line["deadLetters"] = *s.dead_letters;
    } else if (o.lag_unknown && shown) {
      line["deadLetters"] = *shown;
    }
    if (s.lag_growing.value_or(false)) {
      grew += (grew.empty() ? "" : "; ") + std::string("step ") + step + ": consumer lag rose " +
              std::to_string(kLagSamples - 1) + " samples in a row, to " + line["lag"].dump();
    } else if (s.lag && !s.lag_growing) {
      undecided = true;
    }
    if (const auto n = number(line, "deadLetters"); n && *n > 0) {
      letters += (letters.empty() ? "" : "; ") + std::string("step ") + step + ": " +
                 std::to_string(*n) + " dead letters (pipewright dlq list --step)";
    }
  }
  if (!grew.empty()) {
    growing = {"LagGrowing", true, "LagGrowing", grew};
  } else if (const auto kept = previous_condition(previous, "LagGrowing"); undecided && kept) {
    growing = *kept;
  }
  if (!letters.empty()) dead = {"DeadLetters", true, "DeadLetters", letters};
  conditions.push_back(growing);
  conditions.push_back(dead);
}

std::string phase(bool invalid, bool ready, const json& previous) {
  if (invalid) return "Failed";
  if (ready) return "Running";
  const std::string before = previous.is_object() ? previous.value("phase", "") : "";
  return before == "Running" || before == "Degraded" ? "Degraded" : "Pending";
}

}  // namespace

std::string now_rfc3339() {
  return units::rfc3339(std::chrono::system_clock::now(), units::Precision::seconds);
}

json pipeline_status(const PipelineObservation& o, const json& previous, const std::string& now) {
  std::vector<Condition> conditions;
  json status = {{"observedGeneration", o.generation}};
  // The record of what this Pipeline may alter and delete: kept whatever else is reported.
  if (o.created_topics) status["createdTopics"] = *o.created_topics;
  if (o.invalid_spec) {
    conditions.push_back({"Ready", false, "InvalidSpec", *o.invalid_spec});
    status["phase"] = phase(true, false, previous);
    status["conditions"] = conditions_json(conditions, previous, o.generation, now);
    return status;
  }

  Condition topics{"TopicsReady", true, "TopicsReady", "every topic exists as declared"};
  json topic_lines = json::array();
  for (const auto& t : o.topics) {
    topic_lines.push_back({{"name", t.logical},
                           {"topicName", t.name},
                           {"partitions", t.partitions},
                           {"ready", t.ready}});
    if (!t.message.empty()) topic_lines.back()["message"] = t.message;
    if (!t.ready && topics.ok)
      topics = {"TopicsReady", false, t.reason(), t.name + ": " + t.message};
  }
  if (!o.topics_error.empty()) topics = {"TopicsReady", false, "KafkaUnavailable", o.topics_error};

  Condition workloads{"WorkloadsReady", true, "WorkloadsReady",
                      "every step has its ready replicas"};
  json step_lines = json::array();
  int ready_steps = 0;
  for (const auto& s : o.steps) {
    step_lines.push_back(
        {{"name", s.name}, {"replicas", s.replicas}, {"readyReplicas", s.ready_replicas}});
    if (s.ready_replicas >= s.replicas) {
      ++ready_steps;
    } else if (workloads.ok) {
      workloads = {"WorkloadsReady", false, "StepNotReady",
                   "step " + s.name + " has " + std::to_string(s.ready_replicas) + "/" +
                       std::to_string(s.replicas) + " ready replicas"};
    }
  }
  if (!o.children_conflict.empty())
    workloads = {"WorkloadsReady", false, "ForeignObject", o.children_conflict};
  if (!o.children_error.empty())
    workloads = {"WorkloadsReady", false, "ApplyFailed", o.children_error};

  const bool ready = topics.ok && workloads.ok;
  Condition overall{
      "Ready", ready, ready ? "Ready" : (topics.ok ? workloads.reason : topics.reason),
      ready ? "the pipeline runs as declared" : (topics.ok ? workloads.message : topics.message)};
  conditions = {topics, workloads, overall};
  if (o.lag_watched) report_lag(o, previous, step_lines, conditions);
  status["phase"] = phase(false, ready, previous);
  status["conditions"] = conditions_json(conditions, previous, o.generation, now);
  status["topics"] = topic_lines;
  status["steps"] = step_lines;
  status["stepCount"] = static_cast<int>(o.steps.size());
  status["ready"] = std::to_string(ready_steps) + "/" + std::to_string(o.steps.size());
  return status;
}

json service_status(const ServiceObservation& o, const json& previous, const std::string& now) {
  json status = {{"observedGeneration", o.generation}};
  if (o.invalid_spec) {
    status["phase"] = phase(true, false, previous);
    status["conditions"] = conditions_json({{"Ready", false, "InvalidSpec", *o.invalid_spec}},
                                           previous, o.generation, now);
    return status;
  }
  json lines = json::array();
  int ready_backends = 0;
  bool any_weighted_ready = false;
  for (const auto& b : o.backends) {
    const bool ok = b.replicas > 0 && b.ready_replicas >= b.replicas;
    lines.push_back({{"name", b.name},
                     {"weight", b.backup ? 0 : b.weight},
                     {"backup", b.backup},
                     {"ready", ok}});
    ready_backends += ok ? 1 : 0;
    any_weighted_ready = any_weighted_ready || (ok && !b.backup);
  }
  Condition backends{"BackendsReady", ready_backends == static_cast<int>(o.backends.size()),
                     "BackendsReady", "every backend has its ready replicas"};
  if (!backends.ok) {
    backends.reason = any_weighted_ready ? "SomeBackendsNotReady" : "NoWeightedBackendReady";
    backends.message = std::to_string(ready_backends) + "/" + std::to_string(o.backends.size()) +
                       " backends ready";
  }
  Condition router{"RouterReady", o.router_ready >= o.router_replicas, "RouterReady",
                   "the nginx router is ready"};
  if (!router.ok) {
    router.reason = "RouterNotReady";
    router.message = std::to_string(o.router_ready) + "/" + std::to_string(o.router_replicas) +
                     " router replicas ready";
  }
  if (!o.children_conflict.empty())
    router = {"RouterReady", false, "ForeignObject", o.children_conflict};
  if (!o.children_error.empty()) router = {"RouterReady", false, "ApplyFailed", o.children_error};
  const bool ready = backends.ok && router.ok;
  Condition overall{"Ready", ready, ready ? "Ready" : (router.ok ? backends.reason : router.reason),
                    ready ? "every backend serves behind the router"
                          : (router.ok ? backends.message : router.message)};
  std::vector<Condition> conditions = {backends, router, overall};
  if (!o.warning.empty())
    conditions.push_back({"Warning", true, "BackupNotExpressible", o.warning});
  status["phase"] = phase(false, ready, previous);
  status["conditions"] = conditions_json(conditions, previous, o.generation, now);
  status["backends"] = lines;
  status["backendCount"] = static_cast<int>(o.backends.size());
  status["ready"] = std::to_string(ready_backends) + "/" + std::to_string(o.backends.size());
  return status;
}

}  // namespace pipewright::controller
