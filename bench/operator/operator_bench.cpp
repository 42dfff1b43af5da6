// bench/operator: time from `kubectl apply` of N Pipelines to all their children present,
// against `kubectl apply` of the rendered children themselves in the same run (the peer: what
// the operator saves a user from doing by hand), for N = 1, 100, 1000; and the operator's CPU
// time and memory after reconciling 1,000 Pipelines.
//
// Usage: PIPEWRIGHT_BENCH_SIZES=1,100,1000 build/bench/operator_bench
// Real components: etcd, kube-apiserver, kube-controller-manager (garbage collector only),
// Kafka, the operator binary as its ServiceAccount. Prints a table; ratios are what to compare.

#include <gtest/gtest.h>

#include <unistd.h>
#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>

#include "pkg/api/manifest.h"
#include "pkg/kube/rest.h"
#include "pkg/local/kafka_broker.h"
#include "pkg/plan/render.h"
#include "pkg/proc/net.h"
#include "tests/support/control_plane.h"
#include "tests/support/operator.h"
#include "tests/support/suite_logs.h"

namespace pipewright {
namespace {

using Clock = std::chrono::steady_clock;
using testing::ControlPlane;

std::vector<int> sizes() {
  std::vector<int> out;
  const char* env = std::getenv("PIPEWRIGHT_BENCH_SIZES");
  std::stringstream ss(env != nullptr ? env : "1,100,1000");
  for (std::string n; std::getline(ss, n, ',');)
    out.push_back(std::stoi(n));
  return out;
}

// N one-step Pipelines, each with its own topic: a Deployment and a ConfigMap apiece.
std::string pipelines(const std::string& ns, int n) {
  std::string yaml;
  for (int i = 0; i < n; ++i) {
    yaml +=
        "apiVersion: pipewright.io/v1alpha1\nkind: Pipeline\nmetadata: {name: p" +
        std::to_string(i) + ", namespace: " + ns +
        "}\nspec:\n  topics: [{name: t}]\n  steps: [{name: s, worker: audit, inputs: [t]}]\n---\n";
  }
  return yaml;
}

std::size_t count(const ControlPlane& plane, const std::string& path) {
  kube::Rest rest(plane.admin(), std::chrono::seconds(60));
  const auto r = rest.request("GET", path);
  if (r.status != 200) return 0;
  return r.json()["items"].size();
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// utime + stime of a process, in seconds; VmRSS in MiB.
std::pair<double, double> cpu_and_rss(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string field;
  double cpu = 0;
  for (int i = 1; stat >> field; ++i) {
    if (i == 14 || i == 15) cpu += std::stod(field) / static_cast<double>(sysconf(_SC_CLK_TCK));
  }
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  double rss = 0;
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) rss = std::stod(line.substr(6)) / 1024.0;
  }
  return {cpu, rss};
}

TEST(OperatorBench, ApplyToChildrenAgainstKubectlApplyOfTheChildren) {
  ControlPlane::Options o;
  o.controllers = "garbage-collector-controller,namespace-controller,serviceaccount-controller";
  auto plane = ControlPlane::start(o);
  testing::install_crds_and_rbac(*plane);
  auto kafka = local::KafkaBroker::start({testing::component_dir("kafka")});
  auto op = testing::OperatorProcess::start(testing::operator_kubeconfig(*plane),
                                            kafka->bootstrap(), {"--workers=4"});
  std::cout
      << "\n| Pipelines | operator: apply -> children (s) | kubectl apply of the children (s) "
         "| ratio | operator CPU (s) | operator RSS (MiB) |\n|---|---|---|---|---|---|\n";
  for (const int n : sizes()) {
    const std::string ns = "bench" + std::to_string(n), peer = "peer" + std::to_string(n);
    plane->kubectl({"create", "namespace", ns});
    plane->kubectl({"create", "namespace", peer});
    const auto dir = testing::suite_dir();

    // The peer: the same children, rendered by the same code, applied by kubectl.
    const auto manifests = api::parse(pipelines(peer, n), "bench.yaml");
    std::vector<nlohmann::json> children;
    plan::RenderOptions options;
    options.default_bootstrap_servers = kafka->bootstrap();
    for (const auto& p : manifests.pipelines) {
      for (auto& c : plan::render(p, options))
        children.push_back(std::move(c));
    }
    std::ofstream(dir / "children.yaml") << plan::to_yaml(children);
    auto start = Clock::now();
    const auto peer_run =
        plane->kubectl({"apply", "--server-side", "-f", (dir / "children.yaml").string()});
    ASSERT_EQ(peer_run.exit_code, 0) << peer_run.output.substr(0, 2000);
    const double kubectl_s = seconds_since(start);

    const auto [cpu_before, rss_before] = cpu_and_rss(op->pid());
    std::ofstream(dir / "pipelines.yaml") << pipelines(ns, n);
    start = Clock::now();
    const auto applied =
        plane->kubectl({"apply", "--server-side", "-f", (dir / "pipelines.yaml").string()});
    ASSERT_EQ(applied.exit_code, 0) << applied.output.substr(0, 2000);
    const bool done = proc::poll_until(
        std::chrono::minutes(15),
        [&] {
          return count(*plane, "/apis/apps/v1/namespaces/" + ns + "/deployments") ==
                     static_cast<std::size_t>(n) &&
                 count(
                     *plane,
                     "/api/v1/namespaces/" + ns +
                         "/configmaps?labelSelector=app.kubernetes.io%2Fmanaged-by%3Dpipewright") ==
                     static_cast<std::size_t>(n);
        },
        std::chrono::milliseconds(100));
    ASSERT_TRUE(done) << "children not all present after 15 minutes";
    const double operator_s = seconds_since(start);
    const auto [cpu_after, rss_after] = cpu_and_rss(op->pid());
    std::printf("| %d | %.2f | %.2f | %.2f | %.1f | %.0f |\n", n, operator_s, kubectl_s,
                operator_s / kubectl_s, cpu_after - cpu_before, rss_after);
    std::fflush(stdout);
  }
}

}  // namespace
}  // namespace pipewright
