#include "pkg/worker/runtime.h"

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <optional>
#include <thread>

#include "pkg/http/server.h"
#include "pkg/log/log.h"
#include "pkg/plan/topics.h"

namespace pipewright::worker {
namespace {

std::atomic<bool> g_signalled{false};

extern "C" void on_signal(int /*signal*/) {
  g_signalled.store(true);
}

std::string bind_address(const std::string& host, int port) {
  return host + ":" + std::to_string(port);
}

}  // namespace

struct Runtime::Metrics {
  explicit Metrics(prometheus::Registry& r, const Wiring& w)
      : labels{{"pipeline", w.service.empty() ? w.pipeline : w.service},
               {"step", w.service.empty() ? w.step : w.backend}},
        consumed(prometheus::BuildCounter()
                     .Name("pipewright_messages_consumed_total")
                     .Help("Messages read from an input topic")
                     .Register(r)),
        produced(prometheus::BuildCounter()
                     .Name("pipewright_messages_produced_total")
                     .Help("Messages acknowledged by Kafka on an output topic")
                     .Register(r)),
        processing(prometheus::BuildHistogram()
                       .Name("pipewright_processing_seconds")
                       .Help("Time to process one consumed message, retries included")
                       .Register(r)),
        errors(prometheus::BuildCounter()
                   .Name("pipewright_errors_total")
                   .Help("Failed attempts to process a message, by reason")
                   .Register(r)),
        dead_letters(prometheus::BuildCounter()
                         .Name("pipewright_dead_letters_total")
                         .Help("Messages sent to a dead-letter topic after maxAttempts")
                         .Register(r)),
        processing_seconds(processing.Add(
            labels, prometheus::Histogram::BucketBoundaries{0.001, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                            0.25, 0.5, 1, 2.5, 5, 10, 30})),
        dead_letter_count(dead_letters.Add(labels)) {}

  prometheus::Counter& topic_counter(prometheus::Family<prometheus::Counter>& family,
                                     const std::string& topic) {
    auto l = labels;
    l["topic"] = topic;
    return family.Add(l);
  }
  prometheus::Counter& error(const std::string& reason) {
    auto l = labels;
    l["reason"] = reason;
    return errors.Add(l);
  }

  std::map<std::string, std::string> labels;
  prometheus::Family<prometheus::Counter>& consumed;
  prometheus::Family<prometheus::Counter>& produced;
  prometheus::Family<prometheus::Histogram>& processing;
  prometheus::Family<prometheus::Counter>& errors;
  prometheus::Family<prometheus::Counter>& dead_letters;
  prometheus::Histogram& processing_seconds;
  prometheus::Counter& dead_letter_count;
};

Runtime::Runtime(Wiring wiring, nlohmann::json config, RuntimeOptions options,
                 std::unique_ptr<kafka::Producer> producer)
    : wiring_(std::move(wiring)),
      config_(std::move(config)),
      options_(options),
      registry_(std::make_shared<prometheus::Registry>()),
      metrics_(std::make_unique<Metrics>(*registry_, wiring_)),
      router_(std::make_unique<http::Router>(registry_)),
      producer_(std::move(producer)) {
  http::add_probes(
      *router_, [this] { return ready_.load(); }, registry_);
}

Runtime::~Runtime() = default;

void Runtime::route(const std::string& method, const std::string& pattern,
                    const http::Router::Handler& handler) {
  router_->add(method, pattern, handler);
  const auto& base = wiring_.base_path;
  if (base.empty()) return;
  if (pattern == "/") {
    router_->add(method, base, handler);
    router_->add(method, base + "/", handler);
  } else {
    router_->add(method, base + pattern, handler);
  }
}

kafka::Producer& Runtime::producer() {
  // Called from the readiness thread, the consumer and HTTP handlers: made once, under a lock.
  const std::lock_guard lock(producer_mu_);
  if (!producer_) {
    producer_ =
        kafka::make_producer(kafka::client_properties(wiring_.bootstrap, wiring_.kafka_secret_dir));
  }
  return *producer_;
}

event::Decoded decode_event(const kafka::InMessage& m) {
  event::Headers headers;
  headers.reserve(m.headers.size());
  for (const auto& h : m.headers)
    headers.emplace_back(h.key, h.value);
  try {
    return event::from_kafka(m.value, headers);
  } catch (const event::EnvelopeError& e) {
    throw PermanentError(e.what());
  }
}

event::Envelope read_event(const kafka::InMessage& m) {
  return decode_event(m).event;
}

kafka::OutMessage Runtime::message(const std::string& output, const std::string& key,
                                   const event::Envelope& envelope) const {
  kafka::OutMessage out{wiring_.output(output), key, event::kafka_value(envelope), {}};
  for (auto& [name, value] : event::kafka_headers(envelope))
    out.headers.push_back({std::move(name), std::move(value)});
  return out;
}

void Runtime::publish(const std::vector<kafka::OutMessage>& messages) {
  producer().send(messages);
  for (const auto& m : messages)
    metrics_->topic_counter(metrics_->produced, m.topic).Increment();
}

void Runtime::stop() {
  stop_.store(true);
}

bool Runtime::stopping() const {
  return stop_.load() || g_signalled.load();
}

bool Runtime::sleep_unless_stopped(std::chrono::milliseconds duration) const {
  const auto until = std::chrono::steady_clock::now() + duration;
  while (std::chrono::steady_clock::now() < until) {
    if (stopping()) return false;
    std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(
        std::chrono::milliseconds(50), std::chrono::duration_cast<std::chrono::milliseconds>(
                                           until - std::chrono::steady_clock::now())));
  }
  return !stopping();
}

bool Runtime::settle(const Handler& handler, const kafka::InMessage& in,
                     std::vector<kafka::OutMessage>& outputs) {
  const auto started = std::chrono::steady_clock::now();
  std::string error;
  int attempt = 1;
  for (;; ++attempt) {
    bool permanent = false;
    try {
      auto produced = handler(in);
      for (auto& m : produced)
        outputs.push_back(std::move(m));
      metrics_->processing_seconds.Observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
      return true;
    } catch (const PermanentError& e) {
      error = e.what();
      permanent = true;
      metrics_->error("invalid_input").Increment();
    } catch (const std::exception& e) {
      error = e.what();
      metrics_->error("processing_failed").Increment();
    }
    log::warn("processing failed", {{"topic", in.topic},
                                    {"partition", in.partition},
                                    {"offset", in.offset},
                                    {"attempt", attempt},
                                    {"max_attempts", wiring_.max_attempts},
                                    {"error", error}});
    if (permanent || attempt >= wiring_.max_attempts) break;
    // Capped exponential backoff: initial, 2x, 4x, ... up to max.
    auto delay = wiring_.backoff_initial;
    for (int i = 1; i < attempt && delay < wiring_.backoff_max; ++i)
      delay *= 2;
    if (!sleep_unless_stopped(std::min(delay, wiring_.backoff_max))) return false;
  }
  metrics_->processing_seconds.Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  if (!wiring_.dead_letter) {
    log::error("message dropped after its last attempt (deadLetter is off)",
               {{"topic", in.topic}, {"offset", in.offset}, {"error", error}});
    return true;
  }
  const auto origin =
      in.topic + "/" + std::to_string(in.partition) + "/" + std::to_string(in.offset);
  kafka::OutMessage dlq{plan::dead_letter_topic(in.topic), in.key, in.value, {}};
  // A binary-mode CloudEvent stays one, with what happened as extension attributes (a
  // dead letter read again replaces the earlier ones); other messages go as they came.
  const bool binary = std::any_of(in.headers.begin(), in.headers.end(),
                                  [](const auto& h) { return h.key == "ce_specversion"; });
  for (const auto& h : in.headers) {
    const bool ours = h.key == std::string("ce_") + kAttemptAttribute ||
                      h.key == std::string("ce_") + kErrorAttribute ||
                      h.key == std::string("ce_") + kOriginAttribute;
    if (!ours) dlq.headers.push_back(h);
  }
  dlq.headers.push_back({"pipewright-attempt", std::to_string(attempt)});
  dlq.headers.push_back({"pipewright-error", error});
  dlq.headers.push_back({"pipewright-source", origin});
  if (binary) {
    dlq.headers.push_back({std::string("ce_") + kAttemptAttribute, std::to_string(attempt)});
    dlq.headers.push_back({std::string("ce_") + kErrorAttribute, error});
    dlq.headers.push_back({std::string("ce_") + kOriginAttribute, origin});
  }
  outputs.push_back(std::move(dlq));
  metrics_->dead_letter_count.Increment();
  log::error("message sent to the dead-letter topic",
             {{"topic", in.topic}, {"offset", in.offset}, {"attempts", attempt}, {"error", error}});
  return true;
}

void Runtime::consume_loop(const Handler& handler) {
  consumer_ =
      kafka::make_consumer(kafka::client_properties(wiring_.bootstrap, wiring_.kafka_secret_dir),
                           wiring_.group, wiring_.inputs);
  log::info("consuming", {{"topics", wiring_.inputs}, {"group", wiring_.group}});
  while (!stopping()) {
    auto batch = consumer_->poll(options_.batch, std::chrono::milliseconds(200));
    if (batch.empty()) continue;
    std::vector<kafka::OutMessage> outputs;
    std::vector<kafka::InMessage> done;
    for (auto& in : batch) {
      if (stopping()) break;  // SIGTERM: finish this batch's settled part only
      metrics_->topic_counter(metrics_->consumed, in.topic).Increment();
      if (!settle(handler, in, outputs)) break;  // stopping: the rest is redelivered
      done.push_back(std::move(in));
    }
    // Outputs first, then the offsets: a crash in between redelivers, never loses.
    for (int attempt = 1;; ++attempt) {
      try {
        producer().send(outputs);
        for (const auto& m : outputs) {
          if (!m.topic.ends_with(".dlq"))
            metrics_->topic_counter(metrics_->produced, m.topic).Increment();
        }
        outputs.clear();  // acknowledged: a failing hook below must not send them again
        if (before_commit_) before_commit_();
        break;
      } catch (const std::exception& e) {
        metrics_->error("produce_failed").Increment();
        log::warn("batch not acknowledged or not made durable; retrying",
                  {{"error", e.what()}, {"attempt", attempt}});
        if (!sleep_unless_stopped(
                std::min(wiring_.backoff_max, wiring_.backoff_initial * attempt))) {
          done.clear();  // nothing committed: the batch is read again after a restart
          break;
        }
      }
    }
    try {
      consumer_->commit(done);
    } catch (const std::exception& e) {
      // A rebalance took the partitions: their new owner reads from the last commit again.
      log::warn("commit refused", {{"error", e.what()}});
    }
  }
  consumer_->close();
  log::info("consumer closed, offsets committed");
}

int Runtime::run(const Handler& handler) {
  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);
  const bool consumes = handler && !wiring_.inputs.empty();
  const bool uses_kafka = consumes || !wiring_.outputs.empty();

  http::ServerOptions http_options;
  http_options.bind = bind_address(wiring_.bind_host, wiring_.http_port);
  http_options.threads = options_.http_threads;
  http_options.max_body_bytes = options_.max_body_bytes;
  http_options.max_connections = static_cast<std::size_t>(wiring_.http_max_connections);
  http_options.request_timeout = wiring_.http_request_timeout;
  http_options.head_timeout = std::min(http_options.head_timeout, wiring_.http_request_timeout);
  http::Server server(http_options, router_->handler());
  std::unique_ptr<http::Router> probes;
  std::unique_ptr<http::Server> metrics_server;
  if (wiring_.metrics_port != wiring_.http_port) {
    probes = std::make_unique<http::Router>();
    http::add_probes(
        *probes, [this] { return ready_.load(); }, registry_);
    auto metrics_options = http_options;  // the same limits; small bodies (GETs only)
    metrics_options.bind = bind_address(wiring_.bind_host, wiring_.metrics_port);
    metrics_options.threads = 1;
    metrics_options.max_body_bytes = std::size_t{64} * 1024;
    metrics_server = std::make_unique<http::Server>(metrics_options, probes->handler());
  }
  log::info("worker started", {{"worker", wiring_.worker},
                               {"source", wiring_.source()},
                               {"http_port", server.port()},
                               {"metrics_port", metrics_server ? metrics_server->port() : 0},
                               {"inputs", wiring_.inputs}});

  // Ready once Kafka answers (and at once for workers without topics).
  std::thread readiness([this, uses_kafka] {
    while (!stopping()) {
      bool ok = true;
      try {
        ok = !uses_kafka || producer().connected();
      } catch (const std::exception& e) {
        ok = false;
        log::warn("kafka not reachable", {{"error", e.what()}});
      }
      if (ok != ready_.load()) log::info(ok ? "ready" : "not ready");
      ready_.store(ok);
      sleep_unless_stopped(ok ? std::chrono::seconds(5) : std::chrono::milliseconds(500));
    }
  });

  int code = 0;
  try {
    if (consumes) {
      consume_loop(handler);
    } else {
      while (!stopping())
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  } catch (const std::exception& e) {
    log::error("worker failed", {{"error", e.what()}});
    code = 1;
    stop();
  }
  ready_.store(false);
  server.stop();  // in-flight requests finish first
  if (metrics_server) metrics_server->stop();
  readiness.join();
  log::info("worker stopped");
  return code;
}

}  // namespace pipewright::worker
