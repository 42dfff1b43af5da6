#pragma once
// The nginx router of a WeightedService on this machine: Debian's nginx running the `upstream`
// the operator puts in the router's ConfigMap (plan::nginx_config), with the backends at
// 127.0.0.1 ports. A weight change is a graceful reload: nginx starts workers with the new
// upstream and lets the old ones finish the requests they hold, so no request is dropped.

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "pkg/api/types.h"
#include "pkg/proc/process.h"

namespace pipewright::local {

struct RouterOptions {
  std::filesystem::path dir;  // nginx.conf, pid, error.log and temp folders
  int port = 0;               // 0: a free port from the OS
  int worker_processes = 1;
};

// Where a backend listens, "127.0.0.1:<port>".
using BackendAddress = std::function<std::string(const api::Backend&)>;

class Router {
 public:
  // Writes the configuration, checks it with `nginx -t`, starts nginx and returns once it
  // serves. Throws std::runtime_error with nginx's own words when it does not.
  static std::unique_ptr<Router> start(const api::WeightedService& service,
                                       const BackendAddress& address, RouterOptions options);
  ~Router();
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::filesystem::path config_file() const { return options_.dir / "nginx.conf"; }
  std::filesystem::path error_log() const { return options_.dir / "error.log"; }
  bool running() { return process_.running(); }
  int generation() const { return generation_; }

  // Checks the new configuration first (a rejected one throws and the running one keeps
  // serving), then reloads (SIGHUP) and returns once workers with the new upstream answer.
  void reload(const api::WeightedService& service, const BackendAddress& address);
  // Graceful stop (SIGQUIT: in-flight requests finish), then SIGKILL after `grace`.
  void stop(std::chrono::milliseconds grace = std::chrono::seconds(10));

 private:
  explicit Router(RouterOptions options) : options_(std::move(options)) {}
  void write_config(const api::WeightedService& service, const BackendAddress& address,
                    const std::filesystem::path& file) const;
  void check_config(const std::filesystem::path& file) const;
  bool serves_generation(int generation) const;

  RouterOptions options_;
  int port_ = 0;
  int control_port_ = 0;  // 127.0.0.1 only: GET /generation says which config the workers run
  int generation_ = 0;
  proc::Process process_;
};

// The whole nginx.conf of a local router: the plan's upstream and server inside an `http`
// block with every path under `dir`, plus the control server.
std::string router_config(const api::WeightedService& service, const BackendAddress& address,
                          const RouterOptions& options, int port, int control_port, int generation);

}  // namespace pipewright::local
