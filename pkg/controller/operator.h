#pragma once
// The operator process: metrics and probe servers, informers, leader election, reconcile
// workers, clean shutdown. cmd/pipewright-operator only turns flags into OperatorOptions.

#include <atomic>
#include <string>

#include "pkg/controller/leader.h"
#include "pkg/controller/manager.h"
#include "pkg/kube/config.h"

namespace pipewright::controller {

struct OperatorOptions {
  kube::Config kube;
  std::string metrics_bind = ":9090";
  std::string health_bind = ":8081";
  bool leader_elect = false;
  LeaderOptions leader;
  ManagerOptions manager;
};

// Runs until `stop`; returns the process exit code (1 when leadership was lost or a server
// could not start).
int run_operator(const OperatorOptions& options, const std::atomic<bool>& stop);

}  // namespace pipewright::controller
