#pragma once
// Reading manifests: YAML files (several documents each) or folders of them → api values.
// Every problem names the file, the line and the field path. manifest.cpp decodes (shapes,
// types, defaults); the semantic checks it applies on the way are validation.h's.

#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "pkg/api/types.h"

namespace pipewright::api {

struct FieldError {
  Source source;
  std::string path;  // e.g. "spec.steps[1].worker"
  std::string message;
  std::string to_string() const;  // "file:line: path: message"
};

class ManifestError : public std::runtime_error {
 public:
  explicit ManifestError(std::vector<FieldError> errors);
  const std::vector<FieldError>& errors() const { return errors_; }

 private:
  std::vector<FieldError> errors_;
};

// Loads every *.yaml / *.yml file named (folders: their files, sorted). Throws ManifestError
// with all the problems found, never a partial result.
Manifests load(const std::vector<std::filesystem::path>& paths);

// Parses one YAML text; `file` is only used in messages.
Manifests parse(const std::string& yaml, const std::string& file);

// An object as the API server returns it (JSON). Throws ManifestError whose messages carry the
// field path (no line).
Pipeline pipeline_from_json(const nlohmann::json& object);
WeightedService weighted_service_from_json(const nlohmann::json& object);

}  // namespace pipewright::api
