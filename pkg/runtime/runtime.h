#pragma once
// The one worker runtime: HTTP (routes, probes, metrics), a producer, and the consume → process
// → produce → commit loop with retries, backoff and dead letters (SPEC sections 3 to 6). Every
// consuming worker is a Handler; HTTP-only workers add routes and call run() without one.

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <vector>

#include "pkg/event/envelope.h"
#include "pkg/http/router.h"
#include "pkg/kafka/client.h"
#include "pkg/runtime/wiring.h"

namespace prometheus {
class Registry;
class Gauge;
}  // namespace prometheus

namespace pipewright::runtime {

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
// The same with `data` kept as its JSON text (event::from_kafka_text; `data` views m.value):
// nullopt when read_event must decode it, or say why it is no event.
std::optional<event::DecodedText> read_event_text(
    const kafka::InMessage& m, event::DataText data = event::DataText::canonical);

// The extension attributes a dead letter gets when it is a binary-mode CloudEvent (beside the
// pipewright-attempt, pipewright-error and pipewright-source headers, which keep their meaning):
// ce_pipewrightattempt, ce_pipewrighterror, ce_pipewrightorigin ("<topic>/<partition>/<offset>").
inline constexpr const char* kAttemptAttribute = "pipewrightattempt";
inline constexpr const char* kErrorAttribute = "pipewrighterror";
inline constexpr const char* kOriginAttribute = "pipewrightorigin";

struct RuntimeOptions {
  int http_threads = 2;
  std::size_t max_body_bytes = std::size_t{1} << 20;
  std::size_t batch = 64;  // messages per poll
  // Time spent running handlers between two polls, well under max.poll.interval.ms (300 s).
  std::chrono::milliseconds poll_budget{250};
  // A partition with this many messages consumed and not yet acknowledged is paused.
  std::size_t max_pending_per_partition = 2048;
  // Behind its input (a poll came back full), the loop hands outputs to the producer in bursts
  // held at most this long: each partition then gets a few large produce requests, as from a
  // relay producing each fetched batch at once, not many small ones (the broker's work is per
  // request). Once a poll comes back short (caught up) they go at once: no latency added.
  std::chrono::milliseconds output_linger{50};
  // Acknowledged offsets are committed (asynchronously) at most this often.
  std::chrono::milliseconds commit_interval{100};
  // How often committed offsets and watermarks are read for pipewright_consumer_lag.
  std::chrono::milliseconds lag_interval{5000};
  // On SIGTERM, how long outputs already sent may take to be acknowledged before exit.
  std::chrono::milliseconds drain_timeout{30'000};
};

class Runtime {
 public:
  using Handler = std::function<std::vector<kafka::OutMessage>(const kafka::InMessage&)>;

  // Connects nothing yet. `producer` and `consumer` replace the Kafka ones (tests); null makes
  // them when the step has topics.
  Runtime(Wiring wiring, nlohmann::json config, RuntimeOptions options = {},
          std::unique_ptr<kafka::Producer> producer = nullptr,
          std::unique_ptr<kafka::Consumer> consumer = nullptr);
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
  // The same with the data given as its JSON text (`value`, written by the caller; the
  // envelope's own data is not read): for a handler that writes its output without a document.
  kafka::OutMessage message(const std::string& output, const std::string& key,
                            const event::Envelope& attributes, std::string value) const;
  // The same with the attributes where the caller has them: each is copied once, into its header.
  kafka::OutMessage message(const std::string& output, const std::string& key,
                            const event::AttributesView& attributes, std::string value) const;
  // Sends and waits for every acknowledgement, counting them; throws kafka::KafkaError.
  void publish(const std::vector<kafka::OutMessage>& messages);
  // Sends without waiting: `done` gets "" once every message is acknowledged, or the first
  // error Kafka reported (never a guess: it runs from the delivery reports, on the producer's
  // thread, so it must be quick). For HTTP handlers answering through Request::later().
  void publish_async(std::vector<kafka::OutMessage> messages,
                     std::function<void(const std::string& error)> done);

  // Serves HTTP and, given a handler and inputs, consumes; returns 0 after SIGTERM/SIGINT or
  // stop(), once in-flight work is done and offsets are committed. Handlers run one at a time
  // on one thread, each partition's messages in order; their outputs are sent asynchronously,
  // and an offset is committed once its message's and all earlier messages' outputs are
  // acknowledged. A failed handler pauses its partition until the retry is due.
  int run(const Handler& handler = {});
  // Called before offsets are committed, after the outputs of the messages they cover are
  // acknowledged: where a handler that appends to a file makes it durable (fsync). A throw
  // postpones the commit to the next round; set before run().
  void set_before_commit(std::function<void()> hook) { before_commit_ = std::move(hook); }
  void stop();
  bool stopping() const;
  bool ready() const { return ready_.load(); }

 private:
  struct Metrics;
  struct Loop;
  void consume_loop(const Handler& handler);
  // The input as a dead letter on its .dlq topic, with the error and attempt in its headers.
  kafka::OutMessage dead_letter(const kafka::InMessage& in, int attempt,
                                const std::string& error) const;
  void lag_loop(kafka::Consumer& consumer, const std::stop_token& stop);
  void forget_lag(const std::vector<kafka::Partition>& partitions);
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
  std::mutex lag_mu_;  // the lag gauges: the lag thread sets them, revokes remove them
  std::map<kafka::Partition, prometheus::Gauge*> lag_gauges_;
  // Set by the first publish: the producer's background thread then serves every delivery
  // report (the consume loop serves them while it is the only sender).
  std::atomic<bool> http_publishes_{false};
  std::atomic<bool> stop_{false};
  std::atomic<bool> ready_{false};
};

}  // namespace pipewright::runtime
