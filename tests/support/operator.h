#pragma once
// The operator as users run it: its CRDs and its least-privilege RBAC from the Helm chart on a
// real control plane, and the pipewright-operator binary authenticated as its ServiceAccount.

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "pkg/proc/process.h"
#include "tests/support/control_plane.h"

namespace pipewright::testing {

inline constexpr const char* kOperatorNamespace = "pipewright-system";

// kubectl apply of crds/, waiting until they are Established. Throws with kubectl's words.
void install_crds(const ControlPlane& plane);

// install_crds, then the chart's ServiceAccount and RBAC
// (helm template --show-only), in kOperatorNamespace. Throws with kubectl's words on failure.
void install_crds_and_rbac(const ControlPlane& plane);

// A kubeconfig that authenticates as the operator's ServiceAccount (a TokenRequest token).
std::filesystem::path operator_kubeconfig(const ControlPlane& plane);

class OperatorProcess {
 public:
  // Starts build/cmd/pipewright-operator/pipewright-operator with `kubeconfig`, free 127.0.0.1
  // ports for metrics and probes, `bootstrap` as the default Kafka, plus `extra` flags; waits
  // for /readyz. `name` names its log file.
  static std::unique_ptr<OperatorProcess> start(const std::filesystem::path& kubeconfig,
                                                const std::string& bootstrap,
                                                const std::vector<std::string>& extra = {},
                                                const std::string& name = "operator");
  ~OperatorProcess();

  std::string metrics() const;  // the /metrics text ("" when unreachable)
  // A metric's value summed over its label sets (e.g. pipewright_api_writes_total).
  double metric_sum(const std::string& name) const;
  std::string metrics_address() const { return "127.0.0.1:" + std::to_string(metrics_port_); }
  bool running() { return process_.running(); }
  pid_t pid() const { return process_.pid(); }
  void kill(int signal) { process_.kill(signal); }
  int stop() { return process_.stop(); }
  const std::filesystem::path& log_file() const { return log_; }

 private:
  proc::Process process_;
  int metrics_port_ = 0, health_port_ = 0;
  std::filesystem::path log_;
};

}  // namespace pipewright::testing
