#include "pkg/local/gateway.h"

#include "pkg/proc/net.h"

namespace pipewright::local {

std::string gateway_config(const std::vector<GatewayRoute>& routes, int listen_port,
                           int dashboard_port) {
  std::string out = "map $http_upgrade $connection_upgrade {\n  default upgrade;\n  '' '';\n}\n";
  for (std::size_t i = 0; i < routes.size(); ++i) {
    out += "upstream pw_route_" + std::to_string(i) + " {\n";
    for (const int port : routes[i].ports)
      out += "  server 127.0.0.1:" + std::to_string(port) + " max_fails=1 fail_timeout=2s;\n";
    out += "  keepalive 16;\n}\n";
  }
  out += "server {\n  listen 127.0.0.1:" + std::to_string(listen_port) + ";\n";
  // The workers enforce their own body limits (413 with JSON) and stream uploads themselves.
  out +=
      "  client_max_body_size 0;\n"
      "  proxy_request_buffering off;\n"
      "  proxy_buffering off;\n"
      "  proxy_http_version 1.1;\n"
      "  proxy_set_header Host $host;\n"
      "  proxy_set_header X-Forwarded-For $remote_addr;\n"
      "  proxy_set_header Upgrade $http_upgrade;\n"
      "  proxy_set_header Connection $connection_upgrade;\n"
      // WebSockets and ?wait= requests stay open; nginx's 60 s default would cut them.
      "  proxy_read_timeout 1h;\n"
      "  proxy_send_timeout 1h;\n"
      "  proxy_next_upstream error timeout;\n";
  for (std::size_t i = 0; i < routes.size(); ++i) {
    const auto& path = routes[i].path;
    const auto upstream = "http://pw_route_" + std::to_string(i);
    out += "  location = " + path + " {\n    proxy_pass " + upstream + ";\n  }\n";
    out += "  location " + path + "/ {\n    proxy_pass " + upstream + ";\n  }\n";
  }
  out += "  location / {\n    proxy_pass http://127.0.0.1:" + std::to_string(dashboard_port) +
         ";\n  }\n}\n";
  return out;
}

Gateway::Gateway(const std::filesystem::path& dir, const std::vector<GatewayRoute>& routes,
                 int listen_port, int dashboard_port)
    : port_(listen_port != 0 ? listen_port : proc::free_port()),
      nginx_(Nginx::start(dir, gateway_config(routes, port_, dashboard_port))) {}

}  // namespace pipewright::local
