#pragma once
// The nginx router of a WeightedService on this machine (the workers' HTTP request router is
// http::Router, another thing): Debian's nginx running the `upstream` the operator puts in the
// router's ConfigMap (plan::nginx_config), with the backends at 127.0.0.1 ports. A weight change
// is a graceful reload: nginx starts workers with the new upstream and lets the old ones finish
// the requests they hold, so no request is dropped.

#include <filesystem>
#include <memory>
#include <string>

#include "pkg/api/types.h"
#include "pkg/local/nginx.h"
#include "pkg/plan/nginx_config.h"

namespace pipewright::local {

struct WeightedRouterOptions {
  std::filesystem::path dir;  // nginx.conf, pid, error.log and temp folders
  int port = 0;               // 0: a free port from the OS
  int worker_processes = 1;
};

// Where a backend listens, here "127.0.0.1:<port>".
using BackendAddress = plan::BackendAddress;

class WeightedRouter {
 public:
  // Starts nginx with the service's upstream; throws std::runtime_error with nginx's words.
  static std::unique_ptr<WeightedRouter> start(const api::WeightedService& service,
                                               const BackendAddress& address,
                                               const WeightedRouterOptions& options);

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::filesystem::path config_file() const { return nginx_->config_file(); }
  bool running() { return nginx_->running(); }
  int generation() const { return nginx_->generation(); }

  // New weights, backends or timeouts through a graceful reload (see Nginx::reload).
  void reload(const api::WeightedService& service, const BackendAddress& address);
  void stop(std::chrono::milliseconds grace = std::chrono::seconds(10)) { nginx_->stop(grace); }

 private:
  WeightedRouter() = default;
  int port_ = 0;
  std::unique_ptr<Nginx> nginx_;
};

}  // namespace pipewright::local
