#pragma once
// Routes by method and path pattern, with one metrics middleware: every request is counted as
// http_requests_total{route,code} and timed as http_request_duration_seconds{route}, where
// route is the PATTERN ("/files/{name}") or "unmatched", never the raw path (cardinality).

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "pkg/http/server.h"

namespace prometheus {
class Registry;
}

namespace pipewright::http {

class Router {
 public:
  using Handler = Server::Handler;

  Router();  // no metrics
  explicit Router(std::shared_ptr<prometheus::Registry> registry);
  ~Router();
  Router(Router&&) noexcept;
  Router& operator=(Router&&) noexcept;
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // Patterns: exact ("/upload") or with whole-segment captures ("/files/{name}"), a capture
  // matching one non-empty segment and landing in Request::params. GET routes also answer
  // HEAD. Routes are added before serving starts; throws std::invalid_argument on a bad pattern.
  void add(std::string method, const std::string& pattern, Handler handler);
  void get(const std::string& pattern, Handler handler) { add("GET", pattern, std::move(handler)); }
  void post(const std::string& pattern, Handler handler) {
    add("POST", pattern, std::move(handler));
  }
  void put(const std::string& pattern, Handler handler) { add("PUT", pattern, std::move(handler)); }
  void del(const std::string& pattern, Handler handler) {
    add("DELETE", pattern, std::move(handler));
  }

  // Dispatches: 404 JSON {"error":"no route for GET /x"}, 405 JSON with `Allow` when the path
  // has routes but not for this method. Thread-safe once routes are added.
  Response operator()(const Request& request) const;
  // For Server: shares this Router's routes, which must outlive the Server.
  Handler handler() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// /healthz 200 {"status":"ok"}; /readyz 200 {"status":"ready"} or 503 {"status":"not ready"};
// /metrics: `registry` in Prometheus text format (text/plain; version=0.0.4).
void add_probes(Router& router, std::function<bool()> ready,
                std::shared_ptr<prometheus::Registry> registry);

}  // namespace pipewright::http
