// bench/http: the workers' HTTP stack (Server + Router + metrics middleware, GET /json answering
// {"result":42} through nlohmann::json) against nginx `return 200 '{"result":42}'` with the same
// core budget (server threads = nginx worker_processes), both loaded by wrk in the same run.
//
// Usage: build-http/bench/http/http_bench
// Environment: PIPEWRIGHT_BENCH_SECONDS (10), PIPEWRIGHT_BENCH_CONNECTIONS (50),
// PIPEWRIGHT_BENCH_WRK_THREADS (2), PIPEWRIGHT_BENCH_THREADS (1: server threads and nginx
// workers), PIPEWRIGHT_BENCH_ROUNDS (2: nginx, ours, nginx, ours...). Exit code 0 unless a tool
// failed; the targets (ratio >= 0.7, p99 < 2 ms) are warnings.

#include <prometheus/registry.h>
#include <unistd.h>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/support/wrk.h"
#include "pkg/http/router.h"
#include "pkg/http/server.h"
#include "pkg/proc/net.h"
#include "pkg/proc/process.h"
#include "pkg/proc/run.h"

namespace pipewright {
namespace {

using bench::env_int;
using bench::run_wrk;
using Result = bench::WrkResult;

int run() {
  const int seconds = env_int("PIPEWRIGHT_BENCH_SECONDS", 10);
  const int connections = env_int("PIPEWRIGHT_BENCH_CONNECTIONS", 50);
  const int wrk_threads = env_int("PIPEWRIGHT_BENCH_WRK_THREADS", 2);
  const int threads = env_int("PIPEWRIGHT_BENCH_THREADS", 1);
  const int rounds = env_int("PIPEWRIGHT_BENCH_ROUNDS", 2);

  auto registry = std::make_shared<prometheus::Registry>();
  http::Router router(registry);
  http::add_probes(
      router, [] { return true; }, registry);
  router.get("/json", [](const http::Request&) {
    return http::Response::json(200, {{"result", 42}});
  });
  http::Server ours(http::ServerOptions{"127.0.0.1:0", threads, std::size_t{1024} * 1024},
                    router.handler());
  bench::StaticNginx nginx(threads);

  std::printf("wrk -t%d -c%d -d%ds --latency, %d server thread(s) / nginx worker(s), %d round(s)\n",
              wrk_threads, connections, seconds, threads, rounds);
  std::printf(
      "| round | server | req/s | p50 (ms) | p99 (ms) | max (ms) |\n|---|---|---|---|---|---|\n");
  std::vector<double> ratios;
  Result worst_ours;
  for (int round = 1; round <= rounds; ++round) {
    const auto n = run_wrk("http://127.0.0.1:" + std::to_string(nginx.port()) + "/json", seconds,
                           connections, wrk_threads);
    const auto o = run_wrk("http://127.0.0.1:" + std::to_string(ours.port()) + "/json", seconds,
                           connections, wrk_threads);
    for (const auto& [name, r] : {std::pair{"nginx return 200", n}, std::pair{"pipewright", o}})
      std::printf("| %d | %s | %.0f | %.3f | %.3f | %.1f |\n", round, name, r.rps, r.p50_ms,
                  r.p99_ms, r.max_ms);
    ratios.push_back(o.rps / n.rps);
    worst_ours.p99_ms = std::max(worst_ours.p99_ms, o.p99_ms);
    std::fflush(stdout);
  }
  std::sort(ratios.begin(), ratios.end());
  const double ratio = ratios[ratios.size() / 2];
  std::printf("\nratio ours/nginx (req/s, median of rounds): %.2f\n", ratio);
  std::printf("worst p99 of ours: %.3f ms\n", worst_ours.p99_ms);
  if (ratio < 0.7) std::printf("WARNING: ratio %.2f is under the 0.7 target\n", ratio);
  if (worst_ours.p99_ms >= 2.0)
    std::printf("WARNING: p99 %.3f ms is not under the 2 ms target\n", worst_ours.p99_ms);
  return 0;
}

}  // namespace
}  // namespace pipewright

int main() {
  try {
    return pipewright::run();
  } catch (const std::exception& e) {
    std::cerr << "http_bench: " << e.what() << "\n";
    return 1;
  }
}
