#pragma once
// The hashes on a resource's children: the spec hash, which decides whether a child needs an
// update, and the config hash of a pod template, which rolls the pods when their mounted config
// changes.

#include <nlohmann/json.hpp>
#include <string>

namespace pipewright::plan {

// On every child: its spec hash.
inline constexpr const char* kSpecHash = "pipewright.io/spec-hash";
// On pod templates: a hash of the mounted ConfigMap data, so a config edit rolls the pods.
inline constexpr const char* kConfigHash = "pipewright.io/config-hash";

// The spec hash of an object: sha256 (hex) of its canonical JSON without
// metadata.annotations[kSpecHash] (and without annotations left empty by that) and status.
std::string spec_hash(const nlohmann::json& object);

// The config hash of mounted data (the text as it is mounted): sha256, hex.
std::string config_hash(const std::string& data);

// `object` with its kSpecHash annotation: the last thing added to a complete child.
nlohmann::json stamped(nlohmann::json object);

}  // namespace pipewright::plan
