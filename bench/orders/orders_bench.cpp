// bench/orders: orders per second through the orders pipeline and its latency, against a raw
// librdkafka relay of the same payloads in the same run, on the same broker and cores.
//
//   REST:     N orders POSTed to orders-api (C clients) → orders → fraud → orders-valid /
//             orders-rejected; rate = N / (first POST → last decision seen), latency per order
//             from its POST to its decision.
//   Kafka hop: the same N envelopes produced straight to `orders` while fraud runs; rate and
//             latency from produce to decision (orders-api left out).
//   Relay:    the same N envelopes produced to a topic that a plain librdkafka consumer →
//             producer loop copies to another (no parsing, no rules, auto commit); the peer.
//
// Usage: build/bench/orders/orders_bench; knobs PIPEWRIGHT_BENCH_ORDERS (2000),
// PIPEWRIGHT_BENCH_CONCURRENCY (32), PIPEWRIGHT_BENCH_ROUNDS (3: relay, REST, hop in turn;
// medians reported).
// Bounded: N orders per path and round, 5 minutes per phase at most, 127.0.0.1 only.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <librdkafka/rdkafkacpp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <thread>

#include "pkg/api/manifest.h"
#include "pkg/event/envelope.h"
#include "pkg/kafka/admin.h"
#include "pkg/local/kafka_broker.h"
#include "pkg/proc/net.h"
#include "tests/support/http_client.h"
#include "tests/support/suite_logs.h"
#include "tests/support/workers.h"

namespace pipewright {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

constexpr int kPartitions = 3;  // every topic here, as in examples/orders.yaml

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::stoi(v) : fallback;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

std::unique_ptr<RdKafka::Conf> conf(const std::string& bootstrap) {
  std::unique_ptr<RdKafka::Conf> c(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  c->set("bootstrap.servers", bootstrap, err);
  return c;
}

void set(RdKafka::Conf& c, const std::string& key, const std::string& value) {
  std::string err;
  if (c.set(key, value, err) != RdKafka::Conf::CONF_OK) throw std::runtime_error(err);
}

// The producer settings of the workers (pkg/kafka/client.cpp): idempotent, acks=all, linger 2 ms.
std::unique_ptr<RdKafka::Producer> producer(const std::string& bootstrap) {
  auto c = conf(bootstrap);
  set(*c, "enable.idempotence", "true");
  set(*c, "acks", "all");
  set(*c, "linger.ms", "2");
  std::string err;
  std::unique_ptr<RdKafka::Producer> p(RdKafka::Producer::create(c.get(), err));
  if (!p) throw std::runtime_error(err);
  return p;
}

void produce(RdKafka::Producer& p, const std::string& topic, const std::string& key,
             const std::string& value) {
  for (;;) {
    const auto err = p.produce(topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                               const_cast<char*>(value.data()), value.size(), key.data(),
                               key.size(), 0, nullptr);
    if (err == RdKafka::ERR_NO_ERROR) return;
    if (err != RdKafka::ERR__QUEUE_FULL) throw std::runtime_error(RdKafka::err2str(err));
    p.poll(10);
  }
}

// Records when each order id starting with `prefix` (the event data's id, else its id) first
// appears on `topics`. Starts at each partition's current end (read synchronously), assigned
// rather than subscribed, so there is no group join or backlog to make arrival times late.
class Watcher {
 public:
  Watcher(const std::string& bootstrap, const std::vector<std::string>& topics, std::string prefix,
          std::size_t n)
      : prefix_(std::move(prefix)), n_(n) {
    auto c = conf(bootstrap);
    set(*c, "group.id", "bench-watcher");
    set(*c, "enable.auto.commit", "false");
    std::string err;
    consumer_.reset(RdKafka::KafkaConsumer::create(c.get(), err));
    if (!consumer_) throw std::runtime_error(err);
    std::vector<RdKafka::TopicPartition*> parts;
    for (const auto& t : topics) {
      for (int p = 0; p < kPartitions; ++p) {
        int64_t low = 0, high = 0;
        if (consumer_->query_watermark_offsets(t, p, &low, &high, 10000) != RdKafka::ERR_NO_ERROR)
          throw std::runtime_error("no watermarks for " + t);
        parts.push_back(RdKafka::TopicPartition::create(t, p, high));
      }
    }
    consumer_->assign(parts);
    RdKafka::TopicPartition::destroy(parts);
    thread_ = std::thread([this] { loop(); });
  }
  ~Watcher() {
    stop_ = true;
    thread_.join();
    consumer_->close();
  }
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;
  bool wait(std::chrono::seconds limit) {
    return proc::poll_until(limit, [&] {
      std::lock_guard lock(mutex_);
      return seen_.size() >= n_;
    });
  }
  std::map<std::string, Clock::time_point> seen() {
    std::lock_guard lock(mutex_);
    return seen_;
  }

 private:
  void loop() {
    while (!stop_) {
      std::unique_ptr<RdKafka::Message> m(consumer_->consume(50));
      if (m->err() != RdKafka::ERR_NO_ERROR) continue;
      const auto now = Clock::now();
      const auto e = json::parse(static_cast<const char*>(m->payload()),
                                 static_cast<const char*>(m->payload()) + m->len());
      // A binary-mode CloudEvent's value is its data; an old envelope has it under "data".
      const auto id = e.is_object() && e.contains("data") && e["data"].is_object()
                          ? e["data"].value("id", e.value("id", ""))
                          : (e.is_object() ? e.value("id", "") : std::string());
      if (!id.starts_with(prefix_)) continue;
      std::lock_guard lock(mutex_);
      seen_.try_emplace(id, now);
    }
  }
  std::string prefix_;
  std::size_t n_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::map<std::string, Clock::time_point> seen_;
  std::thread thread_;
};

// The peer: consume → produce, nothing else (auto commit), until stopped.
void relay(const std::string& bootstrap, const std::string& in, const std::string& out,
           const std::atomic<bool>& stop) {
  auto c = conf(bootstrap);
  set(*c, "group.id", "bench-relay");
  set(*c, "auto.offset.reset", "earliest");
  std::string err;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(c.get(), err));
  consumer->subscribe({in});
  auto p = producer(bootstrap);
  while (!stop) {
    std::unique_ptr<RdKafka::Message> m(consumer->consume(20));
    p->poll(0);
    if (m->err() != RdKafka::ERR_NO_ERROR) continue;
    produce(*p, out, m->key() != nullptr ? *m->key() : "",
            std::string(static_cast<const char*>(m->payload()), m->len()));
  }
  p->flush(10000);
  consumer->close();
}

// One keep-alive HTTP/1.1 connection (a client per thread, as a load generator has): the
// measure is the server, not a connection per request.
class Connection {
 public:
  explicit Connection(int port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
      throw std::runtime_error("connect failed");
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~Connection() { ::close(fd_); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // The status of POST `path` with a JSON body; 0 when the connection failed.
  int post(const std::string& path, const std::string& body) {
    const auto request = "POST " + path +
                         " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                         "Content-Length: " +
                         std::to_string(body.size()) + "\r\n\r\n" + body;
    if (::send(fd_, request.data(), request.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(request.size()))
      return 0;
    std::string in;
    std::size_t head_end = std::string::npos;
    std::size_t length = 0;
    char buf[4096];
    for (;;) {
      if (head_end == std::string::npos && (head_end = in.find("\r\n\r\n")) != std::string::npos) {
        auto at = in.find("content-length:");
        if (at == std::string::npos) at = in.find("Content-Length:");
        length = at == std::string::npos ? 0 : std::stoul(in.substr(at + 15));
      }
      if (head_end != std::string::npos && in.size() >= head_end + 4 + length) break;
      const auto got = ::recv(fd_, buf, sizeof buf, 0);
      if (got <= 0) return 0;
      in.append(buf, static_cast<std::size_t>(got));
    }
    return std::stoi(in.substr(9, 3));
  }

 private:
  int fd_;
};

struct Result {
  double rate = 0, p50 = 0, p99 = 0;
};

Result measure(const std::map<std::string, Clock::time_point>& sent, Watcher& watcher,
               Clock::time_point start) {
  std::vector<double> latency;
  auto last = start;
  for (const auto& [id, at] : watcher.seen()) {
    const auto s = sent.find(id);
    if (s == sent.end()) continue;
    last = std::max(last, at);
    latency.push_back(std::chrono::duration<double, std::milli>(at - s->second).count());
  }
  const double seconds = std::chrono::duration<double>(last - start).count();
  return {static_cast<double>(latency.size()) / seconds, percentile(latency, 0.5),
          percentile(latency, 0.99)};
}

// Mostly valid orders from distinct customers, one in five over the amount limit.
std::vector<json> orders(int n, const std::string& prefix) {
  std::vector<json> out;
  for (int i = 0; i < n; ++i) {
    const double price = i % 5 == 0 ? 20000.0 : 12.5;
    out.push_back({{"id", prefix + std::to_string(i)},
                   {"customer", "customer-" + std::to_string(i)},
                   {"items", {{{"sku", "sku-1"}, {"quantity", 2}, {"price", price}}}},
                   {"total", 2 * price}});
  }
  return out;
}

// The orders topic's message for an order in the old envelope, which fraud still reads
// (docs/messages.md); orders-api itself writes a binary-mode CloudEvent.
std::string envelope(const json& order) {
  auto data = order;
  data["receivedAt"] = event::now_rfc3339();
  return json{{"id", order["id"]},
              {"type", "pipewright.order.created"},
              {"time", event::now_rfc3339()},
              {"source", "bench/orders/api"},
              {"data", data}}
      .dump();
}

// Produces every envelope to `topic` as fast as librdkafka takes them, noting when each left.
// A warm-up order (`warm_id`) goes first and is acknowledged before the clock starts: a new
// idempotent producer holds its messages until the broker gives it a producer id (~0.5 s).
std::map<std::string, Clock::time_point> produce_all(const std::string& bootstrap,
                                                     const std::string& topic,
                                                     const std::vector<json>& batch,
                                                     const std::string& warm_id,
                                                     Clock::time_point& start) {
  auto p = producer(bootstrap);
  auto warm = orders(1, "warm-").front();
  warm["id"] = warm_id;
  produce(*p, topic, warm["customer"], envelope(warm));
  p->flush(30000);
  start = Clock::now();
  std::map<std::string, Clock::time_point> sent;
  for (const auto& o : batch) {
    sent[o["id"]] = Clock::now();
    produce(*p, topic, o["customer"], envelope(o));
    p->poll(0);
  }
  p->flush(30000);
  return sent;
}

// Ratio columns and medians over rounds.
struct Round {
  Result relay, rest, hop;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

void report(const std::vector<Round>& rounds, int n, int concurrency) {
  std::printf("\nbench/orders: %d orders per path and round, %d REST clients, %zu rounds\n", n,
              concurrency, rounds.size());
  std::printf(
      "| round | relay/s | REST/s | REST ratio | hop/s | hop ratio | REST p50/p99 ms | "
      "hop p50/p99 ms | relay p50/p99 ms |\n|---|---|---|---|---|---|---|---|---|\n");
  std::vector<double> rest_ratio, hop_ratio;
  for (std::size_t i = 0; i < rounds.size(); ++i) {
    const auto& r = rounds[i];
    rest_ratio.push_back(r.rest.rate / r.relay.rate);
    hop_ratio.push_back(r.hop.rate / r.relay.rate);
    std::printf(
        "| %zu | %.0f | %.0f | %.2f | %.0f | %.2f | %.0f / %.0f | %.0f / %.0f | %.0f / %.0f |\n",
        i + 1, r.relay.rate, r.rest.rate, rest_ratio.back(), r.hop.rate, hop_ratio.back(),
        r.rest.p50, r.rest.p99, r.hop.p50, r.hop.p99, r.relay.p50, r.relay.p99);
  }
  std::printf("median ratio to the relay: REST %.2f (target 0.5), Kafka hop %.2f (target 0.8)\n",
              median(rest_ratio), median(hop_ratio));
}

TEST(OrdersBench, RestAndKafkaHopAgainstARawRelay) {
  const int n = env_int("PIPEWRIGHT_BENCH_ORDERS", 2000);
  const int concurrency = env_int("PIPEWRIGHT_BENCH_CONCURRENCY", 32);
  const int round_count = env_int("PIPEWRIGHT_BENCH_ROUNDS", 3);
  const auto limit = std::chrono::seconds(300);
  auto broker = local::KafkaBroker::start({testing::component_dir("kafka")});
  const auto bootstrap = broker->bootstrap();

  // The peer: a relay between two topics of the same shape (3 partitions), running throughout.
  auto admin = kafka::make_admin(bootstrap);
  for (const auto& r : admin->create({{"relay-in", "bench.relay.in", 3, 1, {}, false, false},
                                      {"relay-out", "bench.relay.out", 3, 1, {}, false, false}})) {
    ASSERT_NE(r.outcome, kafka::TopicOutcome::failed) << r.error;
  }
  std::atomic<bool> stop{false};
  std::thread relaying([&] { relay(bootstrap, "bench.relay.in", "bench.relay.out", stop); });

  auto pipeline = api::load({testing::source_dir() / "examples" / "orders.yaml"}).pipelines.at(0);
  testing::PipelineRun run(pipeline, bootstrap, "bench");
  run.create_topics();
  auto& api = run.start("api");
  run.start("fraud");
  const std::vector<std::string> decided = {run.topic("orders-valid"),
                                            run.topic("orders-rejected")};

  // Warm-up: the relay and fraud have joined their groups once one message made each trip.
  {
    Watcher relayed(bootstrap, {"bench.relay.out"}, "warm-", 1);
    Watcher checked(bootstrap, decided, "warm-", 1);
    Clock::time_point ignored;
    produce_all(bootstrap, "bench.relay.in", {}, "warm-relay", ignored);
    auto o = orders(1, "warm-rest")[0];
    ASSERT_EQ(
        testing::http_request("POST", api.url() + "/orders", o.dump(), "application/json").status,
        202);
    ASSERT_TRUE(relayed.wait(std::chrono::seconds(60)));
    ASSERT_TRUE(checked.wait(std::chrono::seconds(60)));
  }

  // Rounds of relay, REST, hop in turn, so a busy moment of this shared machine hits one round
  // rather than one path.
  std::vector<Round> rounds;
  for (int r = 0; r < round_count; ++r) {
    const auto tag = std::to_string(r) + "-";
    Round round;
    {
      Watcher watcher(bootstrap, {"bench.relay.out"}, "relay-" + tag, static_cast<std::size_t>(n));
      Clock::time_point start;
      const auto sent = produce_all(bootstrap, "bench.relay.in", orders(n, "relay-" + tag),
                                    "warm-relay-" + tag, start);
      ASSERT_TRUE(watcher.wait(limit));
      round.relay = measure(sent, watcher, start);
    }
    {
      // REST: C clients POST the orders; a decision on either topic ends an order's trip.
      Watcher watcher(bootstrap, decided, "rest-" + tag, static_cast<std::size_t>(n));
      const auto batch = orders(n, "rest-" + tag);
      std::mutex mutex;
      std::map<std::string, Clock::time_point> sent;
      std::atomic<int> next{0}, failed{0};
      const auto start = Clock::now();
      std::vector<std::thread> clients;
      for (int c = 0; c < concurrency; ++c) {
        clients.emplace_back([&] {
          Connection connection(api.http_port);
          for (int i; (i = next.fetch_add(1)) < n;) {
            const auto& o = batch[static_cast<std::size_t>(i)];
            {
              std::lock_guard lock(mutex);
              sent[o["id"]] = Clock::now();
            }
            if (connection.post("/orders", o.dump()) != 202) ++failed;
          }
        });
      }
      for (auto& t : clients)
        t.join();
      ASSERT_EQ(failed.load(), 0);
      ASSERT_TRUE(watcher.wait(limit));
      round.rest = measure(sent, watcher, start);
    }
    {
      // The Kafka-only hop: the same payloads straight onto `orders` while fraud runs.
      Watcher watcher(bootstrap, decided, "hop-" + tag, static_cast<std::size_t>(n));
      Clock::time_point start;
      const auto sent = produce_all(bootstrap, run.topic("orders"), orders(n, "hop-" + tag),
                                    "warm-hop-" + tag, start);
      ASSERT_TRUE(watcher.wait(limit));
      round.hop = measure(sent, watcher, start);
    }
    rounds.push_back(round);
  }
  stop = true;
  relaying.join();
  report(rounds, n, concurrency);
}

}  // namespace
}  // namespace pipewright
