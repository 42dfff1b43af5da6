#pragma once
// Reconcile, keyed by kind and namespace/name, level-triggered, safe to run any number of times:
// read (from the informers' caches), compute desired (plan), diff, act (server-side apply,
// delete), report (one status write, only when it changed). NotFound means done.
//
// The two reconcilers live in their own files (pipeline_reconciler.h, service_reconciler.h) and
// share the child apply/prune/status code (children.h); this is what the Manager holds.

#include <memory>
#include <string>
#include <vector>

#include "pkg/controller/cache.h"
#include "pkg/controller/children.h"
#include "pkg/controller/lag.h"
#include "pkg/controller/pipeline_reconciler.h"
#include "pkg/controller/service_reconciler.h"
#include "pkg/kube/client.h"
#include "pkg/plan/render.h"

namespace pipewright::controller {

class Reconciler {
 public:
  Reconciler(kube::Client& client, const Cache& cache, AdminFor admin, plan::RenderOptions options)
      : children_(client, cache),
        pipelines_(children_, std::move(admin), options),
        services_(children_, std::move(options)) {}

  Outcome pipeline(const std::string& ns, const std::string& name) {
    return pipelines_.reconcile(ns, name);
  }
  Outcome weighted_service(const std::string& ns, const std::string& name) {
    return services_.reconcile(ns, name);
  }

  void watch_lag(std::unique_ptr<LagMonitor> monitor) { pipelines_.watch_lag(std::move(monitor)); }
  void on_status(StatusSink sink) { children_.on_status(std::move(sink)); }

  static const std::vector<const kube::Resource*>& child_kinds() { return Children::child_kinds(); }

 private:
  Children children_;
  PipelineReconciler pipelines_;
  WeightedServiceReconciler services_;
};

}  // namespace pipewright::controller
