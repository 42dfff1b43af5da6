#pragma once
// A WeightedService run on this machine as local mode runs it: each backend a
// `pipewright-worker` process wired by plan::service_backend_env on a port from the OS, the
// router Debian's nginx with the plan's upstream (local::WeightedRouter), 127.0.0.1 only.

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "pkg/api/types.h"
#include "pkg/local/weighted_router.h"
#include "pkg/proc/process.h"

namespace pipewright::testing {

class ServiceRun {
 public:
  // Starts every backend, waits for each /readyz, then starts the router.
  explicit ServiceRun(api::WeightedService service);
  ~ServiceRun();
  ServiceRun(const ServiceRun&) = delete;
  ServiceRun& operator=(const ServiceRun&) = delete;

  const api::WeightedService& service() const { return service_; }
  local::WeightedRouter& router() { return *router_; }
  int router_port() const { return router_->port(); }

  // SIGTERM and wait: the port refuses connections afterwards.
  void stop_backend(const std::string& name);
  // Starts it again on the same port and waits until it is ready.
  void start_backend(const std::string& name);
  // SIGSTOP / SIGCONT: the port still accepts connections, nothing answers.
  void pause_backend(const std::string& name);
  void resume_backend(const std::string& name);
  std::string metrics_url(const std::string& name) const;
  int port(const std::string& name) const { return backends_.at(name).port; }

  // New weights (backend name -> weight) through a graceful router reload.
  void reweight(const std::map<std::string, int>& weights);
  // Points the router at another address for this backend from the next reload on.
  void route_elsewhere(const std::string& name, const std::string& address);

 private:
  struct Backend {
    int port = 0, metrics_port = 0;
    std::filesystem::path log_file;
    proc::Process process;
    std::string address_override;
  };
  void launch(const std::string& name);
  local::BackendAddress address() const;

  api::WeightedService service_;
  std::filesystem::path dir_;
  std::map<std::string, Backend> backends_;
  std::unique_ptr<local::WeightedRouter> router_;
};

}  // namespace pipewright::testing
