#pragma once
// The one worker runtime: HTTP (routes, probes, metrics), a producer, and the consume → process
// → produce → commit loop with retries, backoff and dead letters (SPEC sections 3 to 6). Every
// consuming worker is a Handler; HTTP-only workers add routes and call run() without one.

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "pkg/event/envelope.h"
#include "pkg/http/router.h"
#include "pkg/kafka/client.h"
#include "pkg/worker/wiring.h"

namespace prometheus {
class Registry;
}

namespace pipewright::worker {

// Thrown by a handler for input that no retry can fix (not an envelope, a missing file's name
// is invalid, ...): the message goes to the dead-letter topic at once.
class PermanentError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The event of a consumed message: a CloudEvent in either mode, or an old envelope. Anything
// else is a PermanentError saying why, so the message is dead-lettered at once.
event::Envelope read_event(const kafka::InMessage& m);
event::Decoded decode_event(const kafka::InMessage& m);

// The extension attributes a dead letter gets when it is a binary-mode CloudEvent (beside the
// pipewright-attempt, pipewright-error and pipewright-source headers, which keep their meaning):
// ce_pipewrightattempt, ce_pipewrighterror, ce_pipewrightorigin ("<topic>/<partition>/<offset>").
inline constexpr const char* kAttemptAttribute = "pipewrightattempt";
inline constexpr const char* kErrorAttribute = "pipewrighterror";
inline constexpr const char* kOriginAttribute = "pipewrightorigin";

struct RuntimeOptions {
  int http_threads = 2;
  std::size_t max_body_bytes = std::size_t{1} << 20;
  std::size_t batch = 64;  // messages per poll, committed together
};

class Runtime {
 public:
  using Handler = std::function<std::vector<kafka::OutMessage>(const kafka::InMessage&)>;

  // Connects nothing yet. `producer` replaces the Kafka one (tests); null makes one when the
  // step has topics.
  Runtime(Wiring wiring, nlohmann::json config, RuntimeOptions options = {},
          std::unique_ptr<kafka::Producer> producer = nullptr);
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  const Wiring& wiring() const { return wiring_; }
  const nlohmann::json& config() const { return config_; }
  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }
  // Add routes before run(); /healthz, /readyz and /metrics are already there.
  http::Router& router() { return *router_; }
  void set_options(const RuntimeOptions& options) { options_ = options; }
  // Adds a route at `pattern` and, for an exposed step, at base_path + pattern ("/" becomes both
  // "/images" and "/images/"), since Ingress and the local gateway pass the path on unchanged.
  void route(const std::string& method, const std::string& pattern,
             const http::Router::Handler& handler);

  // The event as a Kafka message on a logical output: a CloudEvent in binary mode (ce_*
  // headers, content-type, data as the value), keyed by `key` (the entity id).
  kafka::OutMessage message(const std::string& output, const std::string& key,
                            const event::Envelope& envelope) const;
  // Sends and waits for every acknowledgement, counting them; throws kafka::KafkaError.
  void publish(const std::vector<kafka::OutMessage>& messages);

  // Serves HTTP and, given a handler and inputs, consumes; returns 0 after SIGTERM/SIGINT or
  // stop(), once in-flight work is done and offsets are committed.
  int run(const Handler& handler = {});
  // Called once a batch's outputs are acknowledged, before its offsets are committed: where a
  // handler that appends to a file makes the batch durable (fsync). A throw is retried as a
  // failed send is; set before run().
  void set_before_commit(std::function<void()> hook) { before_commit_ = std::move(hook); }
  void stop();
  bool stopping() const;
  bool ready() const { return ready_.load(); }

 private:
  struct Metrics;
  void consume_loop(const Handler& handler);
  // Runs the handler with retries; false when stopped before the message was settled.
  bool settle(const Handler& handler, const kafka::InMessage& in,
              std::vector<kafka::OutMessage>& outputs);
  kafka::Producer& producer();
  bool sleep_unless_stopped(std::chrono::milliseconds duration) const;

  Wiring wiring_;
  nlohmann::json config_;
  RuntimeOptions options_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<http::Router> router_;
  std::mutex producer_mu_;  // guards the lazy creation of producer_
  std::unique_ptr<kafka::Producer> producer_;
  std::unique_ptr<kafka::Consumer> consumer_;
  std::function<void()> before_commit_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> ready_{false};
};

}  // namespace pipewright::worker
