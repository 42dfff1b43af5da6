#pragma once
// `pipewright up`: runs the resources of some manifests on this machine. One run at a time per
// state folder (a lock file); `down` stops the run that holds it.

#include <atomic>
#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

namespace pipewright::local {

struct UpOptions {
  std::vector<std::filesystem::path> files;
  std::string bootstrap;            // empty: start a local Kafka broker
  std::filesystem::path state_dir;  // lock, pid, Kafka data, logs
  int kafka_port = 9092;            // used when free, else the OS picks one
  // The fixed addresses of SPEC section 7; 0 lets the OS pick (tests, a second run). A fixed
  // port that is taken is refused with a clear message, never silently moved.
  int gateway_port = 8080;
  int prometheus_port = 9090;
  int smtp_port = 1025;
  bool echo_logs = true;  // print each process's log lines, prefixed with its name
};

// ${XDG_STATE_HOME:-~/.local/state}/pipewright
std::filesystem::path default_state_dir();

// Runs until `stop` becomes true (the caller's signal handling sets it). Progress and URLs go to
// `out`; returns the process exit code (1 on invalid manifests or a failed start, naming why).
// Once everything is started it writes <state_dir>/run.json (every URL and port, the
// processes), removed again on the way out.
int up(const UpOptions& options, const std::atomic<bool>& stop, std::ostream& out,
       std::ostream& err);

// Stops the run holding the lock in `state_dir` and waits for it to exit. Returns 0 when it
// stopped (or none was running: says so), 1 when it did not stop in time.
int down(const std::filesystem::path& state_dir, std::ostream& out, std::ostream& err);

}  // namespace pipewright::local
