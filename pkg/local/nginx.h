#pragma once
// Debian's nginx as local mode runs it: one master with its own folder (config, pid, logs,
// temp paths), 127.0.0.1 only, and graceful reloads that return once the new workers answer.
// The WeightedService routers and the gateway are both this, with different `http` contents.

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "pkg/proc/process.h"

namespace pipewright::local {

class Nginx {
 public:
  // Writes the configuration (`http_body` goes inside `http { }`), checks it with `nginx -t`,
  // starts nginx and returns once it serves. Throws std::runtime_error with nginx's own words.
  static std::unique_ptr<Nginx> start(const std::filesystem::path& dir,
                                      const std::string& http_body, int worker_processes = 1);
  ~Nginx();
  Nginx(const Nginx&) = delete;
  Nginx& operator=(const Nginx&) = delete;

  std::filesystem::path config_file() const { return dir_ / "nginx.conf"; }
  std::filesystem::path error_log() const { return dir_ / "error.log"; }
  bool running() { return process_.running(); }
  int generation() const { return generation_; }

  // Checks the new configuration first (a rejected one throws and the running one keeps
  // serving), then reloads (SIGHUP) and returns once workers with it answer and the old workers
  // have left (at most 10 s more: a WebSocket can hold an old worker).
  void reload(const std::string& http_body);
  // Graceful stop (SIGQUIT: in-flight requests finish), then SIGKILL after `grace`.
  void stop(std::chrono::milliseconds grace = std::chrono::seconds(10));

 private:
  Nginx() = default;
  std::string config(const std::string& http_body) const;
  void write_checked(const std::string& http_body, const std::filesystem::path& file) const;
  bool serves_generation(int generation) const;
  int worker_count() const;  // the master's child processes, old workers included

  std::filesystem::path dir_;
  int worker_processes_ = 1;
  int control_port_ = 0;  // 127.0.0.1 only: GET /generation says which config the workers run
  int generation_ = 0;
  proc::Process process_;
};

}  // namespace pipewright::local
