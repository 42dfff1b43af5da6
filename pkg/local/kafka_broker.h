#pragma once
// A single-node Apache Kafka 3.9 broker in KRaft mode (broker and controller in one JVM), run
// from the jars scripts/install cached. Used by `pipewright up` and by the tests.

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "pkg/proc/process.h"

namespace pipewright::local {

struct KafkaOptions {
  std::filesystem::path dir;  // data, configuration and kafka.log live here
  int port = 0;               // 0: a free port chosen by the OS
  std::chrono::seconds start_timeout{90};
  std::string heap = "768m";
};

class KafkaBroker {
 public:
  // Formats the storage (first start only), starts the broker and waits until it answers a
  // metadata request. Throws std::runtime_error with the log's tail when it does not come up.
  static std::unique_ptr<KafkaBroker> start(const KafkaOptions& options);
  ~KafkaBroker();

  std::string bootstrap() const { return "127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  std::filesystem::path log_file() const { return options_.dir / "kafka.log"; }
  bool running() { return process_.running(); }
  pid_t pid() const { return process_.pid(); }

  void stop();
  // SIGKILL, as a crash or the OOM killer would, and waits until it is gone (tests of faults).
  void kill();
  // Restarts on the same ports and data: after a crash (`pipewright up` supervises its broker
  // this way) or for tests of a broker that goes away and returns. Throws as start() does.
  void restart();

 private:
  explicit KafkaBroker(KafkaOptions options) : options_(std::move(options)) {}
  void launch();
  KafkaOptions options_;
  int port_ = 0;
  int controller_port_ = 0;
  proc::Process process_;
};

// True when a broker at `bootstrap` answers a metadata request within `timeout`.
bool kafka_answers(const std::string& bootstrap, std::chrono::milliseconds timeout);

}  // namespace pipewright::local
