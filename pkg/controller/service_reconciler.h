#pragma once
// The WeightedService reconciler: its children (router Deployment and Service, nginx config,
// Ingress or HTTPRoute) through Children, and its status from the backends' readiness.

#include <string>

#include "pkg/controller/children.h"
#include "pkg/plan/render.h"

namespace pipewright::controller {

class WeightedServiceReconciler {
 public:
  WeightedServiceReconciler(Children& children, plan::RenderOptions options)
      : children_(children), options_(std::move(options)) {}

  Outcome reconcile(const std::string& ns, const std::string& name);

 private:
  Children& children_;
  plan::RenderOptions options_;
};

}  // namespace pipewright::controller
