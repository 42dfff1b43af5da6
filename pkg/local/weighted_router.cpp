#include "pkg/local/weighted_router.h"

#include "pkg/log/log.h"
#include "pkg/proc/net.h"

namespace pipewright::local {

std::unique_ptr<WeightedRouter> WeightedRouter::start(const api::WeightedService& service,
                                                      const BackendAddress& address,
                                                      const WeightedRouterOptions& options) {
  std::unique_ptr<WeightedRouter> r(new WeightedRouter());
  r->port_ = options.port != 0 ? options.port : proc::free_port();
  r->nginx_ = Nginx::start(
      options.dir, plan::nginx_config(service, address, "127.0.0.1:" + std::to_string(r->port_)),
      options.worker_processes);
  log::info(
      "router started",
      {{"service", service.meta.name}, {"port", r->port_}, {"config", r->config_file().string()}});
  return r;
}

void WeightedRouter::reload(const api::WeightedService& service, const BackendAddress& address) {
  nginx_->reload(plan::nginx_config(service, address, "127.0.0.1:" + std::to_string(port_)));
  log::info("router reloaded",
            {{"service", service.meta.name}, {"generation", nginx_->generation()}});
}

}  // namespace pipewright::local
