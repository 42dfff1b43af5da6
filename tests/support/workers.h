#pragma once
// Runs a Pipeline's steps as `pipewright-worker` processes on a real Kafka, wired exactly as the
// plan wires them (plan::topics, plan::step_env), with ports from the OS, 127.0.0.1 only, a data
// folder and config files in the suite's log folder.

#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "pkg/api/types.h"
#include "pkg/proc/process.h"

namespace pipewright::testing {

struct WorkerProcess {
  std::string step;
  int http_port = 0, metrics_port = 0;
  std::filesystem::path log_file;
  proc::Process process;
  std::string url() const { return "http://127.0.0.1:" + std::to_string(http_port); }
  std::string metrics_url() const {
    return "http://127.0.0.1:" + std::to_string(metrics_port) + "/metrics";
  }
};

class PipelineRun {
 public:
  // `pipeline` as loaded from a manifest; its namespace is replaced by `namespace_` so runs of
  // one suite do not share topics or consumer groups.
  PipelineRun(api::Pipeline pipeline, std::string bootstrap, const std::string& namespace_);
  ~PipelineRun();

  api::Pipeline& pipeline() { return pipeline_; }
  const std::filesystem::path& data_dir() const { return data_dir_; }
  // Replaces a step's config before it starts.
  void set_config(const std::string& step, nlohmann::json config);
  // Creates every planned topic (dead-letter topics included); throws on failure.
  void create_topics();
  // Starts one replica and waits (with a deadline) until its /readyz answers 200.
  WorkerProcess& start(const std::string& step,
                       const std::map<std::string, std::string>& extra_env = {});
  // Every process of a step started so far (restarted ones replace their slot).
  std::vector<WorkerProcess*> processes(const std::string& step);
  // The Kafka topic of a logical topic name.
  std::string topic(const std::string& logical) const;

 private:
  api::Pipeline pipeline_;
  std::string bootstrap_;
  std::filesystem::path dir_, data_dir_;
  std::vector<std::unique_ptr<WorkerProcess>> processes_;
};

// The `pipewright-worker` binary of this build.
std::filesystem::path worker_binary();

// A multipart/form-data body; returns the Content-Type header value and the body.
struct Form {
  struct Field {
    std::string name, filename, content_type, data;
  };
  std::vector<Field> fields;
  std::string boundary = "----pipewright-test-boundary-7MA4YWxkTrZu0gW";
  std::string content_type() const { return "multipart/form-data; boundary=" + boundary; }
  std::string body() const;
};

// Sum of a metric's samples on a /metrics page whose labels contain `label_filter` (e.g.
// `topic="x"`), 0 when absent or unreachable.
double metric_value(const std::string& metrics_url, const std::string& name,
                    const std::string& label_filter = "");

// The number of messages in a topic (sum of high watermarks of its partitions).
long long topic_messages(const std::string& bootstrap, const std::string& topic);

// Every message of a topic from the beginning, waiting up to `wait` for at least `min` of them.
struct ConsumedMessage {
  std::string key, value;
  std::map<std::string, std::string> headers;
};
std::vector<ConsumedMessage> read_topic(const std::string& bootstrap, const std::string& topic,
                                        std::size_t min, std::chrono::milliseconds wait);

// A consumed message's CloudEvent (binary or structured mode, or an old envelope) in the JSON
// event format: {specversion, id, source, type, time, datacontenttype, data, ...}. Throws
// event::EnvelopeError when it is none of those.
nlohmann::json event_json(const ConsumedMessage& m);

}  // namespace pipewright::testing
