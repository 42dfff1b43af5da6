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
// Usage: PIPEWRIGHT_BENCH_ORDERS=2000 PIPEWRIGHT_BENCH_CONCURRENCY=32 build/bench/orders_bench
// Bounded: N orders, 5 minutes per phase at most, 127.0.0.1 only.

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

// Records when each order id (the envelope's data.id, else its id) first appears on `topics`.
class Watcher {
 public:
  Watcher(const std::string& bootstrap, const std::vector<std::string>& topics, std::size_t n)
      : n_(n) {
    auto c = conf(bootstrap);
    set(*c, "group.id", "bench-watcher");
    set(*c, "enable.auto.commit", "false");
    std::string err;
    consumer_.reset(RdKafka::KafkaConsumer::create(c.get(), err));
    if (!consumer_) throw std::runtime_error(err);
    // Assigned, not subscribed: no group join to wait for, so arrival times are not late.
    std::vector<RdKafka::TopicPartition*> parts;
    for (const auto& t : topics) {
      for (int p = 0; p < kPartitions; ++p)
        parts.push_back(RdKafka::TopicPartition::create(t, p, RdKafka::Topic::OFFSET_BEGINNING));
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
      const auto id = e["data"].value("id", e.value("id", ""));
      std::lock_guard lock(mutex_);
      seen_.try_emplace(id, now);
    }
  }
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
std::vector<json> orders(int n) {
  std::vector<json> out;
  for (int i = 0; i < n; ++i) {
    const double price = i % 5 == 0 ? 20000.0 : 12.5;
    out.push_back({{"id", "bench-" + std::to_string(i)},
                   {"customer", "customer-" + std::to_string(i)},
                   {"items", {{{"sku", "sku-1"}, {"quantity", 2}, {"price", price}}}},
                   {"total", 2 * price}});
  }
  return out;
}

// The orders topic's envelope for an order, as orders-api writes it.
std::string envelope(const json& order) {
  auto data = order;
  data["receivedAt"] = event::now_rfc3339();
  return event::to_json(
      {order["id"], "pipewright.order.created", event::now_rfc3339(), "bench/orders/api", data});
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
  auto warm = orders(1).front();
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

TEST(OrdersBench, RestAndKafkaHopAgainstARawRelay) {
  const int n = env_int("PIPEWRIGHT_BENCH_ORDERS", 2000);
  const int concurrency = env_int("PIPEWRIGHT_BENCH_CONCURRENCY", 32);
  const auto limit = std::chrono::minutes(5);
  auto broker = local::KafkaBroker::start({testing::component_dir("kafka")});
  const auto bootstrap = broker->bootstrap();

  // The peer first: a relay between two topics of the same shape (3 partitions).
  auto admin = kafka::make_admin(bootstrap);
  for (const auto& r : admin->create({{"relay-in", "bench.relay.in", 3, 1, {}, false, false},
                                      {"relay-out", "bench.relay.out", 3, 1, {}, false, false}})) {
    ASSERT_NE(r.outcome, kafka::TopicOutcome::failed) << r.error;
  }
  Result peer;
  {
    std::atomic<bool> stop{false};
    std::thread relaying([&] { relay(bootstrap, "bench.relay.in", "bench.relay.out", stop); });
    // Warm-up: the relay has joined its group once one message made the trip.
    {
      Watcher warm(bootstrap, {"bench.relay.out"}, 1);
      Clock::time_point ignored;
      produce_all(bootstrap, "bench.relay.in", {}, "warm-up", ignored);
      ASSERT_TRUE(warm.wait(std::chrono::seconds(60)));
    }
    Watcher watcher(bootstrap, {"bench.relay.out"}, static_cast<std::size_t>(n) + 2);
    Clock::time_point start;
    const auto sent = produce_all(bootstrap, "bench.relay.in", orders(n), "relay-warm-up", start);
    EXPECT_TRUE(watcher.wait(std::chrono::duration_cast<std::chrono::seconds>(limit)));
    peer = measure(sent, watcher, start);
    stop = true;
    relaying.join();
  }

  auto pipeline = api::load({testing::source_dir() / "examples" / "orders.yaml"}).pipelines.at(0);
  testing::PipelineRun run(pipeline, bootstrap, "bench");
  run.create_topics();
  auto& api = run.start("api");
  run.start("fraud");
  const auto decided =
      std::vector<std::string>{run.topic("orders-valid"), run.topic("orders-rejected")};

  // Warm-up: fraud has joined its group once one order made the trip.
  {
    Watcher warm(bootstrap, decided, 1);
    auto o = orders(1)[0];
    o["id"] = "warm-up";
    ASSERT_EQ(
        testing::http_request("POST", api.url() + "/orders", o.dump(), "application/json").status,
        202);
    ASSERT_TRUE(warm.wait(std::chrono::seconds(60)));
  }

  // REST: C clients POST the orders; a decision on either topic ends an order's trip.
  Result rest;
  {
    Watcher watcher(bootstrap, decided, static_cast<std::size_t>(n) + 1);
    const auto batch = orders(n);
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
    EXPECT_TRUE(watcher.wait(std::chrono::duration_cast<std::chrono::seconds>(limit)));
    rest = measure(sent, watcher, start);
  }

  // The Kafka-only hop: the same payloads (new ids) straight onto `orders` while fraud runs.
  Result hop;
  {
    auto batch = orders(n);
    for (auto& o : batch)
      o["id"] = "hop-" + o["id"].get<std::string>();
    Watcher watcher(bootstrap, decided, static_cast<std::size_t>(2 * n) + 2);  // REST's too
    Clock::time_point start;
    const auto sent = produce_all(bootstrap, run.topic("orders"), batch, "hop-warm-up", start);
    EXPECT_TRUE(watcher.wait(std::chrono::duration_cast<std::chrono::seconds>(limit)));
    hop = measure(sent, watcher, start);
  }

  std::cout << "\nbench/orders: " << n << " orders, " << concurrency << " REST clients\n"
            << "| path | orders/s | ratio to relay | p50 (ms) | p99 (ms) |\n|---|---|---|---|---|\n"
            << "| raw librdkafka relay (peer) | " << peer.rate << " | 1 | " << peer.p50 << " | "
            << peer.p99 << " |\n"
            << "| REST: POST → orders-api → orders → fraud → valid/rejected | " << rest.rate
            << " | " << rest.rate / peer.rate << " | " << rest.p50 << " | " << rest.p99 << " |\n"
            << "| Kafka hop: orders → fraud → valid/rejected | " << hop.rate << " | "
            << hop.rate / peer.rate << " | " << hop.p50 << " | " << hop.p99 << " |\n";
}

}  // namespace
}  // namespace pipewright
