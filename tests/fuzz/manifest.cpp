// Manifests as `pipewright validate` / `render` and the operator read them: YAML (several
// documents, anchors, aliases, merge keys, tags) through api::parse, then every resource through
// plan::render, the WeightedServices' nginx config, and the YAML of the result.
// The documented failure is ManifestError; any other exception escapes and is a finding.

#include <string>

#include "pkg/api/manifest.h"
#include "pkg/plan/render.h"
#include "tests/fuzz/fuzz.h"

PW_FUZZ_TARGET(manifest) {
  namespace api = pipewright::api;
  namespace plan = pipewright::plan;
  api::Manifests manifests;
  try {
    manifests = api::parse(std::string(pipewright::fuzz::as_text(data, size)), "fuzz.yaml");
  } catch (const api::ManifestError& e) {
    pipewright::fuzz::check(!e.errors().empty(), "a ManifestError without errors");
    for (const auto& error : e.errors())
      (void)error.to_string();
    return;
  }
  plan::RenderOptions options;
  options.default_bootstrap_servers = "kafka:9092";
  std::vector<nlohmann::json> objects;
  for (const auto& pipeline : manifests.pipelines) {
    auto children = plan::render(pipeline, options);
    objects.insert(objects.end(), children.begin(), children.end());
  }
  for (const auto& service : manifests.weighted_services) {
    auto children = plan::render(service, options);
    objects.insert(objects.end(), children.begin(), children.end());
    (void)plan::nginx_config(
        service, [](const api::Backend& b) { return b.name + ":8080"; }, "8080");
  }
  for (const auto& object : objects)
    (void)plan::spec_hash(object);
  (void)plan::to_yaml(objects);
}
