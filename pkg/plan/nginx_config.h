#pragma once
// The nginx configuration that routes a WeightedService by weight: the blocks both backends use
// (the operator's router Deployment and local mode's router process) and the router image's
// whole nginx.conf.

#include <functional>
#include <string>

#include "pkg/api/types.h"

namespace pipewright::plan {

// Where a backend listens ("host:port"): the operator passes Service DNS names, local mode
// 127.0.0.1 ports.
using BackendAddress = std::function<std::string(const api::Backend&)>;

// The nginx `upstream` and `server` blocks that route a WeightedService (weights, backup,
// max_fails, fail_timeout, connect/read timeouts, proxy_next_upstream). `listen` is the router's
// own "host:port" or port.
std::string nginx_config(const api::WeightedService& service, const BackendAddress& address,
                         const std::string& listen);

// A whole nginx.conf around nginx_config, for the router image, which runs
// `nginx -g 'daemon off;'` as a non-root user on a read-only root.
std::string router_nginx_conf(const api::WeightedService& service, const BackendAddress& address,
                              const std::string& listen);

}  // namespace pipewright::plan
