#pragma once
// The pipewright.io/v1alpha1 resources as C++ values (SPEC section 1), with defaults applied.

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace pipewright::api {

inline constexpr const char* kGroupVersion = "pipewright.io/v1alpha1";

// Where a value came from, for messages that name the file and line.
struct Source {
  std::string file;
  int line = 0;  // 1-based; 0 when unknown
};

struct Meta {
  std::string name;
  std::string namespace_ = "default";
  Source source;
};

struct Topic {
  std::string name;        // logical name used by steps
  std::string topic_name;  // empty: "<namespace>.<pipeline>.<name>" (plan decides)
  int partitions = 1;
  int replication_factor = 1;
  std::map<std::string, std::string> config;
  std::string deletion_policy = "Retain";  // Retain | Delete
};

struct Step {
  std::string name;
  std::string worker;  // a built-in worker, or empty when `image` is set
  std::string image;
  int replicas = 1;
  std::vector<std::string> inputs, outputs;
  std::string expose_path;  // empty: not exposed
  bool storage = false;
  nlohmann::json config = nlohmann::json::object();
};

struct Pipeline {
  Meta meta;
  std::string bootstrap_servers;  // empty: the operator's (or local mode's) default
  std::vector<Topic> topics;
  std::vector<Step> steps;
};

struct Backend {
  std::string name;
  int weight = 1;
  bool backup = false;
};

struct WeightedService {
  Meta meta;
  std::string worker;
  std::string image;
  int port = 8080;
  std::vector<Backend> backends;
  std::string expose_path;
};

struct Manifests {
  std::vector<Pipeline> pipelines;
  std::vector<WeightedService> weighted_services;
};

// The built-in workers of `pipewright-worker <type>` (SPEC section 3).
const std::vector<std::string>& builtin_workers();

// False for workers whose outputs come from HTTP requests rather than from their inputs
// (upload, orders-api, events-api, events-gateway): their inputs are replies they wait for, so a
// loop through them is request/reply, not a cycle. Custom images count as input-driven.
bool outputs_follow_inputs(const Step& step);

}  // namespace pipewright::api
