#pragma once
// Local mode's gateway on 127.0.0.1:8080: what an Ingress does in a cluster. Each exposed path
// goes to its step's replicas (or a WeightedService's router) with the path unchanged, WebSocket
// upgrades pass through, and everything else goes to the dashboard.

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "pkg/local/nginx.h"

namespace pipewright::local {

struct GatewayRoute {
  std::string path;        // expose.path, e.g. "/images"
  std::vector<int> ports;  // 127.0.0.1 ports serving it (replicas), in order
};

// The `http { }` contents of the gateway's nginx.
std::string gateway_config(const std::vector<GatewayRoute>& routes, int listen_port,
                           int dashboard_port);

class Gateway {
 public:
  // Throws std::runtime_error when nginx cannot start (e.g. the port is taken).
  Gateway(const std::filesystem::path& dir, const std::vector<GatewayRoute>& routes,
          int listen_port, int dashboard_port);
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  bool running() { return nginx_->running(); }
  void stop() { nginx_->stop(); }

 private:
  int port_;
  std::unique_ptr<Nginx> nginx_;
};

}  // namespace pipewright::local
