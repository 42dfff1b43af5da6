#pragma once
// What the pipeline benchmarks share: a producer with the workers' settings, a watcher that
// times when each id arrives on output topics, rates and percentiles, the CPU time of a
// process, the peers of bench/peers started as processes, and the result lines that bench/run
// gathers into build/bench/results.json.

#include <librdkafka/rdkafkacpp.h>
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "pkg/proc/process.h"

namespace pipewright::bench {

using Clock = std::chrono::steady_clock;

double percentile(std::vector<double> v, double p);
double median(std::vector<double> v);
// Sizes like "1,10,100" from an environment variable.
std::vector<int> env_ints(const char* name, const std::vector<int>& fallback);

// Idempotent, acks=all, linger 2 ms: the workers' producer settings (pkg/kafka/client.cpp).
std::unique_ptr<RdKafka::Producer> producer(const std::string& bootstrap);
// Produces one message, waiting while librdkafka's queue is full.
void produce(RdKafka::Producer& p, const std::string& topic, const std::string& key,
             const std::string& value);
// The same with headers (a binary-mode CloudEvent's ce_* and content-type).
void produce(RdKafka::Producer& p, const std::string& topic, const std::string& key,
             const std::string& value,
             const std::vector<std::pair<std::string, std::string>>& headers);
// Creates topics of `partitions` partitions; throws on failure.
void create_topics(const std::string& bootstrap, const std::vector<std::string>& topics,
                   int partitions);

// Records when each id starting with `prefix` first appears on `topics` (the event data's id,
// else the value's "id"). Assigned at each partition's current end, not subscribed: no group
// join or backlog makes arrival times late.
class Watcher {
 public:
  Watcher(const std::string& bootstrap, const std::vector<std::string>& topics, std::string prefix,
          std::size_t n);
  ~Watcher();
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;
  bool wait(std::chrono::seconds limit);
  std::map<std::string, Clock::time_point> seen();

 private:
  void loop();
  std::string prefix_;
  std::size_t n_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::map<std::string, Clock::time_point> seen_;
  std::thread thread_;
};

struct Rate {
  double rate = 0, p50_ms = 0, p99_ms = 0;
  std::vector<double> latency_ms;
};
// count / (start → last arrival), latency from each id's send to its arrival.
Rate measure(const std::map<std::string, Clock::time_point>& sent, Watcher& watcher,
             Clock::time_point start);

// CPU time of a process (all its live threads) from /proc, in seconds.
double cpu_seconds(pid_t pid);

// Where the machine's CPU went from construction to finish(), in seconds: each named process's
// (cpu_seconds), this process's own ("bench": its producers and watchers, ended threads too),
// the rest of the machine's busy time ("other": other processes, the kernel's interrupts),
// the cores' idle time ("idle", iowait included) and all of it ("machine": wall time × cores),
// the last three from /proc/stat's ticks. So a rate's wall time splits into who was on a core
// and how much of the cores nobody used.
class CpuWindow {
 public:
  explicit CpuWindow(std::map<std::string, pid_t> processes);
  std::map<std::string, double> finish() const;

 private:
  struct Machine {
    double busy = 0, idle = 0;
  };
  static Machine machine();
  std::map<std::string, pid_t> processes_;
  std::map<std::string, double> start_;
  double bench_ = 0;
  Machine machine_;
};

// A program of bench/peers as a process of ours (dies with us), logging into the suite's folder.
// With `port_file` it waits until the peer wrote the port the OS gave it.
class Peer {
 public:
  Peer(const std::string& program, std::vector<std::string> args, bool port_file = false);
  ~Peer();
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;
  int port() const { return port_; }
  pid_t pid() const { return process_.pid(); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  proc::Process process_;
  int port_ = 0;
};

// Prints the result as one line and appends it to $PIPEWRIGHT_BENCH_RESULTS (JSON lines) when
// set. `result` has at least name, ours, peer, ratio, p50_ms, p99_ms.
void record(const nlohmann::json& result);

}  // namespace pipewright::bench
