#include "pkg/local/dashboard.h"

#include <nlohmann/json.hpp>

#include "pkg/http/router.h"
#include "pkg/http/server.h"
#include "pkg/local/dashboard_page.h"
#include "pkg/plan/topics.h"
#include "pkg/proc/net.h"

namespace pipewright::local {
namespace {

using nlohmann::json;

std::string url_encode(const std::string& s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (const unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// One instant query; [] when Prometheus is not there or says no.
json query(int port, const std::string& promql) {
  if (port == 0) return json::array();
  const auto reply = proc::loopback_get(port, "/api/v1/query?query=" + url_encode(promql));
  const auto doc = json::parse(reply.body, nullptr, false);
  if (reply.status != 200 || !doc.is_object() || doc.value("status", "") != "success")
    return json::array();
  json out = json::array();
  for (const auto& r : doc["data"]["result"]) {
    double value = 0;
    try {
      value = std::stod(r["value"][1].get<std::string>());
    } catch (const std::exception&) {
      continue;
    }
    out.push_back({{"labels", r["metric"]}, {"value", value}});
  }
  return out;
}

json stats(int port) {
  const std::map<std::string, std::string> queries = {
      {"consumed_rate",
       "sum by (pipeline,step,topic) (rate(pipewright_messages_consumed_total[20s]))"},
      {"produced_rate",
       "sum by (pipeline,step,topic) (rate(pipewright_messages_produced_total[20s]))"},
      // Backlog as each consumer reports it (high watermark minus committed, pkg/kafka/lag.h),
      // summed per step: unlike produced - consumed counters it survives restarts, duplicates
      // and messages produced by someone else.
      {"lag", "sum by (pipeline,step) (pipewright_consumer_lag)"},
      {"errors_total", "sum by (pipeline,step) (pipewright_errors_total)"},
      {"dead_letters_total", "sum by (pipeline,step) (pipewright_dead_letters_total)"},
      {"backend_rate", "sum by (service,backend) (rate(pipewright_backend_requests_total[20s]))"},
      {"backend_total", "sum by (service,backend) (pipewright_backend_requests_total)"}};
  json out = json::object();
  for (const auto& [name, q] : queries)
    out[name] = query(port, q);
  out["prometheus"] = port != 0;
  return out;
}

}  // namespace

json dashboard_graph(const api::Manifests& manifests) {
  json pipelines = json::array();
  for (const auto& p : manifests.pipelines) {
    json topics = json::array();
    for (const auto& t : plan::topics(p)) {
      if (t.dead_letter) continue;
      topics.push_back({{"name", t.logical}, {"kafka", t.name}, {"partitions", t.partitions}});
    }
    json steps = json::array();
    for (const auto& s : p.steps) {
      steps.push_back({{"name", s.name},
                       {"worker", s.worker.empty() ? s.image : s.worker},
                       {"inputs", s.inputs},
                       {"outputs", s.outputs},
                       {"replicas", s.replicas},
                       {"expose", s.expose_path}});
    }
    pipelines.push_back({{"name", p.meta.name},
                         {"namespace", p.meta.namespace_},
                         {"topics", topics},
                         {"steps", steps}});
  }
  json services = json::array();
  for (const auto& w : manifests.weighted_services) {
    json backends = json::array();
    for (const auto& b : w.backends)
      backends.push_back(
          {{"name", b.name}, {"weight", b.backup ? 0 : b.weight}, {"backup", b.backup}});
    services.push_back({{"name", w.meta.name},
                        {"namespace", w.meta.namespace_},
                        {"worker", w.worker},
                        {"backends", backends},
                        {"expose", w.expose_path}});
  }
  return {{"pipelines", pipelines}, {"services", services}};
}

Dashboard::Dashboard(DashboardSources sources, int port)
    : sources_(std::move(sources)), router_(std::make_unique<http::Router>()) {
  auto& r = *router_;
  r.get("/", [](const http::Request&) {
    http::Response res{200, "text/html; charset=utf-8", std::string(kDashboardPage), {}};
    res.headers["Cache-Control"] = "no-cache";
    return res;
  });
  const auto graph = dashboard_graph(sources_.manifests);
  r.get("/api/graph", [this, graph](const http::Request&) {
    auto g = graph;
    g["urls"] = sources_.urls;
    return http::Response::json(200, g);
  });
  r.get("/api/stats", [this](const http::Request&) {
    return http::Response::json(200, stats(sources_.prometheus_port));
  });
  r.get("/api/processes", [this](const http::Request&) {
    json out = json::array();
    for (const auto& s :
         sources_.processes ? sources_.processes() : std::vector<SupervisedStatus>{})
      out.push_back({{"name", s.name},
                     {"pid", s.pid},
                     {"running", s.running},
                     {"ready", s.ready},
                     {"restarts", s.restarts},
                     {"metrics_port", s.metrics_port}});
    return http::Response::json(200, {{"processes", out}});
  });
  r.get("/api/mail", [this](const http::Request&) {
    json out = json::array();
    for (const auto& m : sources_.mail ? sources_.mail() : std::vector<CaughtMail>{})
      out.push_back(to_json(m));
    return http::Response::json(200, out);
  });
  server_ = std::make_unique<http::Server>(
      http::ServerOptions{"127.0.0.1:" + std::to_string(port), 2, std::size_t{1} << 16},
      r.handler());
}

Dashboard::~Dashboard() {
  if (server_) server_->stop();
}

int Dashboard::port() const {
  return server_->port();
}

}  // namespace pipewright::local
