#include "pkg/http/router.h"

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>

namespace pipewright::http {

namespace {

using Clock = std::chrono::steady_clock;

struct Segment {
  std::string text;  // the literal, or the capture's name
  bool capture = false;
};

// The metrics of one route label: the histogram made once, counters by status code made on
// first use and then read without a lock (a Family::Add per request builds a label map).
struct RouteMetrics {
  prometheus::Histogram* duration = nullptr;
  std::array<std::atomic<prometheus::Counter*>, 500> by_code{};  // 100..599
  std::string route;
};

struct Route {
  std::string method;
  std::string pattern;
  std::vector<Segment> segments;
  bool exact = true;
  Router::Handler handler;
  RouteMetrics* metrics = nullptr;
};

std::vector<Segment> parse_pattern(const std::string& pattern, bool& exact) {
  if (pattern.empty() || pattern.front() != '/')
    throw std::invalid_argument("route pattern must start with '/': " + pattern);
  std::vector<Segment> out;
  exact = true;
  std::size_t pos = 1;
  for (;;) {
    const auto slash = pattern.find('/', pos);
    const std::string seg = pattern.substr(pos, slash == std::string::npos ? slash : slash - pos);
    if (seg.size() >= 2 && seg.front() == '{' && seg.back() == '}') {
      const std::string name = seg.substr(1, seg.size() - 2);
      if (name.empty() || name.find_first_of("{}") != std::string::npos)
        throw std::invalid_argument("bad capture in route pattern: " + pattern);
      out.push_back({name, true});
      exact = false;
    } else {
      if (seg.find_first_of("{}") != std::string::npos)
        throw std::invalid_argument("a capture must be a whole segment: " + pattern);
      out.push_back({seg, false});
    }
    if (slash == std::string::npos) break;
    pos = slash + 1;
  }
  return out;
}

// Whether `path` matches; captures go to `params` when given.
bool matches(const Route& route, std::string_view path,
             std::map<std::string, std::string>* params) {
  if (route.exact) return path == route.pattern;
  if (path.empty() || path.front() != '/') return false;
  std::size_t pos = 1;
  for (std::size_t i = 0; i < route.segments.size(); ++i) {
    if (pos > path.size()) return false;
    const auto slash = path.find('/', pos);
    const bool last = i + 1 == route.segments.size();
    if (last != (slash == std::string_view::npos)) return false;
    const std::string_view seg =
        path.substr(pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos);
    const Segment& want = route.segments[i];
    if (want.capture) {
      if (seg.empty()) return false;
      if (params != nullptr) (*params)[want.text] = std::string(seg);
    } else if (seg != want.text) {
      return false;
    }
    pos = slash == std::string_view::npos ? path.size() + 1 : slash + 1;
  }
  return true;
}

}  // namespace

struct Router::Impl {
  std::shared_ptr<prometheus::Registry> registry;
  prometheus::Family<prometheus::Counter>* requests = nullptr;
  prometheus::Family<prometheus::Histogram>* durations = nullptr;
  std::vector<Route> routes;
  std::map<std::string, std::unique_ptr<RouteMetrics>> metrics;  // by route label
  RouteMetrics* unmatched = nullptr;
  std::mutex counter_mu;

  Response dispatch(const Request& request);

  RouteMetrics* metrics_for(const std::string& route) {
    if (registry == nullptr) return nullptr;
    auto& slot = metrics[route];
    if (!slot) {
      static const prometheus::Histogram::BucketBoundaries kBuckets = {
          0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
      slot = std::make_unique<RouteMetrics>();
      slot->route = route;
      slot->duration = &durations->Add({{"route", route}}, kBuckets);
    }
    return slot.get();
  }

  void record(RouteMetrics* m, int code, Clock::time_point start) {
    if (m == nullptr) return;
    m->duration->Observe(std::chrono::duration<double>(Clock::now() - start).count());
    if (code < 100 || code > 599) {
      requests->Add({{"route", m->route}, {"code", std::to_string(code)}}).Increment();
      return;
    }
    auto& slot = m->by_code[static_cast<std::size_t>(code - 100)];
    prometheus::Counter* counter = slot.load(std::memory_order_acquire);
    if (counter == nullptr) {
      const std::lock_guard lock(counter_mu);
      counter = &requests->Add({{"route", m->route}, {"code", std::to_string(code)}});
      slot.store(counter, std::memory_order_release);
    }
    counter->Increment();
  }
};

Router::Router() : impl_(std::make_unique<Impl>()) {}

Router::Router(std::shared_ptr<prometheus::Registry> registry) : Router() {
  if (registry == nullptr) return;
  impl_->registry = std::move(registry);
  impl_->requests = &prometheus::BuildCounter()
                         .Name("http_requests_total")
                         .Help("HTTP requests by route pattern and status code")
                         .Register(*impl_->registry);
  impl_->durations = &prometheus::BuildHistogram()
                          .Name("http_request_duration_seconds")
                          .Help("Time from a parsed request to its response, by route pattern")
                          .Register(*impl_->registry);
  impl_->unmatched = impl_->metrics_for("unmatched");
}

Router::~Router() = default;
Router::Router(Router&&) noexcept = default;
Router& Router::operator=(Router&&) noexcept = default;

void Router::add(std::string method, const std::string& pattern, Handler handler) {
  Route r;
  r.segments = parse_pattern(pattern, r.exact);
  for (const auto& existing : impl_->routes) {
    if (existing.method == method && existing.pattern == pattern)
      throw std::invalid_argument("route added twice: " + method + " " + pattern);
  }
  r.method = std::move(method);
  r.pattern = pattern;
  r.handler = std::move(handler);
  r.metrics = impl_->metrics_for(pattern);
  impl_->routes.push_back(std::move(r));
}

Response Router::operator()(const Request& request) const {
  return impl_->dispatch(request);
}

// Captures the Impl, not the Router, so a moved Router keeps serving.
Router::Handler Router::handler() const {
  return [impl = impl_.get()](const Request& request) { return impl->dispatch(request); };
}

Response Router::Impl::dispatch(const Request& request) {
  const auto start = Clock::now();
  const std::string path = request.path();
  const Route* hit = nullptr;
  const Route* path_hit = nullptr;
  const bool head = request.method == "HEAD";
  for (const auto& route : routes) {
    if (!matches(route, path, nullptr)) continue;
    if (path_hit == nullptr) path_hit = &route;
    if (route.method == request.method || (head && route.method == "GET")) {
      // An explicit HEAD route wins over GET's.
      if (hit == nullptr || route.method == request.method) hit = &route;
      if (route.method == request.method) break;
    }
  }
  if (hit == nullptr) {
    Response out;
    RouteMetrics* m = nullptr;
    if (path_hit == nullptr) {
      out = Response::error(404, "no route for " + request.method + " " + path, "path");
      m = unmatched;
    } else {
      std::set<std::string> allowed;
      for (const auto& route : routes) {
        if (!matches(route, path, nullptr)) continue;
        allowed.insert(route.method);
        if (route.method == "GET") allowed.insert("HEAD");
      }
      std::string allow;
      for (const auto& a : allowed)
        allow += (allow.empty() ? "" : ", ") + a;
      out =
          Response::error(405, "method " + request.method + " is not allowed on " + path, "method");
      out.headers["Allow"] = allow;
      m = path_hit->metrics;
    }
    record(m, out.status, start);
    return out;
  }
  request.params.clear();
  matches(*hit, path, &request.params);
  try {
    Response out = hit->handler(request);
    if (request.deferred) {
      // Counted and timed when the answer is given.
      request.deferred = [inner = std::move(request.deferred), this, m = hit->metrics,
                          start](const std::shared_ptr<Responder>& responder) {
        inner(std::make_shared<Responder>([this, m, start, responder](Response r) {
          record(m, r.status, start);
          responder->respond(std::move(r));
        }));
      };
      return out;
    }
    record(hit->metrics, out.status, start);
    return out;
  } catch (...) {
    record(hit->metrics, 500, start);  // the server answers 500 and logs it
    throw;
  }
}

void add_probes(Router& router, std::function<bool()> ready,
                std::shared_ptr<prometheus::Registry> registry) {
  router.get("/healthz", [](const Request&) { return Response::json(200, {{"status", "ok"}}); });
  router.get("/readyz", [ready = std::move(ready)](const Request&) {
    return ready && ready() ? Response::json(200, {{"status", "ready"}})
                            : Response::json(503, {{"status", "not ready"}});
  });
  router.get("/metrics", [registry = std::move(registry)](const Request&) {
    std::ostringstream out;
    if (registry) prometheus::TextSerializer().Serialize(out, registry->Collect());
    return Response{200, "text/plain; version=0.0.4; charset=utf-8", out.str(), {}};
  });
}

}  // namespace pipewright::http
