#pragma once
// What every HTTP benchmark here shares: wrk runs and their numbers, and nginx answering
// `return 200` as the peer to compare against.

#include <filesystem>
#include <string>

#include "pkg/proc/process.h"

namespace pipewright::bench {

int env_int(const char* name, int fallback);

struct WrkResult {
  double rps = 0, p50_ms = 0, p99_ms = 0, max_ms = 0;
  long socket_errors = 0;  // connect + read + write + timeout
};

// Reads "Requests/sec:", the 50% and 99% lines of --latency, the Max column of Latency and the
// socket errors. Throws when wrk saw non-2xx answers.
WrkResult parse_wrk(const std::string& output);
// `wrk -t<threads> -c<connections> -d<seconds>s --latency [-s script] url`; throws when wrk
// fails. `script`: a wrk Lua file (e.g. one that sets wrk.method and wrk.body for POSTs).
WrkResult run_wrk(const std::string& url, int seconds, int connections, int threads,
                  const std::string& script = "");

// Debian's nginx with `workers` processes answering every request with `body` (JSON), on a port
// from the OS, in a temporary folder removed afterwards.
class StaticNginx {
 public:
  explicit StaticNginx(int workers, const std::string& body = R"({"result":42})");
  ~StaticNginx();
  StaticNginx(const StaticNginx&) = delete;
  StaticNginx& operator=(const StaticNginx&) = delete;
  int port() const { return port_; }

 private:
  std::filesystem::path dir_;
  int port_ = 0;
  proc::Process process_;
};

}  // namespace pipewright::bench
