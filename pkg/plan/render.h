#pragma once
// Resource -> the Kubernetes objects that make it exist (SPEC section 2). Pure: the same input
// gives byte-identical output, so a spec-hash annotation decides whether a child needs an update.
// Used by the operator (pkg/controller) and by `pipewright render`.

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "pkg/api/types.h"
#include "pkg/plan/env.h"

namespace pipewright::plan {

// Label and annotation keys every child carries.
inline constexpr const char* kManagedBy = "app.kubernetes.io/managed-by";
inline constexpr const char* kSpecHash = "pipewright.io/spec-hash";
inline constexpr const char* kPipelineLabel = "pipewright.io/pipeline";
inline constexpr const char* kWeightedServiceLabel = "pipewright.io/weightedservice";
// On pod templates: a hash of the mounted ConfigMap data, so a config edit rolls the pods.
inline constexpr const char* kConfigHash = "pipewright.io/config-hash";

// Children of a Pipeline: per step a ConfigMap and a Deployment "<pipeline>-<step>"; per exposed
// step a Service; one Ingress "<pipeline>" when any step is exposed; a PVC "<pipeline>-data"
// when spec.storage is set. In that order, step by step (ConfigMap, Deployment, Service). Each has
// apiVersion, kind, metadata (name, namespace, labels, ownerReferences to the Pipeline when
// meta.uid is known, the spec-hash annotation) and spec.
std::vector<nlohmann::json> render(const api::Pipeline& pipeline, const RenderOptions& options);

// Children of a WeightedService: per backend a Deployment and a Service "<name>-<backend>"; the
// router: ConfigMap and Deployment "<name>-router", Service "<name>"; an Ingress "<name>" when
// exposed; an HTTPRoute "<name>" when spec.gatewayRef is set; in that order. The router ConfigMap
// holds nginx.conf and the backends' config.json (each pod mounts only its key).
std::vector<nlohmann::json> render(const api::WeightedService& service,
                                   const RenderOptions& options);

// The nginx `upstream` and `server` blocks that route a WeightedService (weights, backup,
// max_fails, fail_timeout, connect/read timeouts, proxy_next_upstream). `address(backend)`
// says where a backend listens ("host:port"); the operator passes Service DNS names, local mode
// 127.0.0.1 ports. `listen` is the router's own "host:port" or port.
std::string nginx_config(const api::WeightedService& service,
                         const std::function<std::string(const api::Backend&)>& address,
                         const std::string& listen);

// The spec hash of an object: sha256 (hex) of its canonical JSON without
// metadata.annotations[kSpecHash] (and without annotations left empty by that) and status.
std::string spec_hash(const nlohmann::json& object);

// Objects as a YAML stream ("---" between documents) that any YAML parser reads back as the same
// JSON: strings that would parse as numbers, booleans or null are quoted.
std::string to_yaml(const std::vector<nlohmann::json>& objects);

}  // namespace pipewright::plan
