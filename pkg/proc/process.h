#pragma once
// Child processes that cannot outlive us: each runs in its own process group, dies with its
// parent (PR_SET_PDEATHSIG), and is stopped as a group (SIGTERM, then SIGKILL after a grace).

#include <sys/types.h>
#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace pipewright::proc {

struct Spec {
  std::vector<std::string> argv;           // argv[0] is looked up on PATH when it has no '/'
  std::map<std::string, std::string> env;  // added to (or replacing in) our environment
  std::filesystem::path log_file;          // stdout and stderr, appended; empty: /dev/null
  std::filesystem::path cwd;               // empty: ours
};

class Process {
 public:
  Process() = default;
  // Throws std::runtime_error when the program cannot be started (fork or exec failed).
  static Process start(const Spec& spec);

  Process(Process&& other) noexcept;
  Process& operator=(Process&& other) noexcept;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process();

  pid_t pid() const { return pid_; }
  const std::string& name() const { return name_; }
  // False once the process has exited (its status is then kept for exit_code()).
  bool running();
  // The exit status as the shell shows it (128+signal when killed); -1 while running.
  int exit_code() const { return exit_code_; }
  // SIGTERM to the group, SIGKILL after `grace`; returns the exit code. Idempotent.
  int stop(std::chrono::milliseconds grace = std::chrono::seconds(10));
  // Sends a signal to the whole group without waiting (a test's "kill -9" is kill(SIGKILL)).
  void kill(int signal);

 private:
  bool reap(bool block);
  pid_t pid_ = -1;
  int exit_code_ = -1;
  std::string name_;
};

}  // namespace pipewright::proc
