#include "bench/support/wrk.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <stdexcept>

#include "pkg/proc/net.h"
#include "pkg/proc/run.h"

namespace pipewright::bench {
namespace {

double to_ms(double value, const std::string& unit) {
  if (unit == "us") return value / 1000;
  if (unit == "ms") return value;
  if (unit == "s") return value * 1000;
  if (unit == "m") return value * 60000;
  throw std::runtime_error("unknown wrk latency unit " + unit);
}

}  // namespace

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::stoi(v) : fallback;
}

WrkResult parse_wrk(const std::string& out) {
  WrkResult r;
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
  if (std::regex_search(
          out, m,
          std::regex(R"(Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+))"))) {
    for (int i = 1; i <= 4; ++i)
      r.socket_errors += std::stol(m[i]);
  }
  if (std::regex_search(out, m, std::regex(R"(Non-2xx or 3xx responses: (\d+))")))
    throw std::runtime_error("wrk saw " + std::string(m[1]) + " error responses:\n" + out);
  return r;
}

WrkResult run_wrk(const std::string& url, int seconds, int connections, int threads,
                  const std::string& script) {
  std::vector<std::string> argv = {"wrk", "-t" + std::to_string(threads),
                                   "-c" + std::to_string(connections),
                                   "-d" + std::to_string(seconds) + "s", "--latency"};
  if (!script.empty()) {
    argv.emplace_back("-s");
    argv.push_back(script);
  }
  argv.push_back(url);
  const auto r = proc::run(argv, std::chrono::seconds(seconds + 60));
  if (r.exit_code != 0) throw std::runtime_error("wrk failed:\n" + r.output);
  return parse_wrk(r.output);
}

StaticNginx::StaticNginx(int workers, const std::string& body) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "pw-bench-nginx-XXXXXX").string();
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
          << "    location / { return 200 '" << body << "'; }\n  }\n}\n";
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

StaticNginx::~StaticNginx() {
  process_.stop();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

}  // namespace pipewright::bench
