#include "pkg/local/router.h"

#include "pkg/log/log.h"
#include "pkg/plan/render.h"
#include "pkg/proc/net.h"

namespace pipewright::local {

std::unique_ptr<Router> Router::start(const api::WeightedService& service,
                                      const BackendAddress& address, const RouterOptions& options) {
  std::unique_ptr<Router> r(new Router());
  r->port_ = options.port != 0 ? options.port : proc::free_port();
  r->nginx_ = Nginx::start(
      options.dir, plan::nginx_config(service, address, "127.0.0.1:" + std::to_string(r->port_)),
      options.worker_processes);
  log::info(
      "router started",
      {{"service", service.meta.name}, {"port", r->port_}, {"config", r->config_file().string()}});
  return r;
}

void Router::reload(const api::WeightedService& service, const BackendAddress& address) {
  nginx_->reload(plan::nginx_config(service, address, "127.0.0.1:" + std::to_string(port_)));
  log::info("router reloaded",
            {{"service", service.meta.name}, {"generation", nginx_->generation()}});
}

}  // namespace pipewright::local
