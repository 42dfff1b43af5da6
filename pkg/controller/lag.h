#pragma once
// Consumer lag and dead letters per step, read from Kafka at most once per interval per
// Pipeline, and the rules status uses to show them without a write on every sample: lag that
// moved less than 10% keeps its shown value, and LagGrowing needs kLagSamples consecutive
// samples, each above the one before (one high sample is not a trend).

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "pkg/api/types.h"
#include "pkg/kafka/group_lag.h"

namespace pipewright::controller {

// Offset readers by bootstrap servers and the Pipeline's spec.kafka.secretRef (its namespace and
// name; empty: none), kept open between reconciles like the admin clients (admins.h).
using OffsetReaderFor = std::function<std::shared_ptr<kafka::OffsetReader>(
    const std::string& bootstrap, const std::string& ns, const std::string& secret)>;

// Consecutive samples that decide LagGrowing (three rises in a row).
inline constexpr std::size_t kLagSamples = 4;

struct StepLag {
  std::optional<std::int64_t> lag;           // over its input partitions; none without inputs
  std::optional<std::int64_t> dead_letters;  // in its inputs' dead-letter topics; none without
  std::vector<std::int64_t> samples;         // the last kLagSamples lags, oldest first
};

struct PipelineLag {
  std::map<std::string, StepLag> steps;  // by step name; empty when Kafka did not answer
  std::string error;
};

// True when each of the last kLagSamples samples is above the one before, false when not;
// nullopt while fewer have been taken (status keeps what it said: no flap on a restart).
std::optional<bool> lag_growing(const std::vector<std::int64_t>& samples);

// The lag status shows for `sample` when it shows `shown`: `shown` unless the two differ by more
// than a tenth of the larger, or exactly one of them is 0 (a lag that appears or drains always
// shows). A lag that is stable, or jitters by a few messages under load, writes nothing.
std::int64_t reported_lag(std::optional<std::int64_t> shown, std::int64_t sample);

struct PipelineObservation;  // status.h

class LagMonitor;
// Fills `o`'s step lines with `monitor`'s latest sample of `p` (see status.h).
void observe_lag(LagMonitor& monitor, const api::Pipeline& p, const std::string& bootstrap,
                 PipelineObservation& o);

class LagMonitor {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  LagMonitor(
      OffsetReaderFor reader, std::chrono::milliseconds interval,
      Clock now = [] { return std::chrono::steady_clock::now(); });

  // The latest sample of `p`'s steps: Kafka is read when the last sample is `interval` old or
  // there is none, else the last sample is returned as it was (reconciles between samples see
  // the same lag, so they write nothing). A failed read is retried at the next interval.
  PipelineLag observe(const api::Pipeline& p, const std::string& bootstrap);
  void forget(const std::string& ns, const std::string& name);
  std::chrono::milliseconds interval() const { return interval_; }

 private:
  PipelineLag read(const api::Pipeline& p, const std::string& bootstrap,
                   const PipelineLag& before) const;

  OffsetReaderFor reader_;
  const std::chrono::milliseconds interval_;
  Clock now_;
  std::mutex mu_;
  std::map<std::string, std::pair<std::chrono::steady_clock::time_point, PipelineLag>> last_;
};

}  // namespace pipewright::controller
