#pragma once
// Local mode's process supervisor: each step replica and WeightedService backend is a child
// process that is started again with capped exponential backoff when it dies, whose log lines
// are echoed with its name in front, and whose readiness is watched. Driven by one thread
// calling tick(); stop_all() leaves no child behind.

#include <chrono>
#include <filesystem>
#include <functional>
#include <mutex>
#include <ostream>
#include <string>
#include <vector>

#include "pkg/proc/process.h"

namespace pipewright::local {

struct Supervised {
  std::string name;      // "images/rotate-1", "mult/primary"
  proc::Spec spec;       // spec.log_file is required: it is what gets echoed
  int metrics_port = 0;  // /readyz is polled here
};

struct SupervisedStatus {
  std::string name;
  int pid = -1;
  bool running = false, ready = false;
  int restarts = 0;
  int metrics_port = 0;
};

class Supervisor {
 public:
  // `out` receives "[name] <log line>" and progress lines, under `out_mutex`.
  Supervisor(std::ostream& out, std::mutex& out_mutex, bool echo_logs = true);
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // Starts it now; throws when the program cannot be started at all.
  void add(Supervised child);
  // Restarts children whose backoff has passed, echoes new log lines, checks readiness.
  void tick();
  bool all_ready() const;
  std::vector<SupervisedStatus> status() const;
  // SIGTERM to every child (they finish in-flight work), SIGKILL after `grace`.
  void stop_all(std::chrono::milliseconds grace = std::chrono::seconds(15));

 private:
  struct Child;
  void say(const std::string& line);
  void start(Child& c);
  std::ostream& out_;
  std::mutex& out_mutex_;
  bool echo_logs_;
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Child>> children_;
};

}  // namespace pipewright::local
