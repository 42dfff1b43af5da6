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
};

// ${XDG_STATE_HOME:-~/.local/state}/pipewright
std::filesystem::path default_state_dir();

// Runs until `stop` becomes true (the caller's signal handling sets it). Progress and URLs go to
// `out`; returns the process exit code (1 on invalid manifests or a failed start, naming why).
int up(const UpOptions& options, const std::atomic<bool>& stop, std::ostream& out,
       std::ostream& err);

// Stops the run holding the lock in `state_dir` and waits for it to exit. Returns 0 when it
// stopped (or none was running: says so), 1 when it did not stop in time.
int down(const std::filesystem::path& state_dir, std::ostream& out, std::ostream& err);

}  // namespace pipewright::local
