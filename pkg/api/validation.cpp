#include "pkg/api/validation.h"

#include <algorithm>
#include <cctype>
#include <functional>
#include <map>

#include "pkg/contract/duration.h"
#include "pkg/contract/names.h"
#include "pkg/contract/quantity.h"
#include "pkg/contract/spec.h"

namespace pipewright::api {

bool outputs_follow_inputs(const Step& step) {
  const auto* worker = contract::find_worker(step.worker);
  return worker == nullptr || !worker->http_source;
}

namespace validation {
namespace {

std::string quoted_list(const auto& names) {
  std::string out;
  for (const auto& n : names)
    out += (out.empty() ? "" : ", ") + std::string(n);
  return out;
}

template <typename List>
std::string one_of(const std::string& value, const List& allowed) {
  if (std::find(allowed.begin(), allowed.end(), value) != allowed.end()) return {};
  return "must be " + quoted_list(allowed);
}

}  // namespace

std::string at_most(std::size_t characters) {
  return "must be at most " + std::to_string(characters) + " characters";
}

std::string object_name(const std::string& name) {
  if (name.empty() || contract::is_dns_label(name)) return {};
  return "must be a DNS label: lowercase letters, digits and '-', at most 63";
}

std::string namespace_name(const std::string& name) {
  return contract::is_dns_label(name) ? std::string() : "must be a DNS label";
}

std::string router_service_name(const std::string& name) {
  if (name.empty() || std::isalpha(static_cast<unsigned char>(name[0])) != 0) return {};
  return "names the router's Service, which must start with a letter";
}

std::string part_name(const std::string& name) {
  if (name.empty() || contract::is_dns_label(name)) return {};
  return "must be a DNS label";
}

std::string duplicate(const std::string& what, const std::string& name) {
  return "duplicate " + what + " name '" + name + "'";
}

// Kubernetes refuses names over 63 characters, and a Service name must start with a letter:
// caught here rather than as a failed apply.
std::vector<std::string> child_name(const std::string& owner, const std::string& part,
                                    bool service) {
  std::vector<std::string> out;
  if (owner.empty() || part.empty()) return out;
  const std::string name = contract::child_name(owner, part);
  if (name.size() > contract::kMaxObjectName)
    out.push_back("'" + name + "' (the name of its Deployment) is longer than 63 characters");
  if (service && std::isalpha(static_cast<unsigned char>(name[0])) == 0)
    out.push_back("'" + name + "' names a Service, which must start with a letter");
  return out;
}

// The rule the worker applies to the same value: no value validate accepts makes a worker refuse
// to start.
std::string duration(const std::string& value) {
  if (value.empty() || contract::parse_duration(value)) return {};
  return "must be " + std::string(contract::kDurationRule);
}

std::string expose_path(const std::string& path) {
  if (path.empty() || contract::is_expose_path(path)) return {};
  return path.size() > contract::kMaxExposePath ? at_most(contract::kMaxExposePath)
                                                : std::string(contract::kExposePathRule);
}

std::string storage_size(const std::string& size) {
  if (size.empty() || contract::is_storage_size(size)) return {};
  return "must be " + std::string(contract::kStorageSizeRule);
}

std::string access_mode(const std::string& mode) {
  return one_of(mode, contract::kAccessModes);
}

std::string deletion_policy(const std::string& policy) {
  return one_of(policy, contract::kDeletionPolicies);
}

std::string logical_topic(const std::string& name) {
  if (name.empty() || contract::is_topic_name(name)) return {};
  return "may hold only letters, digits, '.', '_' and '-'";
}

std::string kafka_topic(const std::string& name) {
  if (!name.empty() && !contract::is_topic_name(name)) return "is not a valid Kafka topic name";
  if (contract::is_internal_topic(name))
    return "names starting with '__' are Kafka's internal topics";
  return {};
}

// What the API server would refuse in the NetworkPolicy, refused with its field path.
std::string cidr(const std::string& cidr) {
  return contract::is_cidr(cidr) ? std::string() : "must be a CIDR like 10.0.0.0/8";
}

std::string ingress_namespace(const std::string& name) {
  if (name.empty() || contract::is_dns_label(name)) return {};
  return "must be a namespace name";
}

std::string resource_quantity(const std::string& quantity) {
  if (quantity.empty() || contract::is_resource_quantity(quantity)) return {};
  return "must be " + std::string(contract::kResourceQuantityRule);
}

// Refused here rather than by the API server at pod creation.
std::vector<SubProblem> requests_within_limits(const Resources& resources) {
  std::vector<SubProblem> out;
  for (const auto& [key, request] : resources.requests) {
    const auto limit = resources.limits.find(key);
    if (limit != resources.limits.end() &&
        contract::quantity_value(request) > contract::quantity_value(limit->second)) {
      out.push_back({key, "must not exceed limits." + key + " (" + limit->second + ")"});
    }
  }
  return out;
}

std::string worker_or_image(const std::string& worker, const std::string& image) {
  return worker.empty() == image.empty() ? "needs exactly one of worker or image" : std::string();
}

std::string known_worker(const std::string& worker) {
  if (worker.empty() || contract::find_worker(worker) != nullptr) return {};
  return "unknown worker '" + worker + "'";
}

std::string weighted_worker(const contract::WorkerTraits& traits) {
  if (traits.weighted) return {};
  return "the " + std::string(traits.name) +
         " worker needs topics or storage and cannot back a WeightedService (" +
         quoted_list(contract::weighted_worker_names()) + " can)";
}

// What the worker refuses to start with (pkg/contract/workers.h).
std::string step_inputs(const contract::WorkerTraits& traits, const Step& step) {
  return contract::check_inputs(traits, step.inputs.size());
}

std::string step_outputs(const contract::WorkerTraits& traits, const Step& step) {
  if (auto problem = contract::check_outputs(traits, step.outputs.size()); !problem.empty())
    return problem;
  return contract::check_named_outputs(traits, step.outputs);
}

std::string step_storage(const contract::WorkerTraits& traits, const Step& step) {
  if (!traits.needs_storage || step.storage) return {};
  return "the " + step.worker + " worker keeps files: it needs storage: true (and spec.storage)";
}

std::string undeclared_topic(const std::string& topic) {
  return "topic '" + topic + "' is not declared in spec.topics";
}

std::string storage_without_volume() {
  return "a step with storage: true needs spec.storage (the shared volume's size)";
}

namespace {

contract::ConfigValue config_value(const nlohmann::json& value, std::string& text) {
  contract::ConfigValue v;
  if (value.is_number_integer()) {
    v.json_type = "integer";
    v.integer = value.get<long long>();
    v.number = static_cast<double>(v.integer);
  } else if (value.is_number()) {
    v.json_type = "number";
    v.number = value.get<double>();
  } else if (value.is_string()) {
    v.json_type = "string";
    text = value.get<std::string>();
    v.text = text;
  } else if (value.is_array()) {
    v.json_type = "array";
    v.all_strings =
        std::all_of(value.begin(), value.end(), [](const auto& e) { return e.is_string(); });
    if (v.all_strings) {
      for (const auto& e : value)
        v.items.push_back(e.get_ref<const std::string&>());
    }
  } else if (value.is_object()) {
    v.json_type = "object";
  } else {
    v.json_type = value.is_boolean() ? "boolean" : "null";
  }
  return v;
}

bool left_out(const nlohmann::json& object, std::string_view key, const contract::ConfigKey* k) {
  const auto it = object.find(std::string(key));
  return it == object.end() || (it->is_null() && (k == nullptr || k->nullable));
}

// One object level of a config: each key against `keys`, an object's fields one level down.
// `prefix` is the path of this level below `config` ("" or "smtp."); `owner` names it.
void config_level(const std::vector<contract::ConfigKey>& keys, const nlohmann::json& config,
                  const std::string& prefix, const std::string& owner,
                  std::vector<SubProblem>& out) {
  for (const auto& item : config.items()) {
    // Not a structured binding: clang 14 (the ASan tier) cannot capture one in a lambda.
    const std::string& key = item.key();
    const auto& value = item.value();
    const std::string field = prefix + key;
    const auto it = std::find_if(keys.begin(), keys.end(),
                                 [&](const contract::ConfigKey& k) { return k.name == key; });
    if (it == keys.end() && contract::is_credential_key(key)) {
      out.push_back({field, std::string(contract::kCredentialHint)});
      continue;
    }
    if (it == keys.end()) {
      std::vector<std::string_view> names;
      for (const auto& k : keys)
        names.push_back(k.name);
      out.push_back({field, "unknown key of " + owner + " (known: " +
                                (names.empty() ? std::string("none") : quoted_list(names)) + ")"});
      continue;
    }
    if (value.is_null() && it->nullable) continue;
    std::string text;
    if (auto problem = contract::check_config_value(*it, config_value(value, text));
        !problem.empty()) {
      out.push_back({field, std::move(problem)});
      continue;
    }
    using T = contract::ConfigKey::Type;
    if (it->type == T::object && !it->fields.empty()) {
      config_level(it->fields, value, field + ".", "config." + field, out);
    } else if (it->type == T::string_map) {
      for (const auto& entry : value.items()) {
        const std::string at = field + "." + entry.key();
        if (!entry.value().is_string()) {
          out.push_back({at, "must be a string"});
        } else if (auto problem =
                       contract::check_text(it->form, entry.value().get_ref<const std::string&>());
                   !problem.empty()) {
          out.push_back({at, std::move(problem)});
        }
      }
    }
  }
}

}  // namespace

// The keys, types and bounds the worker itself checks at start (pkg/contract/workers.h), as deep
// as it reads them, and its rules across keys, so validate refuses what the worker would exit on.
std::vector<SubProblem> worker_config(const contract::WorkerTraits& traits,
                                      const nlohmann::json& config) {
  std::vector<SubProblem> out;
  config_level(traits.config, config, "", "the " + std::string(traits.name) + " worker", out);
  if (!out.empty() || !config.is_object()) return out;
  for (const auto& rule : traits.config_requires) {
    const auto list = config.find(std::string(rule.list));
    if (list == config.end() || !list->is_array() ||
        std::find(list->begin(), list->end(), nlohmann::json(rule.value)) == list->end())
      continue;
    // The required key: walk its path; any level left out (or null) means it is missing.
    const nlohmann::json* at = &config;
    std::string_view rest = rule.path;
    bool missing = false;
    std::string walked;
    while (!rest.empty() && !missing) {
      const auto dot = rest.find('.');
      const auto name = rest.substr(0, dot);
      walked += (walked.empty() ? "" : ".") + std::string(name);
      if (!at->is_object() || left_out(*at, name, contract::find_config_key(traits, walked))) {
        missing = true;
        break;
      }
      at = &(*at)[std::string(name)];
      rest = dot == std::string_view::npos ? std::string_view() : rest.substr(dot + 1);
    }
    if (missing) out.push_back({std::string(rule.path), std::string(rule.message)});
  }
  return out;
}

// A step that feeds, at any distance, its own input is refused; only steps whose outputs follow
// their inputs carry messages along an edge.
std::optional<std::pair<std::size_t, std::string>> topic_cycle(const Pipeline& pipeline) {
  const auto& steps = pipeline.steps;
  std::map<std::string, std::vector<std::size_t>> readers;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    for (const auto& t : steps[i].inputs)
      readers[t].push_back(i);
  }
  std::vector<int> state(steps.size(), 0);  // 0 new, 1 on the path, 2 done
  std::function<bool(std::size_t)> cyclic = [&](std::size_t i) {
    state[i] = 1;
    if (!outputs_follow_inputs(steps[i])) {
      state[i] = 2;
      return false;
    }
    for (const auto& t : steps[i].outputs) {
      for (auto j : readers[t]) {
        if (state[j] == 1 || (state[j] == 0 && cyclic(j))) return true;
      }
    }
    state[i] = 2;
    return false;
  };
  for (std::size_t i = 0; i < steps.size(); ++i) {
    if (state[i] == 0 && cyclic(i)) {
      return std::pair{
          i, "the steps form a cycle through their topics (step '" + steps[i].name + "')"};
    }
  }
  return std::nullopt;
}

std::string reserved_backend(const std::string& name) {
  if (name != contract::kRouterPart) return {};
  return "'router' is taken by the WeightedService's nginx router";
}

std::string backup_weight() {
  return "a backup backend takes no weight";
}

std::string all_backups(const std::vector<Backend>& backends) {
  if (backends.empty() ||
      !std::all_of(backends.begin(), backends.end(), [](const Backend& b) { return b.backup; }))
    return {};
  return "needs at least one backend that is not a backup";
}

}  // namespace validation
}  // namespace pipewright::api
