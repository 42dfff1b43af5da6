// The events pipelines' workers (SPEC section 3): events-api (create events synchronously or
// asynchronously, read them back), enrich (competing consumers that give each event a Portuguese
// word) and events-gateway (WebSocket in and out, and a live viewer page).

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>

#include "pkg/http/websocket.h"
#include "pkg/log/log.h"
#include "pkg/workers/events_model.h"
#include "pkg/workers/events_viewer_page.h"
#include "pkg/workers/workers.h"

namespace pipewright::workers {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;
using namespace events;

constexpr std::int64_t kMiB = std::int64_t{1024} * 1024;
// Processed events events-api keeps for GET: the newest 100,000, and no more than 256 MiB of
// them (each may be a body of maxBodyBytes), whichever comes first.
constexpr std::size_t kKeepEvents = 100'000;
constexpr std::size_t kKeepEventBytes = std::size_t{256} << 20;
// How long a /consume-events frame may wait for others to share its socket write.
constexpr std::chrono::microseconds kFanoutCoalesce{1000};

// The step's one output (the topic events are created on or enriched to); a ConfigError if the
// step has none or several.
std::string single_output(const runtime::Runtime& runtime) {
  const auto& outputs = runtime.wiring().outputs;
  if (outputs.size() != 1) {
    throw runtime::ConfigError("the " + runtime.wiring().worker + " step takes one output, not " +
                               std::to_string(outputs.size()));
  }
  return outputs.begin()->first;
}

// events-api and events-gateway need EVERY event of their input on EVERY replica: a waiter on
// replica A must see its event even when the partition it landed on is assigned to replica B,
// and each gateway fans everything out to its own clients. So each replica consumes in a
// consumer group of its own, "<step group>.<unique id>", instead of the step's shared group
// (which would split the partitions between replicas). A fresh group per process start reads
// from the beginning of the topic (earliest), which rebuilds events-api's view after a restart;
// the gateway skips what was written before it started (live only). The cost: one small group
// per process start, which Kafka expires when its offsets retention passes. The runtime is the
// same one every worker runs (consume → handler → commit), built with this wiring.
std::unique_ptr<runtime::Runtime> replica_runtime(const runtime::Runtime& shared,
                                                  std::vector<std::string> inputs,
                                                  const runtime::RuntimeOptions& options) {
  auto wiring = shared.wiring();
  wiring.inputs = std::move(inputs);
  std::string id = event::new_id();
  for (auto& c : id)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  wiring.group = (wiring.group.empty() ? wiring.source() : wiring.group) + ".replica-" + id;
  return std::make_unique<runtime::Runtime>(std::move(wiring), shared.config(), options);
}

// ---------------------------------------------------------------------------------------------
// events-api

// What this replica knows of processed events, and the synchronous creates waiting for theirs.
class EventStore {
 public:
  // Answers `responder` with the processed event, or 504 at `deadline`.
  void expect(const std::string& id, std::shared_ptr<http::Responder> responder,
              Clock::time_point deadline, std::chrono::milliseconds wait) {
    const std::lock_guard lock(mu_);
    waiters_[id] = {std::move(responder), deadline, wait};
    deadlines_.emplace(deadline, id);
    cv_.notify_all();
  }
  void forget(const std::string& id) {
    const std::lock_guard lock(mu_);
    waiters_.erase(id);
  }

  void processed(const event::Envelope& e) {
    const json body = event::to_structured(e);
    const std::size_t size = body.dump().size() + 1;  // what the store holds, for its bound
    std::shared_ptr<http::Responder> waiter;
    {
      const std::lock_guard lock(mu_);
      auto& kept = events_[e.id];
      if (kept.second == 0) {
        ++count_;
        order_.push_back(e.id);
      }
      bytes_ += size;
      bytes_ -= std::min(bytes_, kept.second);
      kept = {body, size};
      while (order_.size() > 1 && (order_.size() > kKeepEvents || bytes_ > kKeepEventBytes)) {
        const auto old = events_.find(order_.front());
        bytes_ -= std::min(bytes_, old->second.second);
        events_.erase(old);
        order_.pop_front();
      }
      const auto it = waiters_.find(e.id);
      if (it != waiters_.end()) {
        waiter = std::move(it->second.responder);
        waiters_.erase(it);
      }
    }
    if (waiter) waiter->respond(http::Response::json(200, body));
  }

  std::optional<json> get(const std::string& id) const {
    const std::lock_guard lock(mu_);
    const auto it = events_.find(id);
    if (it == events_.end()) return std::nullopt;
    return it->second.first;
  }
  std::int64_t count() const {
    const std::lock_guard lock(mu_);
    return count_;
  }
  std::size_t waiting() const {
    const std::lock_guard lock(mu_);
    return waiters_.size();
  }

  // Answers 504 to the waiters whose time is up, until `stopping()`.
  void expire_until(const std::function<bool()>& stopping) {
    std::unique_lock lock(mu_);
    while (!stopping()) {
      const auto now = Clock::now();
      while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
        const auto id = deadlines_.begin()->second;
        deadlines_.erase(deadlines_.begin());
        const auto it = waiters_.find(id);
        if (it == waiters_.end() || it->second.deadline > now) continue;
        auto responder = std::move(it->second.responder);
        const auto wait = it->second.wait;
        waiters_.erase(it);
        lock.unlock();
        responder->respond(http::Response::json(
            504, {{"error", "not processed within " + std::to_string(wait.count()) +
                                "ms; it still will be: GET /events/" + id},
                  {"field", "wait"},
                  {"id", id}}));
        lock.lock();
      }
      auto until = now + std::chrono::milliseconds(200);  // also how soon a stop is seen
      if (!deadlines_.empty()) until = std::min(until, deadlines_.begin()->first);
      cv_.wait_until(lock, until);
    }
    // Stopping: nobody waits past the end.
    for (auto& [id, w] : waiters_) {
      w.responder->respond(http::Response::error(503, "the server is stopping", "wait"));
    }
    waiters_.clear();
  }

 private:
  struct Waiter {
    std::shared_ptr<http::Responder> responder;
    Clock::time_point deadline;
    std::chrono::milliseconds wait;
  };
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<std::string, std::pair<json, std::size_t>> events_;  // event, its bytes
  std::deque<std::string> order_;                                         // oldest first
  std::size_t bytes_ = 0;
  std::int64_t count_ = 0;
  std::unordered_map<std::string, Waiter> waiters_;
  std::multimap<Clock::time_point, std::string> deadlines_;
};

int run_api(runtime::Runtime& shared) {
  const auto& config = shared.config();
  runtime::check_keys(config, {"maxWait", "maxBodyBytes"});
  const auto max_wait = runtime::parse_duration(runtime::config_string(config, "maxWait", "30s"));
  if (max_wait.count() <= 0) throw runtime::ConfigError("config.maxWait: must be above zero");
  const auto max_body = runtime::config_int(config, "maxBodyBytes", kMiB, 1, 64 * kMiB);
  const auto output = single_output(shared);
  if (shared.wiring().inputs.empty()) {
    throw runtime::ConfigError(
        "the events-api step needs the enriched topic as its input (to answer ?wait= and GET)");
  }

  runtime::RuntimeOptions options;
  options.max_body_bytes = static_cast<std::size_t>(max_body);
  // Creates are answered from delivery reports, not on these threads. Reading the enriched topic
  // is cheap per message: big batches, fewer commits.
  options.http_threads = 2;
  options.batch = 1024;
  auto runtime_ptr = replica_runtime(shared, shared.wiring().inputs, options);
  auto& runtime = *runtime_ptr;
  auto store = std::make_shared<EventStore>();

  runtime.route("GET", "/", [store](const http::Request&) {
    return http::Response::json(200, {{"events", store->count()}, {"waiting", store->waiting()}});
  });

  runtime.route("GET", "/events/{id}", [store](const http::Request& req) {
    const auto& id = req.params.at("id");
    if (auto e = store->get(id)) return http::Response::json(200, *e);
    return http::Response::error(404, "no processed event with id '" + id + "' (yet)", "id");
  });

  // Answered from Kafka's delivery report (Request::later): no I/O or pool thread waits for it,
  // and 503 means the report said the event was not written.
  runtime.route("POST", "/events", [&, store](const http::Request& req) {  // run() outlives it
    json data;
    std::optional<std::chrono::milliseconds> wait;
    try {
      // A CloudEvent (HTTP binding, either mode) carries the same body as its data.
      const auto ce = event::from_http(req.headers, req.body);
      data = parse_create_body(ce ? ce->event.data.dump() : req.body);
      if (auto w = req.query("wait")) wait = parse_wait(*w, max_wait);
    } catch (const FieldError& e) {
      return http::Response::error(400, e.what(), e.field());
    } catch (const event::EnvelopeError& e) {
      return http::Response::error(400, e.what(), e.field());
    }
    const auto envelope = event::make(kCreatedType, runtime.wiring().source(), data);
    auto message = runtime.message(output, envelope.id, envelope);
    // Synchronous (?wait=): the waiter is registered before publishing, so an event processed
    // at once still finds it; it answers with the enriched event.
    return req.later([&runtime, store, message = std::move(message), id = envelope.id,
                      wait](const std::shared_ptr<http::Responder>& responder) {
      if (wait) store->expect(id, responder, Clock::now() + *wait, *wait);
      runtime.publish_async(
          {message}, [store, id, responder, waits = wait.has_value()](const std::string& error) {
            if (error.empty()) {
              if (!waits) responder->respond(http::Response::json(202, {{"id", id}}));
              return;
            }
            if (waits) store->forget(id);
            log::error("event not published", {{"id", id}, {"error", error}});
            responder->respond(
                http::Response::error(503, "the event could not be published: " + error));
          });
    });
  });

  std::thread expiry(
      [&runtime, store] { store->expire_until([&] { return runtime.stopping(); }); });
  const int code =
      runtime.run([store](const kafka::InMessage& m) -> std::vector<kafka::OutMessage> {
        store->processed(runtime::read_event(m));
        return {};
      });
  runtime.stop();
  expiry.join();
  return code;
}

// ---------------------------------------------------------------------------------------------
// enrich

int run_enrich(runtime::Runtime& runtime) {
  const auto& config = runtime.config();
  runtime::check_keys(config, {"dictionary"});
  const auto path = runtime::config_string(config, "dictionary", "/usr/share/dict/brazilian");
  std::vector<std::string> words;
  try {
    words = load_dictionary(path);
  } catch (const std::runtime_error& e) {
    throw runtime::ConfigError(std::string("config.dictionary: ") + e.what());
  }
  const auto output = single_output(runtime);
  log::info("dictionary loaded", {{"path", path}, {"words", words.size()}});

  // Competing consumers: the step's own group, so replicas share the partitions.
  return runtime.run(
      [&runtime, words = std::move(words), output, source = runtime.wiring().source()](
          const kafka::InMessage& m) -> std::vector<kafka::OutMessage> {
        // Moved in, not built from a braced list (whose elements are copied, value and headers).
        std::vector<kafka::OutMessage> outputs;
        outputs.reserve(1);
        // Same id: a redelivery repeats the same event with the same word. The source is the
        // step's, written once (not concatenated again per event).
        const auto enriched = [&](const std::string& id, json data) {
          return event::Envelope{id, kEnrichedType, event::now_rfc3339(), source, std::move(data)};
        };
        // Data already written as dump() writes it gets its word spliced into the text: the same
        // bytes as the document's dump, without parsing and dumping it.
        if (const auto in = runtime::read_event_text(m)) {
          const auto& id = in->event.id;
          if (auto value = enriched_data_text(in->data, word_for(words, id))) {
            outputs.push_back(runtime.message(output, m.key.empty() ? id : m.key,
                                              enriched(id, nullptr), std::move(*value)));
            return outputs;
          }
        }
        auto in = runtime::read_event(m);
        // The event's data is moved, not copied: it is not read again.
        const auto out = enriched(in.id, enriched_data(std::move(in.data), word_for(words, in.id)));
        outputs.push_back(runtime.message(output, m.key.empty() ? in.id : m.key, out));
        return outputs;
      });
}

// ---------------------------------------------------------------------------------------------
// events-gateway

struct GatewayMetrics {
  explicit GatewayMetrics(prometheus::Registry& r, const std::map<std::string, std::string>& l)
      : clients(prometheus::BuildGauge()
                    .Name("pipewright_websocket_clients")
                    .Help("WebSocket clients connected to /consume-events")
                    .Register(r)
                    .Add(l)),
        dropped(prometheus::BuildCounter()
                    .Name("pipewright_websocket_clients_dropped_total")
                    .Help("WebSocket clients disconnected for not reading fast enough")
                    .Register(r)
                    .Add(l)),
        sent(prometheus::BuildCounter()
                 .Name("pipewright_websocket_messages_sent_total")
                 .Help("Events queued to /consume-events clients")
                 .Register(r)
                 .Add(l)),
        refused(prometheus::BuildCounter()
                    .Name("pipewright_websocket_frames_refused_total")
                    .Help("/produce connections closed for a binary or oversized frame")
                    .Register(r)) {}
  prometheus::Gauge& clients;
  prometheus::Counter& dropped;
  prometheus::Counter& sent;
  prometheus::Family<prometheus::Counter>& refused;
};

// The /consume-events clients of this replica.
class Fanout {
 public:
  explicit Fanout(GatewayMetrics& metrics) : metrics_(metrics) {}
  void add(const std::shared_ptr<http::WebSocket>& ws) {
    const std::lock_guard lock(mu_);
    auto next = std::make_shared<Clients>(*clients_);
    if (next->insert(ws).second) {
      clients_ = std::move(next);
      metrics_.clients.Increment();
    }
  }
  void remove(const std::shared_ptr<http::WebSocket>& ws) {
    const std::lock_guard lock(mu_);
    if (clients_->count(ws) == 0) return;
    auto next = std::make_shared<Clients>(*clients_);
    next->erase(ws);
    clients_ = std::move(next);
    metrics_.clients.Decrement();
  }
  // Every client gets the message queued, the one serialised payload shared by all (each
  // client's connection writes its queue many frames at a time); one whose queue is full is
  // disconnected and counted, and the others never wait for it.
  void broadcast(std::string message) {
    const auto shared = std::make_shared<const std::string>(std::move(message));
    std::shared_ptr<const Clients> clients;
    {
      const std::lock_guard lock(mu_);
      clients = clients_;  // the set as it is: joins and leaves copy it, messages do not
    }
    double queued = 0;
    for (const auto& c : *clients) {
      switch (c->send(shared)) {
        case http::SendResult::queued:
          ++queued;
          break;
        case http::SendResult::overflow:
          metrics_.dropped.Increment();
          log::warn("websocket client dropped: too slow", {{"client", c->remote()}});
          remove(c);
          break;
        case http::SendResult::closed:
          remove(c);
          break;
      }
    }
    if (queued > 0) metrics_.sent.Increment(queued);
  }

 private:
  using Clients = std::set<std::shared_ptr<http::WebSocket>>;
  GatewayMetrics& metrics_;
  std::mutex mu_;
  std::shared_ptr<const Clients> clients_ = std::make_shared<const Clients>();
};

int run_gateway(runtime::Runtime& shared) {
  const auto& config = shared.config();
  runtime::check_keys(config, {"topic", "maxFrameBytes", "clientQueue"});
  const auto topic = gateway_topic(shared.wiring(), runtime::config_string(config, "topic", ""));
  const auto max_frame =
      runtime::config_int(config, "maxFrameBytes", std::int64_t{64} * 1024, 1, 16 * kMiB);
  const auto queue = runtime::config_int(config, "clientQueue", 1000, 1, 1'000'000);
  const auto output = single_output(shared);

  runtime::RuntimeOptions options;
  options.http_threads = 2;
  // Fan-out is cheap per message (queued to each client): big batches, so the commit after
  // each batch does not set the pace.
  options.batch = 1024;
  auto runtime_ptr = replica_runtime(shared, {topic}, options);
  auto& runtime = *runtime_ptr;
  const auto& w = runtime.wiring();
  GatewayMetrics metrics(*runtime.registry(), {{"pipeline", w.pipeline}, {"step", w.step}});
  Fanout fanout(metrics);

  http::WebSocketOptions ws_options;
  ws_options.max_message_bytes = static_cast<std::size_t>(max_frame);
  ws_options.max_queue = static_cast<std::size_t>(queue);

  // /produce: each text message becomes one event on the output; the answer is {"id"} once
  // Kafka has it, or {"error","field"}.
  auto produce = std::make_shared<http::WebSocketHandler>();
  produce->options = ws_options;
  // Answers go in the order the frames came (the client matches them by order), although
  // Kafka acknowledges different partitions in any order; nothing waits on the I/O thread.
  struct Replies {
    std::mutex mu;
    std::uint64_t next_in = 0, next_out = 0;
    std::map<std::uint64_t, std::string> ready;
    void answer(http::WebSocket& ws, std::uint64_t seq, std::string text) {
      const std::lock_guard lock(mu);  // held while sending, so two threads keep the order
      ready.emplace(seq, std::move(text));
      for (auto it = ready.begin(); it != ready.end() && it->first == next_out; ++next_out) {
        ws.send(std::move(it->second));
        it = ready.erase(it);
      }
    }
  };
  auto replies_mu = std::make_shared<std::mutex>();
  auto replies = std::make_shared<std::map<const http::WebSocket*, std::shared_ptr<Replies>>>();
  produce->on_text = [&runtime, output, replies_mu, replies](
                         const std::shared_ptr<http::WebSocket>& ws, const std::string& text) {
    const auto envelope = event::make(kCreatedType, runtime.wiring().source(), frame_data(text));
    std::shared_ptr<Replies> mine;
    std::uint64_t seq = 0;
    {
      const std::lock_guard lock(*replies_mu);
      auto& r = (*replies)[ws.get()];
      if (!r) r = std::make_shared<Replies>();
      mine = r;
      const std::lock_guard order(mine->mu);
      seq = mine->next_in++;
    }
    runtime.publish_async(
        {runtime.message(output, envelope.id, envelope)},
        [ws, mine, seq, id = envelope.id](const std::string& error) {
          if (error.empty()) {
            mine->answer(*ws, seq, json{{"id", id}}.dump());
            return;
          }
          log::error("event not published", {{"id", id}, {"error", error}});
          mine->answer(
              *ws, seq,
              json{{"error", "the event could not be published: " + error}, {"field", "message"}}
                  .dump());
        });
  };
  produce->on_close = [&metrics, replies_mu, replies](const std::shared_ptr<http::WebSocket>& ws,
                                                      int code, const std::string& reason) {
    {
      const std::lock_guard lock(*replies_mu);
      replies->erase(ws.get());
    }
    if (code == http::kCloseUnsupportedData || code == http::kCloseTooBig) {
      metrics.refused.Add({{"reason", code == http::kCloseTooBig ? "too_big" : "binary"}})
          .Increment();
      log::warn("websocket frame refused",
                {{"client", ws->remote()}, {"code", code}, {"reason", reason}});
    }
  };
  runtime.route("GET", "/produce", [produce](const http::Request& req) {
    return http::websocket_upgrade(req, produce);
  });

  // /consume-events: every event of the topic to every client, live. Messages from clients
  // are not expected; a binary or oversized one closes the connection like on /produce.
  auto consume = std::make_shared<http::WebSocketHandler>();
  consume->options = ws_options;
  // A client that keeps up gets its frames many per write instead of one wake-up and one
  // syscall each; a frame waits at most this long for company.
  consume->options.coalesce = kFanoutCoalesce;
  consume->on_open = [&fanout](const std::shared_ptr<http::WebSocket>& ws) { fanout.add(ws); };
  consume->on_close = [&fanout](const std::shared_ptr<http::WebSocket>& ws, int code,
                                const std::string& reason) {
    fanout.remove(ws);
    log::info("websocket client left",
              {{"client", ws->remote()}, {"code", code}, {"reason", reason}});
  };
  runtime.route("GET", "/consume-events", [consume](const http::Request& req) {
    return http::websocket_upgrade(req, consume);
  });

  runtime.route("GET", "/viewer", [](const http::Request&) {
    return http::Response{
        200, "text/html; charset=utf-8", kViewerPage, {{"Cache-Control", "no-cache"}}};
  });

  // Live: what was written before this replica started is skipped, not replayed.
  const auto started_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
  log::info("fanning out",
            {{"topic", topic}, {"clientQueue", queue}, {"maxFrameBytes", max_frame}});
  return runtime.run([&fanout, started_ms](const kafka::InMessage& m) {
    if (m.timestamp_ms > 0 && m.timestamp_ms < started_ms) return std::vector<kafka::OutMessage>{};
    // Clients get the structured form (JSON event format) whichever mode the message used,
    // built once for all of them; the data's bytes are reused when they are already what
    // dump() would write (parsing and dumping them was most of the gateway's CPU per event).
    event::Headers headers;
    headers.reserve(m.headers.size());
    for (const auto& h : m.headers)
      headers.emplace_back(h.key, h.value);
    auto frame = client_frame_of(m.value, headers);
    fanout.broadcast(frame ? std::move(*frame) : client_frame(runtime::read_event(m)));
    return std::vector<kafka::OutMessage>{};
  });
}

}  // namespace

std::vector<Kind> events_workers() {
  return {{"events-api", run_api}, {"enrich", run_enrich}, {"events-gateway", run_gateway}};
}

}  // namespace pipewright::workers
