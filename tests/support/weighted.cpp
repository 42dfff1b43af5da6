#include "tests/support/weighted.h"

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include "pkg/plan/env.h"
#include "pkg/proc/net.h"
#include "tests/support/http_client.h"
#include "tests/support/suite_logs.h"
#include "tests/support/workers.h"

namespace pipewright::testing {

ServiceRun::ServiceRun(api::WeightedService service) : service_(std::move(service)) {
  dir_ = component_dir(service_.meta.name);
  for (const auto& b : service_.backends) {
    auto& backend = backends_[b.name];
    backend.port = proc::free_port();
    backend.metrics_port = proc::free_port();
    backend.log_file = dir_ / (b.name + ".log");
  }
  std::ofstream(dir_ / "config.json") << service_.config.dump();
  for (const auto& b : service_.backends)
    launch(b.name);
  router_ = local::WeightedRouter::start(service_, address(), {dir_ / "router", 0, 1});
}

ServiceRun::~ServiceRun() {
  for (auto& [name, b] : backends_) {
    if (b.process.running()) b.process.kill(SIGCONT);
    b.process.stop(std::chrono::seconds(5));
  }
  if (router_) router_->stop();
}

local::BackendAddress ServiceRun::address() const {
  return [this](const api::Backend& b) {
    const auto& backend = backends_.at(b.name);
    return !backend.address_override.empty() ? backend.address_override
                                             : "127.0.0.1:" + std::to_string(backend.port);
  };
}

void ServiceRun::launch(const std::string& name) {
  const auto* spec = &service_.backends.front();
  for (const auto& b : service_.backends)
    if (b.name == name) spec = &b;
  auto& backend = backends_.at(name);
  auto env = plan::service_backend_env(service_, *spec, (dir_ / "config.json").string());
  plan::set_env(env, "PIPEWRIGHT_HTTP_PORT", std::to_string(backend.port));
  plan::set_env(env, "PIPEWRIGHT_METRICS_PORT", std::to_string(backend.metrics_port));
  plan::set_env(env, "PIPEWRIGHT_BIND_HOST", "127.0.0.1");
  proc::Spec process{{worker_binary().string(), service_.worker}, {}, backend.log_file, {}};
  for (const auto& [k, v] : env)
    process.env[k] = v;
  backend.process = proc::Process::start(process);
  const auto readyz = "http://127.0.0.1:" + std::to_string(backend.metrics_port) + "/readyz";
  const bool ready = proc::poll_until(std::chrono::seconds(30), [&] {
    return !backend.process.running() || http_get(readyz).status == 200;
  });
  if (!ready || !backend.process.running()) {
    throw std::runtime_error("backend " + name + " did not become ready:\n" +
                             tail(backend.log_file));
  }
}

void ServiceRun::stop_backend(const std::string& name) {
  auto& b = backends_.at(name);
  b.process.kill(SIGCONT);
  b.process.stop(std::chrono::seconds(10));
}

void ServiceRun::start_backend(const std::string& name) {
  launch(name);
}

void ServiceRun::pause_backend(const std::string& name) {
  auto& p = backends_.at(name).process;
  p.kill(SIGSTOP);
  // SIGSTOP takes effect asynchronously: until every thread is stopped, one may still answer a
  // request sent right after (seen: one of 300 served by the "hung" backend).
  const auto stopped = [pid = p.pid()] {
    std::error_code ec;
    bool all = true;
    for (const auto& t :
         std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
      std::ifstream in(t.path() / "stat");
      const std::string stat((std::istreambuf_iterator<char>(in)), {});
      const auto close = stat.rfind(')');
      all = all && close != std::string::npos && close + 2 < stat.size() && stat[close + 2] == 'T';
    }
    return !ec && all;
  };
  if (!proc::poll_until(std::chrono::seconds(5), stopped))
    throw std::runtime_error("backend " + name + " did not stop on SIGSTOP");
}

void ServiceRun::resume_backend(const std::string& name) {
  backends_.at(name).process.kill(SIGCONT);
}

std::string ServiceRun::metrics_url(const std::string& name) const {
  return "http://127.0.0.1:" + std::to_string(backends_.at(name).metrics_port) + "/metrics";
}

void ServiceRun::reweight(const std::map<std::string, int>& weights) {
  for (auto& b : service_.backends) {
    if (const auto it = weights.find(b.name); it != weights.end()) b.weight = it->second;
  }
  router_->reload(service_, address());
}

void ServiceRun::route_elsewhere(const std::string& name, const std::string& address) {
  backends_.at(name).address_override = address;
}

}  // namespace pipewright::testing
