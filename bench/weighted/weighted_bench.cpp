// bench/weighted: the microservices seed under wrk, each against nginx in the same run with the
// same core budget.
//   A. one `mult` backend (2 HTTP threads) against nginx `return 200` (2 workers);
//   B. /mult through the router (local::WeightedRouter: Debian's nginx, 1 worker, the plan's
//   upstream,
//      weights 3 and 1 and a backup) in front of three mult backends, against the same router
//      in front of three nginx `return 200` backends (2 workers each): the ceiling of any
//      backend behind nginx on this machine.
//
// Usage: build/bench/weighted/weighted_bench
// Environment: PIPEWRIGHT_BENCH_SECONDS (10), PIPEWRIGHT_BENCH_CONNECTIONS (50),
// PIPEWRIGHT_BENCH_WRK_THREADS (2), PIPEWRIGHT_BENCH_ROUNDS (2). Exit code 0 unless a tool
// failed; targets (A >= 0.7, B >= 0.8, no 40 ms cluster) are printed as warnings.

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "bench/support/wrk.h"
#include "pkg/api/manifest.h"
#include "pkg/local/weighted_router.h"
#include "tests/support/suite_logs.h"
#include "tests/support/weighted.h"

namespace pipewright {
namespace {

using bench::WrkResult;

struct Pair {
  std::string name;
  std::string ours_url, peer_url;
  double target;
  std::vector<double> ratios;
  WrkResult worst_ours;
};

void print_row(int round, const std::string& what, const WrkResult& r) {
  std::printf("| %d | %s | %.0f | %.3f | %.3f | %.1f | %ld |\n", round, what.c_str(), r.rps,
              r.p50_ms, r.p99_ms, r.max_ms, r.socket_errors);
}

int run() {
  const int seconds = bench::env_int("PIPEWRIGHT_BENCH_SECONDS", 10);
  const int connections = bench::env_int("PIPEWRIGHT_BENCH_CONNECTIONS", 50);
  const int wrk_threads = bench::env_int("PIPEWRIGHT_BENCH_WRK_THREADS", 2);
  const int rounds = bench::env_int("PIPEWRIGHT_BENCH_ROUNDS", 2);

  const auto ws =
      api::load({testing::source_dir() / "examples" / "mult.yaml"}).weighted_services.at(0);
  testing::ServiceRun ours(ws);
  // The peer: the same router configuration, the backends nginx answering at once.
  std::vector<std::unique_ptr<bench::StaticNginx>> peers;
  for (std::size_t i = 0; i < ws.backends.size(); ++i)
    peers.push_back(std::make_unique<bench::StaticNginx>(2));
  const auto peer_router =
      local::WeightedRouter::start(ws,
                                   [&](const api::Backend& b) {
                                     for (std::size_t i = 0; i < ws.backends.size(); ++i)
                                       if (ws.backends[i].name == b.name)
                                         return "127.0.0.1:" + std::to_string(peers[i]->port());
                                     return std::string("127.0.0.1:1");
                                   },
                                   {testing::component_dir("peer-router"), 0, 1});

  const auto url = [](int port, const std::string& path) {
    return "http://127.0.0.1:" + std::to_string(port) + path;
  };
  const std::string query = "/mult?op1=6&op2=7";
  std::vector<Pair> pairs = {{"A. one mult backend vs nginx return 200",
                              url(ours.port("primary"), query),
                              url(peers[0]->port(), query),
                              0.7,
                              {},
                              {}},
                             {"B. /mult through the router vs the router before nginx return 200",
                              url(ours.router_port(), query),
                              url(peer_router->port(), query),
                              0.8,
                              {},
                              {}}};

  std::printf("wrk -t%d -c%d -d%ds --latency, %d round(s)\n", wrk_threads, connections, seconds,
              rounds);
  for (auto& p : pairs) {
    std::printf(
        "\n%s\n| round | server | req/s | p50 (ms) | p99 (ms) | max (ms) | socket errors |\n"
        "|---|---|---|---|---|---|---|\n",
        p.name.c_str());
    for (int round = 1; round <= rounds; ++round) {
      const auto peer = bench::run_wrk(p.peer_url, seconds, connections, wrk_threads);
      const auto o = bench::run_wrk(p.ours_url, seconds, connections, wrk_threads);
      print_row(round, "nginx", peer);
      print_row(round, "pipewright", o);
      p.ratios.push_back(o.rps / peer.rps);
      p.worst_ours.p99_ms = std::max(p.worst_ours.p99_ms, o.p99_ms);
      p.worst_ours.max_ms = std::max(p.worst_ours.max_ms, o.max_ms);
      std::fflush(stdout);
    }
  }
  std::printf("\n");
  for (auto& p : pairs) {
    std::sort(p.ratios.begin(), p.ratios.end());
    const double ratio = p.ratios[p.ratios.size() / 2];
    std::printf("%s: ratio %.2f (target %.1f), worst p99 %.3f ms, max %.1f ms\n", p.name.c_str(),
                ratio, p.target, p.worst_ours.p99_ms, p.worst_ours.max_ms);
    if (ratio < p.target)
      std::printf("WARNING: ratio %.2f is under the %.1f target\n", ratio, p.target);
  }
  return 0;
}

}  // namespace
}  // namespace pipewright

int main() {
  try {
    return pipewright::run();
  } catch (const std::exception& e) {
    std::cerr << "weighted_bench: " << e.what() << "\n";
    return 1;
  }
}
