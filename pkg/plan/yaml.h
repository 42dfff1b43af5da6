#pragma once
// The YAML emitter of `pipewright render` (and of tests that feed rendered objects to kubectl).

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace pipewright::plan {

// Objects as a YAML stream ("---" between documents) that any YAML parser reads back as the same
// JSON: strings that would parse as numbers, booleans or null are quoted.
std::string to_yaml(const std::vector<nlohmann::json>& objects);

}  // namespace pipewright::plan
