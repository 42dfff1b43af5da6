#include "pkg/controller/service_reconciler.h"

#include <algorithm>

#include "pkg/api/manifest.h"
#include "pkg/contract/names.h"
#include "pkg/controller/status.h"

namespace pipewright::controller {

using nlohmann::json;

Outcome WeightedServiceReconciler::reconcile(const std::string& ns, const std::string& name) {
  const auto& kind = kube::resources::weighted_services;
  const auto object = children_.cache().get(kind, ns, name);
  if (!object) {
    children_.forget(kind, ns, name);
    return {};
  }
  ServiceObservation o;
  o.generation = (*object)["metadata"].value("generation", 0L);
  api::WeightedService w;
  try {
    w = api::weighted_service_from_json(*object);
  } catch (const api::ManifestError& e) {
    o.invalid_spec = first_problem(e);
    children_.write_status(kind, *object,
                           service_status(o, object->value("status", json()), now_rfc3339()));
    return {};
  }
  if (w.meta.deleting) return {};
  const auto children =
      children_.sync(plan::render(w, options_), *object, plan::kWeightedServiceLabel);
  o.children_error = children.error;
  o.children_conflict = children.conflict;
  for (const auto& b : w.backends) {
    o.backends.push_back({b.name, b.weight, b.backup, b.replicas,
                          children_.ready_replicas(ns, contract::child_name(name, b.name))});
  }
  o.router_ready =
      children_.ready_replicas(ns, contract::child_name(name, std::string(contract::kRouterPart)));
  if (w.gateway &&
      std::any_of(w.backends.begin(), w.backends.end(), [](const auto& b) { return b.backup; })) {
    o.warning =
        "the HTTPRoute carries the weights but cannot express a backup backend; "
        "backups serve only through the nginx router";
  }
  try {
    children_.write_status(kind, *object,
                           service_status(o, object->value("status", json()), now_rfc3339()));
  } catch (const std::exception& e) {
    return {false, std::nullopt, "status: " + describe(e)};
  }
  if (!o.children_error.empty()) return {false, std::nullopt, o.children_error};
  if (!o.children_conflict.empty()) return {true, kConflictRecheck, {}};
  return {};
}

}  // namespace pipewright::controller
