#include "pkg/local/nginx.h"

#include <csignal>
#include <fstream>
#include <stdexcept>

#include "pkg/local/tools.h"
#include "pkg/proc/net.h"
#include "pkg/proc/run.h"

namespace pipewright::local {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

std::string Nginx::config(const std::string& http_body) const {
  const auto d = dir_.string();
  std::string out = "# Written by pipewright (local mode).\n";
  out += "daemon off;\nmaster_process on;\nworker_processes " + std::to_string(worker_processes_) +
         ";\npid " + d + "/nginx.pid;\nerror_log " + d + "/error.log notice;\n";
  out += "worker_rlimit_nofile 8192;\nevents {\n  worker_connections 4096;\n}\n";
  out += "http {\n  access_log off;\n";
  for (const char* temp : {"client_body", "proxy", "fastcgi", "uwsgi", "scgi"})
    out += "  " + std::string(temp) + "_temp_path " + d + "/" + temp + ";\n";
  out += "  server {\n    listen 127.0.0.1:" + std::to_string(control_port_) +
         ";\n    location = /generation {\n      return 200 \"" + std::to_string(generation_) +
         "\";\n    }\n  }\n";
  std::string line;
  for (std::size_t pos = 0; pos < http_body.size();) {
    auto end = http_body.find('\n', pos);
    if (end == std::string::npos) end = http_body.size();
    line = http_body.substr(pos, end - pos);
    out += (line.empty() ? "" : "  " + line) + "\n";
    pos = end + 1;
  }
  out += "}\n";
  return out;
}

void Nginx::write_checked(const std::string& http_body, const fs::path& file) const {
  {
    std::ofstream out(file, std::ios::trunc);
    out << config(http_body);
    if (!out) throw std::runtime_error("cannot write " + file.string());
  }
  const auto d = dir_.string();
  const auto r = proc::run({system_tool("nginx").string(), "-t", "-q", "-p", d, "-c", file.string(),
                            "-e", error_log().string()},
                           seconds(30));
  if (r.exit_code != 0) {
    throw std::runtime_error("nginx refuses the configuration " + file.string() + ": " + r.output +
                             tail(error_log(), 600));
  }
}

bool Nginx::serves_generation(int generation) const {
  return proc::loopback_get(control_port_, "/generation").body == std::to_string(generation);
}

std::unique_ptr<Nginx> Nginx::start(const fs::path& dir, const std::string& http_body,
                                    int worker_processes) {
  fs::create_directories(dir);
  std::unique_ptr<Nginx> n(new Nginx());
  n->dir_ = dir;
  n->worker_processes_ = worker_processes;
  n->control_port_ = proc::free_port();
  n->generation_ = 1;
  n->write_checked(http_body, n->config_file());
  const auto d = dir.string();
  n->process_ = proc::Process::start({{system_tool("nginx").string(), "-p", d, "-c",
                                       n->config_file().string(), "-e", n->error_log().string()},
                                      {},
                                      dir / "nginx.out",
                                      dir});
  const bool up = proc::poll_until(
      seconds(30), [&] { return !n->process_.running() || n->serves_generation(1); });
  if (!up || !n->process_.running()) {
    throw std::runtime_error("nginx did not start; " + n->error_log().string() + ":\n" +
                             tail(n->error_log(), 2000));
  }
  return n;
}

Nginx::~Nginx() {
  stop();
}

void Nginx::reload(const std::string& http_body) {
  if (!process_.running()) throw std::runtime_error("nginx is not running");
  const auto candidate = dir_ / "nginx.conf.next";
  ++generation_;
  try {
    write_checked(http_body, candidate);
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
  // The old workers finish the requests they hold and close their keep-alive connections; once
  // they are gone every request meets the new configuration. A long-lived connection (a
  // WebSocket) can keep one alive, so this wait is bounded.
  proc::poll_until(seconds(10), [&] { return worker_count() <= worker_processes_; });
}

int Nginx::worker_count() const {
  const auto pid = std::to_string(process_.pid());
  std::ifstream in("/proc/" + pid + "/task/" + pid + "/children");
  int n = 0;
  for (long child = 0; in >> child;)
    ++n;
  return n;
}

void Nginx::stop(milliseconds grace) {
  if (!process_.running()) return;
  ::kill(process_.pid(), SIGQUIT);
  proc::poll_until(grace, [&] { return !process_.running(); });
  process_.stop(milliseconds(500));
}

}  // namespace pipewright::local
