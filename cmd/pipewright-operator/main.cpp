// pipewright-operator: reconciles Pipelines and WeightedServices (SPEC section 7).
// Only wiring: flags into OperatorOptions, signals into a stop flag.

#include <pthread.h>
#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <csignal>
#include <functional>
#include <iostream>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>

#include "pkg/controller/operator.h"
#include "pkg/log/log.h"

namespace {

constexpr const char* kUsage = R"(Usage: pipewright-operator [flags]

Reconciles pipewright.io Pipelines and WeightedServices: Kafka topics, worker Deployments,
Services, Ingress routes and weighted nginx routers.

Flags:
  --kubeconfig=PATH|in-cluster          how to reach the API server (default in-cluster)
  --context=NAME                        kubeconfig context (default: its current context)
  --metrics-bind-address=:9090          where /metrics listens
  --health-probe-bind-address=:8081     where /healthz and /readyz listen
  --leader-elect                        one active replica at a time (Lease pipewright-operator)
  --leader-election-namespace=NS        namespace of the Lease (default $POD_NAMESPACE or
                                        pipewright-system)
  --leader-election-lease-duration=S    a leader that stops renewing is replaced after S seconds
                                        (default 15)
  --leader-election-renew-deadline=S    a leader that cannot renew for S seconds steps down (10)
  --leader-election-retry-period=MS     how often to try and to renew, in milliseconds (2000)
  --worker-image=IMAGE                  image of the workers' Deployments
  --router-image=IMAGE                  nginx image of the WeightedService routers
  --image-pull-policy=POLICY            of those images: IfNotPresent (default), Always, Never
  --worker-resources=LIST               default requests/limits of worker containers, e.g.
                                        requests.cpu=50m,requests.memory=64Mi,limits.memory=512Mi
  --router-resources=LIST               the same for router containers
  --default-bootstrap-servers=HOST:PORT Kafka for Pipelines that name none
  --namespace=NS[,NS...]                watch these namespaces only (default: all)
  --workers=N                           concurrent reconciles (default 2)
  --resync-period=SECONDS               re-check everything this often (default 300)
  --lag-interval=SECONDS                read each Pipeline's consumer lag and dead letters from
                                        Kafka this often into its status (default 30; 0: never)
  -h, --help                            this text
)";

// "requests.cpu=50m,limits.memory=512Mi" (empty: none); anything else is a runtime_error.
pipewright::api::Resources parse_resources(const std::string& list) {
  pipewright::api::Resources r;
  std::size_t at = 0;
  while (at < list.size()) {
    const auto end = std::min(list.find(',', at), list.size());
    const auto item = list.substr(at, end - at);
    at = end + 1;
    const auto dot = item.find('.');
    const auto eq = item.find('=');
    if (dot == std::string::npos || eq == std::string::npos || dot > eq || eq + 1 == item.size())
      throw std::runtime_error("'" + item + "' is not requests|limits.cpu|memory=QUANTITY");
    const auto section = item.substr(0, dot);
    const auto name = item.substr(dot + 1, eq - dot - 1);
    if ((section != "requests" && section != "limits") || (name != "cpu" && name != "memory"))
      throw std::runtime_error("'" + item + "' is not requests|limits.cpu|memory=QUANTITY");
    (section == "requests" ? r.requests : r.limits)[name] = item.substr(eq + 1);
  }
  return r;
}

// "--name=value" or "--name value"; returns false and says why for anything else.
bool parse(int argc, char** argv, pipewright::controller::OperatorOptions& o) {
  std::string kubeconfig = "in-cluster", context;
  if (const char* ns = std::getenv("POD_NAMESPACE"); ns != nullptr && *ns != '\0') o.leader.ns = ns;
  char host[256] = "operator";
  gethostname(host, sizeof host - 1);
  o.leader.identity = std::string(host) + "-" + std::to_string(getpid());
  using std::chrono::milliseconds;
  using std::chrono::seconds;
  const std::map<std::string, std::function<void(const std::string&)>> setters = {
      {"--kubeconfig", [&](const std::string& v) { kubeconfig = v; }},
      {"--context", [&](const std::string& v) { context = v; }},
      {"--metrics-bind-address", [&](const std::string& v) { o.metrics_bind = v; }},
      {"--health-probe-bind-address", [&](const std::string& v) { o.health_bind = v; }},
      {"--leader-elect", [&](const std::string& v) { o.leader_elect = v == "true"; }},
      {"--leader-election-namespace", [&](const std::string& v) { o.leader.ns = v; }},
      {"--leader-election-lease-duration",
       [&](const std::string& v) { o.leader.lease_duration = seconds(std::stoi(v)); }},
      {"--leader-election-renew-deadline",
       [&](const std::string& v) { o.leader.renew_deadline = seconds(std::stoi(v)); }},
      {"--leader-election-retry-period",
       [&](const std::string& v) { o.leader.retry_period = milliseconds(std::stoi(v)); }},
      {"--worker-image", [&](const std::string& v) { o.manager.render.worker_image = v; }},
      {"--router-image", [&](const std::string& v) { o.manager.render.router_image = v; }},
      {"--image-pull-policy",
       [&](const std::string& v) {
         if (v != "IfNotPresent" && v != "Always" && v != "Never")
           throw std::runtime_error("must be IfNotPresent, Always or Never, not '" + v + "'");
         o.manager.render.image_pull_policy = v;
       }},
      {"--worker-resources",
       [&](const std::string& v) { o.manager.render.worker_resources = parse_resources(v); }},
      {"--router-resources",
       [&](const std::string& v) { o.manager.render.router_resources = parse_resources(v); }},
      {"--default-bootstrap-servers",
       [&](const std::string& v) { o.manager.render.default_bootstrap_servers = v; }},
      {"--namespace", [&](const std::string& v) { o.manager.ns = v; }},
      {"--workers", [&](const std::string& v) { o.manager.workers = std::stoi(v); }},
      {"--resync-period", [&](const std::string& v) { o.manager.resync = seconds(std::stoi(v)); }},
      {"--lag-interval",
       [&](const std::string& v) { o.manager.lag_interval = seconds(std::stoi(v)); }},
  };
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i], value;
    if (arg == "--leader-elect" || arg == "--leader-elect=true") {
      o.leader_elect = true;
      continue;
    }
    if (const auto eq = arg.find('='); eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      std::cerr << "pipewright-operator: flag " << arg << " needs a value\n";
      return false;
    }
    const auto setter = setters.find(arg);
    if (setter == setters.end()) {
      std::cerr << "pipewright-operator: unknown flag '" << arg << "' (try --help)\n";
      return false;
    }
    try {
      setter->second(value);
    } catch (const std::logic_error&) {  // std::stoi: not a number, or out of range
      std::cerr << "pipewright-operator: " << arg << " needs a number, not '" << value << "'\n";
      return false;
    } catch (const std::runtime_error& e) {
      std::cerr << "pipewright-operator: " << arg << ": " << e.what() << "\n";
      return false;
    }
  }
  try {
    o.kube = kubeconfig == "in-cluster" ? pipewright::kube::in_cluster_config()
                                        : pipewright::kube::load_kubeconfig(kubeconfig, context);
  } catch (const std::exception& e) {
    std::cerr << "pipewright-operator: " << e.what() << "\n";
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  pipewright::controller::OperatorOptions options;
  // --help must work without a cluster: look for it before loading any configuration.
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      return 0;
    }
  }
  if (!parse(argc, argv, options)) return 2;

  // SIGINT/SIGTERM reach one thread only; every other thread (informers, librdkafka) blocks them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  std::atomic<bool> stop{false};
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    pipewright::log::info("signal received; shutting down", {{"signal", sig}});
    stop = true;
  });
  waiter.detach();
  return pipewright::controller::run_operator(options, stop);
}
