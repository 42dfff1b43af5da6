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

#include "pkg/http/router.h"
#include "pkg/http/server.h"
#include "pkg/proc/net.h"
#include "pkg/proc/process.h"
#include "pkg/proc/run.h"

namespace pipewright {
namespace {

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::stoi(v) : fallback;
}

struct Result {
  double rps = 0, p50_ms = 0, p99_ms = 0, max_ms = 0;
};

double to_ms(double value, const std::string& unit) {
  if (unit == "us") return value / 1000;
  if (unit == "ms") return value;
  if (unit == "s") return value * 1000;
  if (unit == "m") return value * 60000;
  throw std::runtime_error("unknown wrk latency unit " + unit);
}

// Reads "Requests/sec:", the 50% and 99% lines of --latency, and the Max column of Latency.
Result parse_wrk(const std::string& out) {
  Result r;
  std::smatch m;
  if (!std::regex_search(out, m, std::regex(R"(Requests/sec:\s+([0-9.]+))")))
    throw std::runtime_error("no Requests/sec in wrk output:\n" + out);
  r.rps = std::stod(m[1]);
  const std::regex pct(R"(\s(50|99)%\s+([0-9.]+)(us|ms|s|m)\b)");
  for (auto it = std::sregex_iterator(out.begin(), out.end(), pct); it != std::sregex_iterator();
       ++it) {
    const double ms = to_ms(std::stod((*it)[2]), (*it)[3]);
    ((*it)[1] == "50" ? r.p50_ms : r.p99_ms) = ms;
  }
  if (std::regex_search(out, m,
                        std::regex(R"(Latency\s+[0-9.]+\w+\s+[0-9.]+\w+\s+([0-9.]+)(us|ms|s|m))")))
    r.max_ms = to_ms(std::stod(m[1]), m[2]);
  if (std::regex_search(out, m, std::regex(R"(Non-2xx or 3xx responses: (\d+))")))
    throw std::runtime_error("wrk saw " + std::string(m[1]) + " error responses:\n" + out);
  return r;
}

Result run_wrk(const std::string& url, int seconds, int connections, int threads) {
  const auto r =
      proc::run({"wrk", "-t" + std::to_string(threads), "-c" + std::to_string(connections),
                 "-d" + std::to_string(seconds) + "s", "--latency", url},
                std::chrono::seconds(seconds + 60));
  if (r.exit_code != 0) throw std::runtime_error("wrk failed:\n" + r.output);
  return parse_wrk(r.output);
}

// nginx with `workers` processes answering every request with {"result":42}.
class Nginx {
 public:
  explicit Nginx(int workers) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "pw-http-bench-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    const auto d = dir_.string();
    // Ports from the OS; a port taken between free_port() and nginx's bind is retried.
    for (int attempt = 0; attempt < 5; ++attempt) {
      port_ = proc::free_port();
      {
        std::ofstream cfg(dir_ / "nginx.conf");
        cfg << "daemon off;\nworker_processes " << workers << ";\npid " << d << "/nginx.pid;\n"
            << "error_log " << d << "/error.log warn;\n"
            << "events { worker_connections 4096; }\n"
            << "http {\n  access_log off;\n  keepalive_requests 1000000;\n"
            << "  client_body_temp_path " << d << "/body;\n  proxy_temp_path " << d << "/proxy;\n"
            << "  fastcgi_temp_path " << d << "/fastcgi;\n  uwsgi_temp_path " << d << "/uwsgi;\n"
            << "  scgi_temp_path " << d << "/scgi;\n"
            << "  server {\n    listen 127.0.0.1:" << port_ << ";\n"
            << "    default_type application/json;\n"
            << "    location / { return 200 '{\"result\":42}'; }\n  }\n}\n";
      }
      process_ = proc::Process::start(
          {{"/usr/sbin/nginx", "-p", d, "-c", d + "/nginx.conf", "-e", d + "/error.log"},
           {},
           dir_ / "nginx.log",
           dir_});
      if (proc::poll_until(std::chrono::seconds(10),
                           [&] { return !process_.running() || proc::port_open(port_); }) &&
          process_.running()) {
        return;
      }
      process_.stop();
    }
    throw std::runtime_error("nginx did not start; see " + d + "/error.log");
  }
  ~Nginx() {
    process_.stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  Nginx(const Nginx&) = delete;
  Nginx& operator=(const Nginx&) = delete;
  int port() const { return port_; }

 private:
  std::filesystem::path dir_;
  int port_ = 0;
  proc::Process process_;
};

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
  Nginx nginx(threads);

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
