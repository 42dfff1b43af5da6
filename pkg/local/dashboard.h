#pragma once
// The dashboard at `/` on the gateway: each pipeline as a graph of steps and topics with live
// message rates, backlog and errors read from Prometheus, the weighted services' traffic split,
// the processes and the mail the catcher received. JSON under /api/, one static page, no CDN.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "pkg/api/types.h"
#include "pkg/local/smtp_catcher.h"
#include "pkg/local/supervisor.h"

namespace pipewright::http {
class Server;
class Router;
}  // namespace pipewright::http

namespace pipewright::local {

struct DashboardSources {
  api::Manifests manifests;
  std::function<std::vector<SupervisedStatus>()> processes;
  std::function<std::vector<CaughtMail>()> mail;
  int prometheus_port = 0;                  // 0: no rates
  std::map<std::string, std::string> urls;  // what `up` printed: name -> URL
};

class Dashboard {
 public:
  // Serves on 127.0.0.1:port (0: the OS picks).
  explicit Dashboard(DashboardSources sources, int port = 0);
  ~Dashboard();
  int port() const;

 private:
  DashboardSources sources_;
  std::unique_ptr<http::Router> router_;
  std::unique_ptr<http::Server> server_;
};

// The pipelines and services as the page draws them: steps, topics (logical and Kafka names),
// edges, backends, exposed paths.
nlohmann::json dashboard_graph(const api::Manifests& manifests);

}  // namespace pipewright::local
