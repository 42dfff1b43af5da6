#pragma once
// Runs a command to completion and captures what it printed (stdout and stderr together).

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace pipewright::proc {

struct RunResult {
  int exit_code = -1;  // 128+signal when killed, including on timeout
  std::string output;
  bool timed_out = false;
};

RunResult run(const std::vector<std::string>& argv,
              std::chrono::milliseconds timeout = std::chrono::seconds(60),
              const std::map<std::string, std::string>& env = {});

}  // namespace pipewright::proc
