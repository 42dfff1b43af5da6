#pragma once
// Local mode's Prometheus: Debian's prometheus scraping every worker's metrics port every 2 s,
// 127.0.0.1 only, its data under the run's folder.

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "pkg/proc/process.h"

namespace pipewright::local {

struct ScrapeTarget {
  std::string address;                        // "127.0.0.1:port"
  std::map<std::string, std::string> labels;  // e.g. {process: "images/rotate-0"}
};

class Prometheus {
 public:
  // Starts it and waits until /-/ready answers; throws with its log's tail when it does not.
  static std::unique_ptr<Prometheus> start(const std::filesystem::path& dir, int port,
                                           const std::vector<ScrapeTarget>& targets,
                                           const std::string& scrape_interval = "2s");
  ~Prometheus();
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::filesystem::path log_file() const { return dir_ / "prometheus.log"; }
  bool running() { return process_.running(); }
  void stop() { process_.stop(); }

 private:
  Prometheus() = default;
  std::filesystem::path dir_;
  int port_ = 0;
  proc::Process process_;
};

}  // namespace pipewright::local
