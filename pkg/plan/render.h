#pragma once
// Resource -> the Kubernetes objects that make it exist (SPEC section 2). Pure: the same input
// gives byte-identical output, so a spec-hash annotation decides whether a child needs an update.
// Used by the operator (pkg/controller) and by `pipewright render`.
//
// The objects are built in render.cpp; what they carry comes from one file each: the hashes
// (hash.h), the router's nginx configuration (nginx_config.h), and `pipewright render`'s YAML
// (yaml.h). Those headers are included here, so a caller of the renderer needs only this one.

#include <nlohmann/json.hpp>
#include <vector>

#include "pkg/api/types.h"
#include "pkg/plan/env.h"
#include "pkg/plan/hash.h"          // IWYU pragma: export
#include "pkg/plan/nginx_config.h"  // IWYU pragma: export
#include "pkg/plan/yaml.h"          // IWYU pragma: export

namespace pipewright::plan {

// Label keys every child carries (and the spec-hash annotation of hash.h).
inline constexpr const char* kManagedBy = "app.kubernetes.io/managed-by";
inline constexpr const char* kPipelineLabel = "pipewright.io/pipeline";
inline constexpr const char* kWeightedServiceLabel = "pipewright.io/weightedservice";

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

}  // namespace pipewright::plan
