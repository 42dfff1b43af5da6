#include "pkg/local/router.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "pkg/local/tools.h"
#include "pkg/log/log.h"
#include "pkg/plan/render.h"
#include "pkg/proc/net.h"
#include "pkg/proc/run.h"

namespace pipewright::local {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

// One GET over loopback; "" when nothing answers. Enough for the control server's one-line
// answers, and no HTTP library in this area.
std::string loopback_get(int port, const std::string& path) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  timeval timeout{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const auto request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(request.size())) {
      char buf[1024];
      for (ssize_t n = 0; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;)
        response.append(buf, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  const auto body = response.find("\r\n\r\n");
  return body == std::string::npos ? "" : response.substr(body + 4);
}

}  // namespace

std::string router_config(const api::WeightedService& service, const BackendAddress& address,
                          const RouterOptions& options, int port, int control_port,
                          int generation) {
  const auto d = options.dir.string();
  std::string out = "# The router of WeightedService " + service.meta.namespace_ + "/" +
                    service.meta.name + ", written by pipewright (local mode).\n";
  out += "daemon off;\nmaster_process on;\nworker_processes " +
         std::to_string(options.worker_processes) + ";\npid " + d + "/nginx.pid;\nerror_log " + d +
         "/error.log notice;\n";
  out += "worker_rlimit_nofile 8192;\nevents {\n  worker_connections 4096;\n}\n";
  out += "http {\n  access_log off;\n";
  for (const char* temp : {"client_body", "proxy", "fastcgi", "uwsgi", "scgi"})
    out += "  " + std::string(temp) + "_temp_path " + d + "/" + temp + ";\n";
  out += "  server {\n    listen 127.0.0.1:" + std::to_string(control_port) +
         ";\n    location = /generation {\n      return 200 \"" + std::to_string(generation) +
         "\";\n    }\n  }\n";
  std::istringstream plan(
      plan::nginx_config(service, address, "127.0.0.1:" + std::to_string(port)));
  for (std::string line; std::getline(plan, line);)
    out += (line.empty() ? "" : "  " + line) + "\n";
  out += "}\n";
  return out;
}

std::unique_ptr<Router> Router::start(const api::WeightedService& service,
                                      const BackendAddress& address, RouterOptions options) {
  fs::create_directories(options.dir);
  std::unique_ptr<Router> r(new Router(std::move(options)));
  r->port_ = r->options_.port != 0 ? r->options_.port : proc::free_port();
  r->control_port_ = proc::free_port();
  r->generation_ = 1;
  const auto conf = r->config_file();
  r->write_config(service, address, conf);
  r->check_config(conf);
  const auto d = r->options_.dir.string();
  r->process_ = proc::Process::start(
      {{system_tool("nginx").string(), "-p", d, "-c", conf.string(), "-e", r->error_log().string()},
       {},
       r->options_.dir / "nginx.out",
       r->options_.dir});
  const bool up = proc::poll_until(seconds(30), [&] {
    return !r->process_.running() || (r->serves_generation(1) && proc::port_open(r->port_));
  });
  if (!up || !r->process_.running()) {
    throw std::runtime_error("nginx router for " + service.meta.name + " did not start; " +
                             r->error_log().string() + ":\n" + tail(r->error_log()));
  }
  log::info("router started",
            {{"service", service.meta.name}, {"port", r->port_}, {"config", conf.string()}});
  return r;
}

Router::~Router() {
  stop();
}

void Router::write_config(const api::WeightedService& service, const BackendAddress& address,
                          const fs::path& file) const {
  const auto temp = file.string() + ".tmp";
  {
    std::ofstream out(temp, std::ios::trunc);
    out << router_config(service, address, options_, port_, control_port_, generation_);
    if (!out) throw std::runtime_error("cannot write " + temp);
  }
  fs::rename(temp, file);
}

void Router::check_config(const fs::path& file) const {
  const auto d = options_.dir.string();
  const auto r = proc::run({system_tool("nginx").string(), "-t", "-q", "-p", d, "-c", file.string(),
                            "-e", error_log().string()},
                           seconds(30));
  if (r.exit_code != 0) {
    throw std::runtime_error("nginx refuses the router configuration " + file.string() + ": " +
                             r.output + tail(error_log(), 600));
  }
}

bool Router::serves_generation(int generation) const {
  return loopback_get(control_port_, "/generation") == std::to_string(generation);
}

void Router::reload(const api::WeightedService& service, const BackendAddress& address) {
  if (!process_.running()) throw std::runtime_error("the router is not running");
  const auto candidate = options_.dir / "nginx.conf.next";
  ++generation_;
  try {
    write_config(service, address, candidate);
    check_config(candidate);
  } catch (...) {
    --generation_;
    throw;
  }
  fs::rename(candidate, config_file());
  ::kill(process_.pid(), SIGHUP);  // the master only: it starts the new workers itself
  const int wanted = generation_;
  const bool ok = proc::poll_until(
      seconds(30), [&] { return !process_.running() || serves_generation(wanted); });
  if (!ok || !process_.running()) {
    throw std::runtime_error("nginx did not take the new configuration; " + error_log().string() +
                             ":\n" + tail(error_log(), 2000));
  }
  log::info("router reloaded", {{"service", service.meta.name}, {"generation", wanted}});
}

void Router::stop(std::chrono::milliseconds grace) {
  if (!process_.running()) return;
  ::kill(process_.pid(), SIGQUIT);
  proc::poll_until(grace, [&] { return !process_.running(); });
  process_.stop(milliseconds(500));
}

}  // namespace pipewright::local
