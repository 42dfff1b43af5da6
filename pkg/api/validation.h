#pragma once
// The semantic checks of a manifest: what a decoded value must satisfy beyond its type (names,
// patterns, enums, references between fields, the worker catalogue's rules). Each check returns
// the problem's message, empty when there is none; the decoder (manifest.cpp) calls them where it
// reads the field and files the message under the field's line and path. No YAML here: the
// checks see api values only, and their limits come from pkg/contract.

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pkg/api/types.h"
#include "pkg/contract/workers.h"

namespace pipewright::api::validation {

// A problem at a field below the one checked: `field` is appended to the checked field's path.
struct SubProblem {
  std::string field;  // e.g. "memory" under ".requests", a config key under ".config"
  std::string message;
};

std::string at_most(std::size_t characters);  // "must be at most N characters"

// metadata
std::string object_name(const std::string& name);     // metadata.name of any resource
std::string namespace_name(const std::string& name);  // metadata.namespace
// A WeightedService's metadata.name also names its router's Service.
std::string router_service_name(const std::string& name);

// A step's or backend's name (a DNS label), and a repeat of one already seen.
std::string part_name(const std::string& name);
std::string duplicate(const std::string& what,
                      const std::string& name);  // "duplicate <what> name '<name>'"

// The children named "<owner>-<part>" (contract::child_name): at most 63 characters and, for a
// Service, starting with a letter. Empty when either name is empty (reported elsewhere).
std::vector<std::string> child_name(const std::string& owner, const std::string& part,
                                    bool service);

std::string duration(const std::string& value);  // "" is no value, fine
std::string expose_path(const std::string& path);
std::string storage_size(const std::string& size);
std::string access_mode(const std::string& mode);
std::string deletion_policy(const std::string& policy);
std::string logical_topic(const std::string& name);
std::string kafka_topic(const std::string& name);  // spec.topics[].topicName ("" is none)
std::string cidr(const std::string& cidr);
std::string ingress_namespace(const std::string& name);
std::string resource_quantity(const std::string& quantity);
// Each request above its limit, by resource name ("cpu", "memory").
std::vector<SubProblem> requests_within_limits(const Resources& resources);

// "needs exactly one of worker or image" unless exactly one is set.
std::string worker_or_image(const std::string& worker, const std::string& image);
std::string known_worker(const std::string& worker);  // "unknown worker '<worker>'" or ""
// The built-in worker may back a WeightedService (a backend gets no topics and no volume).
std::string weighted_worker(const contract::WorkerTraits& traits);
// A step's inputs and outputs for the worker (counts, then named outputs), and a storage need.
std::string step_inputs(const contract::WorkerTraits& traits, const Step& step);
std::string step_outputs(const contract::WorkerTraits& traits, const Step& step);
std::string step_storage(const contract::WorkerTraits& traits, const Step& step);
std::string undeclared_topic(const std::string& topic);
// A step with storage: true in a Pipeline without spec.storage.
std::string storage_without_volume();
// A built-in worker's config: each key it does not know or whose value it would refuse.
std::vector<SubProblem> worker_config(const contract::WorkerTraits& traits,
                                      const nlohmann::json& config);
// The first step (in order) on a cycle through topics, and the message naming it.
std::optional<std::pair<std::size_t, std::string>> topic_cycle(const Pipeline& pipeline);

// WeightedService backends.
std::string reserved_backend(const std::string& name);  // "router" is the router's
std::string backup_weight();                            // a backup backend takes no weight
std::string all_backups(const std::vector<Backend>& backends);

}  // namespace pipewright::api::validation
