#include "pkg/local/supervisor.h"

#include <algorithm>
#include <csignal>
#include <fstream>
#include <thread>

#include "pkg/log/log.h"
#include "pkg/proc/net.h"
#include "pkg/units/backoff.h"

namespace pipewright::local {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

struct Supervisor::Child {
  Supervised config;
  proc::Process process;
  int restarts = 0;
  bool ready = false;
  bool waiting = false;  // exited; starts again at `restart_at`
  Clock::time_point started, restart_at, next_probe;
  std::uintmax_t log_offset = 0;
  std::string partial;  // an unfinished last line
};

Supervisor::Supervisor(std::ostream& out, std::mutex& out_mutex, bool echo_logs)
    : out_(out), out_mutex_(out_mutex), echo_logs_(echo_logs) {}

Supervisor::~Supervisor() {
  stop_all(seconds(5));
}

void Supervisor::say(const std::string& line) {
  const std::lock_guard lock(out_mutex_);
  out_ << line << "\n" << std::flush;
}

void Supervisor::start(Child& c) {
  c.process = proc::Process::start(c.config.spec);
  c.started = Clock::now();
  c.next_probe = c.started;
  c.waiting = false;
  c.ready = false;
}

void Supervisor::add(Supervised child) {
  auto c = std::make_unique<Child>();
  c->config = std::move(child);
  std::error_code ec;
  c->log_offset = std::filesystem::file_size(c->config.spec.log_file, ec);
  if (ec) c->log_offset = 0;
  start(*c);
  say("[" + c->config.name + "] started, pid " + std::to_string(c->process.pid()) + ", log " +
      c->config.spec.log_file.string());
  const std::lock_guard lock(mutex_);
  children_.push_back(std::move(c));
}

void Supervisor::tick() {
  const std::lock_guard lock(mutex_);
  const auto now = Clock::now();
  for (auto& cp : children_) {
    auto& c = *cp;
    // Echo what it wrote since the last tick, whole lines only.
    if (echo_logs_) {
      std::ifstream in(c.config.spec.log_file, std::ios::binary);
      in.seekg(static_cast<std::streamoff>(c.log_offset));
      std::string chunk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      c.log_offset += chunk.size();
      c.partial += chunk;
      for (auto nl = c.partial.find('\n'); nl != std::string::npos; nl = c.partial.find('\n')) {
        say("[" + c.config.name + "] " + c.partial.substr(0, nl));
        c.partial.erase(0, nl + 1);
      }
    }
    if (c.waiting) {
      if (now >= c.restart_at) {
        start(c);
        say("[" + c.config.name + "] restarted (" + std::to_string(c.restarts) + "), pid " +
            std::to_string(c.process.pid()));
      }
      continue;
    }
    if (!c.process.running()) {
      // 1 s, 2 s, 4 s ... 30 s; a child that ran for a minute starts from 1 s again.
      if (now - c.started > seconds(60)) c.restarts = 0;
      const auto backoff = units::exponential_backoff(seconds(1), seconds(30), ++c.restarts);
      c.waiting = true;
      c.ready = false;
      c.restart_at = now + backoff;
      say("[" + c.config.name + "] exited with code " + std::to_string(c.process.exit_code()) +
          "; starting again in " + std::to_string(backoff.count() / 1000) + " s");
      continue;
    }
    if (c.config.metrics_port != 0 && now >= c.next_probe) {
      const bool ready =
          proc::loopback_get(c.config.metrics_port, "/readyz", milliseconds(500)).status == 200;
      if (ready && !c.ready) say("[" + c.config.name + "] ready");
      c.ready = ready;
      c.next_probe = now + (ready ? seconds(5) : milliseconds(500));
    }
  }
}

bool Supervisor::all_ready() const {
  const std::lock_guard lock(mutex_);
  return std::all_of(children_.begin(), children_.end(), [](const auto& c) { return c->ready; });
}

std::vector<SupervisedStatus> Supervisor::status() const {
  const std::lock_guard lock(mutex_);
  std::vector<SupervisedStatus> out;
  for (const auto& c : children_) {
    out.push_back({c->config.name, c->process.pid(), !c->waiting, c->ready, c->restarts,
                   c->config.metrics_port});
  }
  return out;
}

void Supervisor::stop_all(milliseconds grace) {
  const std::lock_guard lock(mutex_);
  for (auto& c : children_)
    if (c->process.running()) c->process.kill(SIGTERM);
  const auto deadline = Clock::now() + grace;
  for (auto& c : children_) {
    const auto left = std::max(milliseconds(0),
                               std::chrono::duration_cast<milliseconds>(deadline - Clock::now()));
    c->process.stop(left);
  }
  children_.clear();
}

}  // namespace pipewright::local
