#include "pkg/runtime/runtime.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <csignal>
#include <deque>
#include <optional>
#include <set>
#include <stop_token>
#include <thread>
#include <unordered_map>

#include "pkg/contract/names.h"
#include "pkg/http/server.h"
#include "pkg/kafka/lag.h"
#include "pkg/log/log.h"
#include "pkg/runtime/inflight.h"
#include "pkg/units/backoff.h"

namespace pipewright::runtime {
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
        lag(prometheus::BuildGauge()
                .Name("pipewright_consumer_lag")
                .Help("Messages of an assigned input partition after the group's committed "
                      "offset (high watermark minus committed)")
                .Register(r)),
        processing_seconds(processing.Add(
            labels, prometheus::Histogram::BucketBoundaries{0.001, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                            0.25, 0.5, 1, 2.5, 5, 10, 30})),
        dead_letter_count(dead_letters.Add(labels)) {}

  // Per message: the family's label lookup (a label map copied, hashed and found under the
  // family's lock) is done once per topic or reason, then the pointer is reused. Callers are
  // the loop's thread and the producer's delivery reports, so the caches take a lock.
  prometheus::Counter& consumed_from(const std::string& topic) {
    return cached(consumed_by_topic, consumed, "topic", topic);
  }
  prometheus::Counter& produced_to(const std::string& topic) {
    return cached(produced_by_topic, produced, "topic", topic);
  }
  prometheus::Counter& error(const std::string& reason) {
    return cached(errors_by_reason, errors, "reason", reason);
  }

  prometheus::Counter& cached(std::unordered_map<std::string, prometheus::Counter*>& cache,
                              prometheus::Family<prometheus::Counter>& family,
                              const std::string& label, const std::string& value) {
    const std::lock_guard lock(cache_mu);
    auto& counter = cache[value];
    if (counter == nullptr) {
      auto l = labels;
      l[label] = value;
      counter = &family.Add(l);
    }
    return *counter;
  }

  std::map<std::string, std::string> labels;
  prometheus::Family<prometheus::Counter>& consumed;
  prometheus::Family<prometheus::Counter>& produced;
  prometheus::Family<prometheus::Histogram>& processing;
  prometheus::Family<prometheus::Counter>& errors;
  prometheus::Family<prometheus::Counter>& dead_letters;
  prometheus::Family<prometheus::Gauge>& lag;
  prometheus::Histogram& processing_seconds;
  prometheus::Counter& dead_letter_count;
  std::mutex cache_mu;
  std::unordered_map<std::string, prometheus::Counter*> consumed_by_topic;
  std::unordered_map<std::string, prometheus::Counter*> produced_by_topic;
  std::unordered_map<std::string, prometheus::Counter*> errors_by_reason;
};

Runtime::Runtime(Wiring wiring, nlohmann::json config, RuntimeOptions options,
                 std::unique_ptr<kafka::Producer> producer,
                 std::unique_ptr<kafka::Consumer> consumer)
    : wiring_(std::move(wiring)),
      config_(std::move(config)),
      options_(options),
      registry_(std::make_shared<prometheus::Registry>()),
      metrics_(std::make_unique<Metrics>(*registry_, wiring_)),
      router_(std::make_unique<http::Router>(registry_)),
      producer_(std::move(producer)),
      consumer_(std::move(consumer)) {
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

namespace {

event::Headers event_headers(const kafka::InMessage& m) {
  event::Headers headers;
  headers.reserve(m.headers.size());
  for (const auto& h : m.headers)
    headers.emplace_back(h.key, h.value);
  return headers;
}

}  // namespace

std::optional<event::DecodedText> read_event_text(const kafka::InMessage& m, event::DataText data) {
  // The headers read where they are: a view of each in a buffer kept by the thread, not a copy
  // of every name and value per message.
  thread_local std::vector<event::HeaderView> views;
  views.clear();
  for (const auto& h : m.headers)
    views.push_back({h.key, h.value});
  return event::from_kafka_text(m.value, views, data);
}

event::Decoded decode_event(const kafka::InMessage& m) {
  const auto headers = event_headers(m);
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
  return message(output, key, envelope, event::kafka_value(envelope));
}

kafka::OutMessage Runtime::message(const std::string& output, const std::string& key,
                                   const event::Envelope& attributes, std::string value) const {
  return message(output, key, event::view_of(attributes), std::move(value));
}

kafka::OutMessage Runtime::message(const std::string& output, const std::string& key,
                                   const event::AttributesView& attributes,
                                   std::string value) const {
  kafka::OutMessage out{wiring_.output(output), key, std::move(value), {}};
  out.headers.reserve(event::kafka_header_count(attributes));
  event::each_kafka_header(attributes, [&](std::string_view name, std::string_view v) {
    out.headers.push_back({std::string(name), std::string(v)});
  });
  return out;
}

void Runtime::publish(const std::vector<kafka::OutMessage>& messages) {
  http_publishes_.store(true);  // their reports must not wait for the consume loop
  producer().send(messages);
  for (const auto& m : messages)
    metrics_->produced_to(m.topic).Increment();
}

// By value in the interface (callers move their messages in); the producer only reads them.
// NOLINTNEXTLINE(performance-unnecessary-value-param)
void Runtime::publish_async(std::vector<kafka::OutMessage> messages,
                            std::function<void(const std::string& error)> done) {
  http_publishes_.store(true);
  std::vector<std::string> topics;
  topics.reserve(messages.size());
  for (const auto& m : messages)
    topics.push_back(m.topic);
  producer().send_async(messages, [this, topics = std::move(topics),
                                   done = std::move(done)](std::vector<kafka::Delivery> results) {
    std::string error;
    for (std::size_t i = 0; i < results.size(); ++i) {
      if (results[i].ok()) {
        metrics_->produced_to(topics[i]).Increment();
      } else if (error.empty()) {
        error = "Kafka refused a message: " + results[i].error;
      }
    }
    if (done) done(error);
  });
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

kafka::OutMessage Runtime::dead_letter(const kafka::InMessage& in, int attempt,
                                       const std::string& error) const {
  const auto origin =
      in.topic + "/" + std::to_string(in.partition) + "/" + std::to_string(in.offset);
  kafka::OutMessage dlq{contract::dead_letter_topic(in.topic), in.key, in.value, {}};
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
  return dlq;
}

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// A delivery report of one message's outputs, queued by the producer's thread for the loop.
struct Report {
  std::uint64_t part = 0;  // the loop's Part, by its id (see Loop::Key)
  std::int64_t offset = 0;
  std::uint64_t send = 0;
  std::vector<kafka::Delivery> results;
};

// Shared with the callbacks, which may outlive the loop when a drain times out.
struct Reports {
  std::mutex mu;
  std::vector<Report> queue;
};

}  // namespace

// The consume loop's state; only the loop's thread touches it (reports come through `reports`).
struct Runtime::Loop {
  // A message by its partition (the id of its Part in `parts`: a revoked partition assigned
  // again gets a new one, so reports of the old assignment find nothing) and offset: no topic
  // string copied per message or report.
  struct Key {
    std::uint64_t part = 0;
    std::int64_t offset = 0;
  };

  // A processed message whose outputs are being sent.
  struct Sending {
    kafka::InMessage in;
    std::vector<kafka::OutMessage> outputs;  // those not acknowledged yet
    bool dead_letter = false;
    int attempt = 1;         // the handler's, for a dead letter's headers
    std::uint64_t send = 0;  // the latest send; reports of earlier ones are stale
    int resends = 0;
    // The produced counters (indices into Loop::produced) of the first `counted` outputs, found
    // while the outputs are fresh from the handler: an acknowledgement then reads no cold topic
    // name. Reset whenever `outputs` is replaced.
    std::array<std::uint8_t, 4> counters{};
    std::uint8_t counted = 0;
  };

  // A partition's messages consumed and not processed yet, the retry of its first, and those
  // processed whose outputs are being sent (found per report by offset, in place: no hash).
  struct Part {
    std::uint64_t id = 0;
    std::deque<kafka::InMessage> queue;
    InFlight<Sending> sending;
    int attempt = 1;
    std::optional<Clock::time_point> retry_at;
    Clock::time_point started;
    bool paused = false;
  };

  Loop(Runtime& runtime, const Handler& h, kafka::Consumer& c)
      : rt(runtime), handler(h), consumer(c), producer(runtime.producer()) {}

  Runtime& rt;
  const Handler& handler;
  kafka::Consumer& consumer;
  kafka::Producer& producer;  // rt.producer() once: it takes a lock per call
  std::map<kafka::Partition, Part> parts;
  std::uint64_t part_ids = 0;
  // The assigned Parts by id: a few entries, warm, however many messages are in flight.
  std::unordered_map<std::uint64_t, Part*> by_id;
  std::vector<std::pair<Key, Clock::time_point>> resends;  // failed sends waiting for a retry
  std::vector<Key> held;  // processed, their outputs not handed to the producer yet (in order)
  Clock::time_point held_since;
  std::shared_ptr<Reports> reports = std::make_shared<Reports>();
  std::vector<Report> report_batch;  // apply_reports' buffer
  std::uint64_t sends = 0;
  std::uint64_t pauses = 0;  // partitions paused, for the closing log line

  // The loop's own cache of produced counters: a step has a few output topics, so a short scan
  // of names beats the shared cache's lock and hash per acknowledged output.
  // Acknowledgements are added up per counter and each counter is incremented once per
  // apply_reports (an atomic update of a double per output cost more than the sum).
  std::vector<std::pair<std::string, prometheus::Counter*>> produced;
  std::vector<double> produced_acks;  // by index of `produced`, not yet added to the counters
  std::size_t produced_index(const std::string& topic) {
    for (std::size_t i = 0; i < produced.size(); ++i) {
      if (produced[i].first == topic) return i;
    }
    produced.emplace_back(topic, &rt.metrics_->produced_to(topic));
    produced_acks.push_back(0);
    return produced.size() - 1;
  }
  void count_outputs(Sending& s) {
    s.counted = 0;
    while (s.counted < s.outputs.size() && s.counted < s.counters.size()) {
      const auto i = produced_index(s.outputs[s.counted].topic);
      if (i > 255) break;
      s.counters[s.counted++] = static_cast<std::uint8_t>(i);
    }
  }
  void add_produced() {
    for (std::size_t i = 0; i < produced.size(); ++i) {
      if (produced_acks[i] == 0) continue;
      produced[i].second->Increment(produced_acks[i]);
      produced_acks[i] = 0;
    }
  }

  milliseconds backoff(int attempt) const {
    return units::exponential_backoff(rt.wiring_.backoff_initial, rt.wiring_.backoff_max, attempt);
  }

  // The assigned partition of this id, or nullptr once it was revoked.
  Part* part(std::uint64_t id) {
    const auto it = by_id.find(id);
    return it == by_id.end() ? nullptr : it->second;
  }
  // The message's outputs being sent, or nullptr (acknowledged, or its partition revoked).
  Sending* sending(const Key& key) {
    Part* p = part(key.part);
    return p == nullptr ? nullptr : p->sending.find(key.offset);
  }
  // Messages processed whose outputs are not acknowledged yet, over every partition.
  std::size_t unacknowledged() const {
    std::size_t n = 0;
    for (const auto& [tp, p] : parts)
      n += p.sending.pending();
    return n;
  }

  void take(std::vector<kafka::InMessage> batch) {
    // A batch comes in runs of one partition: its Part is looked up (a key built) once a run.
    Part* part = nullptr;
    const kafka::Partition* key = nullptr;
    prometheus::Counter* consumed = nullptr;
    for (auto& m : batch) {
      if (part == nullptr || key->partition != m.partition || key->topic != m.topic) {
        const auto [it, made] = parts.try_emplace(kafka::Partition{m.topic, m.partition});
        if (made) {
          it->second.id = ++part_ids;
          by_id.emplace(it->second.id, &it->second);
        }
        key = &it->first;
        part = &it->second;
        consumed = &rt.metrics_->consumed_from(m.topic);
      }
      consumed->Increment();
      part->queue.push_back(std::move(m));
    }
  }

  bool due(const Part& p, Clock::time_point now) const {
    return !p.queue.empty() && (!p.retry_at || *p.retry_at <= now);
  }

  // Something to do now without waiting for Kafka.
  bool ready() const {
    const auto now = Clock::now();
    if (std::any_of(resends.begin(), resends.end(), [&](const auto& r) { return r.second <= now; }))
      return true;
    return std::any_of(parts.begin(), parts.end(),
                       [&](const auto& p) { return due(p.second, now); });
  }

  bool retrying() const {
    return !resends.empty() ||
           std::any_of(parts.begin(), parts.end(), [](const auto& p) { return p.second.retry_at; });
  }

  // Runs handlers, one message per partition per round, until nothing is due or `until`.
  void process(Clock::time_point until) {
    for (bool any = true; any && !rt.stopping();) {
      any = false;
      for (auto& [tp, p] : parts) {
        const auto now = Clock::now();
        if (now >= until || rt.stopping()) return;
        if (!due(p, now)) continue;
        process_one(p);
        any = true;
      }
    }
  }

  void process_one(Part& p) {
    auto& in = p.queue.front();
    if (p.attempt == 1) p.started = Clock::now();
    p.retry_at.reset();
    std::vector<kafka::OutMessage> outputs;
    std::string error;
    bool failed = false;
    bool permanent = false;
    try {
      outputs = handler(in);
    } catch (const PermanentError& e) {
      error = e.what();
      failed = permanent = true;
      rt.metrics_->error("invalid_input").Increment();
    } catch (const std::exception& e) {
      error = e.what();
      failed = true;
      rt.metrics_->error("processing_failed").Increment();
    }
    if (failed) {
      log::warn("processing failed", {{"topic", in.topic},
                                      {"partition", in.partition},
                                      {"offset", in.offset},
                                      {"attempt", p.attempt},
                                      {"max_attempts", rt.wiring_.max_attempts},
                                      {"error", error}});
      if (!permanent && p.attempt < rt.wiring_.max_attempts) {
        // No sleeping here: the partition waits (paused), the others go on.
        p.retry_at = Clock::now() + backoff(p.attempt);
        ++p.attempt;
        return;
      }
    }
    rt.metrics_->processing_seconds.Observe(
        std::chrono::duration<double>(Clock::now() - p.started).count());
    const auto offset = in.offset;
    Sending s{std::move(in), std::move(outputs), false, p.attempt, 0, 0, {}, 0};
    p.queue.pop_front();
    p.attempt = 1;
    if (failed) {
      s.outputs.clear();
      if (!to_dead_letter(s, error)) {
        log::error("message dropped after its last attempt (deadLetter is off)",
                   {{"topic", s.in.topic}, {"offset", s.in.offset}, {"error", error}});
      }
    }
    if (s.outputs.empty()) {
      p.sending.skip(offset);
      return;
    }
    if (!s.dead_letter) count_outputs(s);
    p.sending.begin(offset, std::move(s));
    if (held.empty()) held_since = Clock::now();
    held.push_back(Key{p.id, offset});
  }

  // Hands the held outputs to the producer, in the order they were processed; `behind` (the
  // last poll was full) keeps them until they are output_linger old.
  void flush(bool behind) {
    if (held.empty() || (behind && Clock::now() - held_since < rt.options_.output_linger)) return;
    for (const auto& key : held) {
      if (Sending* s = sending(key)) send(key, *s);
    }
    held.clear();
  }

  // Replaces the outputs by the input's dead letter; false when the step has none.
  bool to_dead_letter(Sending& s, const std::string& error) {
    if (!rt.wiring_.dead_letter) return false;
    s.outputs = {rt.dead_letter(s.in, s.attempt, error)};
    s.counted = 0;
    s.dead_letter = true;
    rt.metrics_->dead_letter_count.Increment();
    log::error("message sent to the dead-letter topic", {{"topic", s.in.topic},
                                                         {"offset", s.in.offset},
                                                         {"attempts", s.attempt},
                                                         {"error", error}});
    return true;
  }

  void send(const Key& key, Sending& s) {
    s.send = ++sends;
    producer.send_async(
        s.outputs, [reports = reports, key, id = s.send](std::vector<kafka::Delivery> results) {
          const std::lock_guard lock(reports->mu);
          reports->queue.push_back({key.part, key.offset, id, std::move(results)});
        });
  }

  void apply_reports() {
    // On this thread, as they are due, unless others publish too: a consume loop waiting for
    // Kafka or in a slow handler would hold their reports.
    if (!rt.http_publishes_.load(std::memory_order_relaxed)) producer.serve_reports();
    // The two vectors trade places and keep their capacity: regrown from empty each round,
    // their large steps make glibc's malloc consolidate its free lists.
    auto& batch = report_batch;
    batch.clear();
    {
      const std::lock_guard lock(reports->mu);
      batch.swap(reports->queue);
    }
    for (auto& r : batch) {
      const Key key{r.part, r.offset};
      Part* p = part(r.part);
      Sending* found = p == nullptr ? nullptr : p->sending.find(r.offset);
      if (found == nullptr || found->send != r.send) continue;  // revoked, or stale
      auto& s = *found;
      std::vector<kafka::OutMessage> unacked;
      std::string permanent;
      std::string transient;
      for (std::size_t i = 0; i < r.results.size() && i < s.outputs.size(); ++i) {
        const auto& d = r.results[i];
        if (d.ok()) {
          if (!s.dead_letter) {
            ++produced_acks[i < s.counted ? s.counters[i] : produced_index(s.outputs[i].topic)];
          }
          continue;
        }
        unacked.push_back(std::move(s.outputs[i]));
        (d.permanent ? permanent : transient) = d.error;
      }
      if (unacked.empty()) {
        p->sending.done(r.offset);
        continue;
      }
      if (!permanent.empty() && !s.dead_letter) {
        // No resend can deliver it: the input goes to its dead-letter topic, the partition on.
        rt.metrics_->error("produce_refused").Increment();
        if (!to_dead_letter(s, "output refused by Kafka: " + permanent)) {
          log::error("message dropped: Kafka refused its output (deadLetter is off)",
                     {{"topic", s.in.topic}, {"offset", s.in.offset}, {"error", permanent}});
          p->sending.done(r.offset);
          continue;
        }
        send(key, s);
        continue;
      }
      // Only what was not acknowledged goes again, after a backoff.
      rt.metrics_->error("produce_failed").Increment();
      s.outputs = std::move(unacked);
      s.counted = 0;
      ++s.resends;
      log::warn("outputs not acknowledged; sending them again",
                {{"topic", s.in.topic},
                 {"offset", s.in.offset},
                 {"messages", s.outputs.size()},
                 {"attempt", s.resends},
                 {"error", permanent.empty() ? transient : permanent}});
      resends.emplace_back(key, Clock::now() + backoff(s.resends));
    }
    add_produced();
  }

  void resend_due() {
    const auto now = Clock::now();
    std::vector<Key> due_now;
    std::erase_if(resends, [&](const auto& r) {
      if (r.second > now) return false;
      due_now.push_back(r.first);
      return true;
    });
    for (const auto& key : due_now) {
      if (Sending* s = sending(key)) send(key, *s);
    }
  }

  // Pauses a partition while its first message waits for a retry or too much of it is
  // pending; resumes it when neither holds (below half the limit, against flapping).
  void update_pauses() {
    const auto limit = rt.options_.max_pending_per_partition;
    std::vector<kafka::Partition> pause;
    std::vector<kafka::Partition> resume;
    for (auto& [tp, p] : parts) {
      const auto pending = p.queue.size() + p.sending.pending();
      if (!p.paused && (p.retry_at || pending >= limit)) {
        pause.push_back(tp);
        p.paused = true;
      } else if (p.paused && !p.retry_at && pending <= limit / 2) {
        resume.push_back(tp);
        p.paused = false;
      }
    }
    if (!pause.empty()) {
      pauses += pause.size();
      log::debug("partitions paused", {{"partitions", pause.size()}});
      consumer.pause(pause);
    }
    if (!resume.empty()) consumer.resume(resume);
  }

  // Commits every partition's (or `only` these) point once the before-commit hook has run.
  void commit(bool sync, const std::vector<kafka::Partition>* only = nullptr) {
    std::vector<kafka::Offset> offsets;
    for (const auto& [tp, p] : parts) {
      if (only != nullptr && std::find(only->begin(), only->end(), tp) == only->end()) continue;
      if (const auto next = p.sending.committable()) offsets.push_back({tp, *next});
    }
    if (offsets.empty()) return;
    try {
      if (rt.before_commit_) rt.before_commit_();
    } catch (const std::exception& e) {
      rt.metrics_->error("commit_hook_failed").Increment();
      log::warn("outputs not made durable; commit postponed", {{"error", e.what()}});
      return;
    }
    try {
      consumer.commit_offsets(offsets, sync);
      for (const auto& o : offsets) {
        const auto it = parts.find(o.tp);
        if (it != parts.end()) it->second.sending.committed(o.next);
      }
    } catch (const std::exception& e) {
      // A rebalance took the partitions: their new owner reads from the last commit again.
      log::warn("commit refused", {{"error", e.what()}});
    }
  }

  // Inside poll(): what is acknowledged is committed, the rest of these partitions forgotten
  // (their new owner reads it again; reports still coming for it are ignored).
  void revoke(const std::vector<kafka::Partition>& gone) {
    commit(true, &gone);
    for (const auto& tp : gone) {
      const auto it = parts.find(tp);
      if (it == parts.end()) continue;
      const auto id = it->second.id;
      std::erase_if(resends, [&](const auto& r) { return r.first.part == id; });
      std::erase_if(held, [&](const Key& k) { return k.part == id; });
      by_id.erase(id);
      parts.erase(it);
    }
    rt.forget_lag(gone);
    log::info("partitions revoked", {{"partitions", gone.size()}});
  }
};

void Runtime::forget_lag(const std::vector<kafka::Partition>& partitions) {
  const std::lock_guard lock(lag_mu_);
  for (const auto& tp : partitions) {
    const auto it = lag_gauges_.find(tp);
    if (it == lag_gauges_.end()) continue;
    metrics_->lag.Remove(it->second);
    lag_gauges_.erase(it);
  }
}

void Runtime::lag_loop(kafka::Consumer& consumer, const std::stop_token& stop) {
  while (!stop.stop_requested() && !stopping()) {
    try {
      const auto positions = consumer.positions(std::chrono::seconds(1));
      const std::lock_guard lock(lag_mu_);
      std::set<kafka::Partition> assigned;
      for (const auto& p : positions) {
        assigned.insert(p.tp);
        if (p.high < 0) continue;  // watermarks unknown this time: keep the last value
        auto& gauge = lag_gauges_[p.tp];
        if (gauge == nullptr) {
          auto labels = metrics_->labels;
          labels["topic"] = p.tp.topic;
          labels["partition"] = std::to_string(p.tp.partition);
          gauge = &metrics_->lag.Add(labels);
        }
        gauge->Set(static_cast<double>(kafka::partition_lag(p.committed, p.low, p.high)));
      }
      std::erase_if(lag_gauges_, [&](const auto& g) {
        if (assigned.contains(g.first)) return false;
        metrics_->lag.Remove(g.second);
        return true;
      });
    } catch (const std::exception& e) {
      log::warn("consumer lag not read", {{"error", e.what()}});
    }
    const auto until = Clock::now() + options_.lag_interval;
    while (Clock::now() < until && !stop.stop_requested() && !stopping())
      std::this_thread::sleep_for(milliseconds(50));
  }
}

void Runtime::consume_loop(const Handler& handler) {
  if (!consumer_) {
    consumer_ =
        kafka::make_consumer(kafka::client_properties(wiring_.bootstrap, wiring_.kafka_secret_dir),
                             wiring_.group, wiring_.inputs);
  }
  Loop loop{*this, handler, *consumer_};
  consumer_->on_revoke([&loop](const std::vector<kafka::Partition>& gone) { loop.revoke(gone); });
  std::jthread lag([this](const std::stop_token& stop) { lag_loop(*consumer_, stop); });
  log::info("consuming", {{"topics", wiring_.inputs}, {"group", wiring_.group}});
  auto last_commit = Clock::now();
  bool behind = false;  // the last poll came back full: more input is ready
  while (!stopping()) {
    loop.apply_reports();
    loop.resend_due();
    loop.process(Clock::now() + options_.poll_budget);
    loop.flush(behind);
    loop.update_pauses();
    if (Clock::now() - last_commit >= options_.commit_interval) {
      loop.commit(false);
      last_commit = Clock::now();
    }
    // poll() keeps the group membership alive while work is in flight; it waits only when
    // nothing is ready, and briefly while reports or retries are due.
    const auto wait = loop.ready()                ? milliseconds(0)
                      : loop.unacknowledged() > 0 ? milliseconds(5)
                      : loop.retrying()           ? milliseconds(20)
                                                  : milliseconds(100);
    auto batch = consumer_->poll(options_.batch, wait);
    behind = batch.size() >= options_.batch;
    loop.take(std::move(batch));
  }
  // SIGTERM: nothing new is processed; what was sent may still be acknowledged, then committed.
  loop.flush(false);
  const auto deadline = Clock::now() + options_.drain_timeout;
  for (;;) {
    loop.apply_reports();
    loop.resend_due();
    if (loop.unacknowledged() == 0 || Clock::now() >= deadline) break;
    std::this_thread::sleep_for(milliseconds(5));
  }
  if (const auto left = loop.unacknowledged(); left > 0) {
    log::warn("outputs not acknowledged before exit; their inputs are read again after restart",
              {{"messages", left}});
  }
  loop.commit(true);
  lag.request_stop();
  lag.join();
  consumer_->close();
  consumer_->on_revoke({});
  log::info("consumer closed, offsets committed", {{"pauses", loop.pauses}});
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

}  // namespace pipewright::runtime
