#include "pkg/proc/run.h"

#include <unistd.h>
#include <fstream>
#include <sstream>

#include "pkg/proc/process.h"

namespace pipewright::proc {

RunResult run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
              const std::map<std::string, std::string>& env) {
  // Output goes through a temporary file: no pipe to drain while we wait on the deadline.
  char tmpl[] = "/tmp/pipewright-run-XXXXXX";
  const int fd = ::mkstemp(tmpl);
  if (fd >= 0) ::close(fd);
  const std::filesystem::path out = tmpl;

  RunResult result;
  Process p = Process::start(Spec{argv, env, out, {}});
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (p.running()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      result.timed_out = true;
      break;
    }
    usleep(10'000);
  }
  result.exit_code = p.stop(std::chrono::seconds(2));
  std::ifstream in(out);
  std::stringstream ss;
  ss << in.rdbuf();
  result.output = ss.str();
  std::filesystem::remove(out);
  return result;
}

}  // namespace pipewright::proc
