#pragma once
// A real Kubernetes control plane on 127.0.0.1: etcd, kube-apiserver (TLS with a CA of its own,
// RBAC, a static admin token) and optionally kube-controller-manager (garbage collection,
// Deployment -> ReplicaSet -> Pod, namespaces, service accounts). No kubelet: pods stay Pending.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "pkg/kube/config.h"
#include "pkg/proc/process.h"
#include "pkg/proc/run.h"

namespace pipewright::testing {

class ControlPlane {
 public:
  struct Options {
    bool controller_manager = true;
    // kube-controller-manager --controllers; without the deployment controller nothing
    // overwrites a Deployment status that a test patches in place of a kubelet.
    std::string controllers =
        "garbage-collector-controller,deployment-controller,replicaset-controller,"
        "namespace-controller,serviceaccount-controller";
  };
  // Starts everything in component_dir("control-plane") and waits (with a deadline) until
  // /readyz answers 200. Throws with the logs' tails when something does not come up.
  static std::unique_ptr<ControlPlane> start(const Options& options);
  static std::unique_ptr<ControlPlane> start() { return start(Options{}); }
  ~ControlPlane();

  std::string server() const { return "https://127.0.0.1:" + std::to_string(apiserver_port_); }
  kube::Config admin() const;
  std::filesystem::path admin_kubeconfig() const { return dir_ / "admin.kubeconfig"; }
  std::filesystem::path ca_file() const { return dir_ / "ca.crt"; }
  const std::filesystem::path& dir() const { return dir_; }

  // kubectl with the admin kubeconfig.
  proc::RunResult kubectl(const std::vector<std::string>& args) const;

  // For tests of an API server that goes away and comes back (same port, same etcd).
  void stop_apiserver();
  void start_apiserver();
  void stop_controller_manager();
  // Compacts etcd to its current revision (physically) through etcd's JSON gateway and returns
  // that revision: versions older than it are gone from storage (410 Gone from the API server
  // once its watch cache no longer holds them either).
  std::int64_t compact_etcd();
  bool controller_manager_running() { return kcm_.running(); }

 private:
  ControlPlane() = default;
  void write_pki();
  void start_etcd();
  void start_kcm();
  std::filesystem::path dir_;
  int etcd_port_ = 0, etcd_peer_port_ = 0, apiserver_port_ = 0, kcm_port_ = 0;
  std::string admin_token_;
  std::string controllers_;
  proc::Process etcd_, apiserver_, kcm_;
};

}  // namespace pipewright::testing
