// bench/events: (1) WebSocket fan-out: events per second that events-gateway delivers to every
// one of 1, 10 and 100 /consume-events clients (and messages per second in all), against the
// peer in the same run: a raw librdkafka consumer reading the same topic from the start. (2)
// POST /events through events-api: async (202 once Kafka acked) and sync (?wait=, 200 once
// enrich has processed it) requests per second, with p50 and p99 latency.
//
// Usage: PIPEWRIGHT_BENCH_EVENTS=10000 PIPEWRIGHT_BENCH_POSTS=2000
// build-events/bench/events/events_bench Loopback only; bounded by the counts above (defaults) and
// a 120 s deadline per phase.

#include <gtest/gtest.h>
#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <iostream>
#include <thread>

#include "pkg/api/manifest.h"
#include "pkg/local/kafka_broker.h"
#include "pkg/proc/net.h"
#include "tests/support/keepalive_client.h"
#include "tests/support/suite_logs.h"
#include "tests/support/websocket_client.h"
#include "tests/support/workers.h"

namespace pipewright {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;
using namespace std::chrono_literals;

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::stoi(v) : fallback;
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

std::unique_ptr<RdKafka::Producer> raw_producer(const std::string& bootstrap) {
  std::string err;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  conf->set("bootstrap.servers", bootstrap, err);
  conf->set("enable.idempotence", "true", err);
  conf->set("linger.ms", "5", err);
  return std::unique_ptr<RdKafka::Producer>(RdKafka::Producer::create(conf.get(), err));
}

// The peer: how fast a bare librdkafka consumer reads `count` messages of the topic.
double raw_consume_rate(const std::string& bootstrap, const std::string& topic, long long count) {
  std::string err;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  conf->set("bootstrap.servers", bootstrap, err);
  conf->set("group.id", "bench-raw-" + std::to_string(Clock::now().time_since_epoch().count()),
            err);
  conf->set("enable.auto.commit", "false", err);
  conf->set("auto.offset.reset", "earliest", err);
  std::unique_ptr<RdKafka::KafkaConsumer> c(RdKafka::KafkaConsumer::create(conf.get(), err));
  c->subscribe({topic});
  long long got = 0;
  Clock::time_point first{};
  const auto deadline = Clock::now() + 120s;
  while (got < count && Clock::now() < deadline) {
    std::unique_ptr<RdKafka::Message> m(c->consume(200));
    if (m->err() != RdKafka::ERR_NO_ERROR) continue;
    if (got == 0) first = Clock::now();
    ++got;
  }
  const double s = seconds_since(first);
  c->close();
  return got > 1 ? static_cast<double>(got - 1) / s : 0;
}

TEST(EventsBench, FanOutAndPosts) {
  const int events = env_int("PIPEWRIGHT_BENCH_EVENTS", 10000);
  const int posts = env_int("PIPEWRIGHT_BENCH_POSTS", 2000);

  auto broker = local::KafkaBroker::start({testing::component_dir("kafka")});
  auto pipeline = api::load({testing::source_dir() / "examples" / "events.yaml"}).pipelines.at(0);
  testing::PipelineRun run(pipeline, broker->bootstrap(), "bench");
  // Nobody is dropped in a burst of `events`: the fan-out rate, not the slow-client policy.
  run.set_config("gateway", {{"topic", "enriched"}, {"clientQueue", events + 1}});
  run.create_topics();
  auto& gw = run.start("gateway");
  const auto topic = run.topic("enriched");
  const std::string ws = "ws://127.0.0.1:" + std::to_string(gw.http_port) + "/consume-events";

  // (1) Fan-out.
  auto producer = raw_producer(broker->bootstrap());
  const std::string padding(150, 'x');
  struct FanOut {
    int clients;
    double seconds;
    double produce_seconds;  // until the last event was acknowledged by Kafka
  };
  std::vector<FanOut> fan;
  int produced = 1;
  {  // the producer connected and warm before anything is timed
    std::string warm = R"({"id":"warm","type":"t","time":"t","source":"bench","data":{}})";
    producer->produce(topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                      warm.data(), warm.size(), nullptr, 0, 0, nullptr, nullptr);
    producer->flush(30000);
  }
  for (const int n : {1, 10, 100}) {
    std::atomic<long long> received{0};
    std::vector<std::unique_ptr<testing::WebSocketClient>> clients;
    for (int i = 0; i < n; ++i) {
      testing::WebSocketClientOptions o;
      o.on_message = [&](const std::string&) { received.fetch_add(1); };
      clients.push_back(std::make_unique<testing::WebSocketClient>(ws, o));
    }
    ASSERT_TRUE(proc::poll_until(30s, [&] {
      return testing::metric_value(gw.metrics_url(), "pipewright_websocket_clients") == n;
    }));
    const auto start = Clock::now();
    for (int i = 0; i < events; ++i) {
      const json e = {{"id", "b" + std::to_string(produced + i)},
                      {"type", "pipewright.event.enriched"},
                      {"time", "2026-11-23T00:00:00.000Z"},
                      {"source", "bench"},
                      {"data", {{"seq", i}, {"word", "abacaxi"}, {"pad", padding}}}};
      const auto v = e.dump();
      while (producer->produce(topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                               const_cast<char*>(v.data()), v.size(), nullptr, 0, 0, nullptr,
                               nullptr) == RdKafka::ERR__QUEUE_FULL)
        producer->poll(10);
    }
    producer->flush(30000);
    const double produce_seconds = seconds_since(start);
    produced += events;
    const auto want = static_cast<long long>(events) * n;
    ASSERT_TRUE(proc::poll_until(
        120s, [&] { return received.load() >= want; }, 5ms))
        << received.load() << " of " << want;
    fan.push_back({n, seconds_since(start), produce_seconds});
    for (auto& c : clients)
      c->close();
  }
  const double raw = raw_consume_rate(broker->bootstrap(), topic, produced);

  // (2) POST /events through events-api (enrich running), 4 keep-alive clients.
  auto& api = run.start("api");
  run.start("enrich");
  run.start("enrich");
  struct Posts {
    std::string mode;
    int ok = 0;
    double seconds = 0;
    std::vector<double> ms;
  };
  const auto post = [&](const std::string& query, int expect, int count) {
    Posts p;
    p.mode = query.empty() ? "async" : "sync " + query;
    std::mutex mu;
    std::atomic<int> next{0};
    const auto start = Clock::now();
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&] {
        testing::KeepAliveClient client(api.http_port, 30s);
        std::vector<double> mine;
        int ok = 0;
        while (next.fetch_add(1) < count) {
          const auto t0 = Clock::now();
          const auto r =
              client.request("POST", "/events" + query, R"({"name":"bench"})", "application/json");
          mine.push_back(seconds_since(t0) * 1000);
          if (r.status == expect) ++ok;
        }
        const std::lock_guard lock(mu);
        p.ms.insert(p.ms.end(), mine.begin(), mine.end());
        p.ok += ok;
      });
    }
    for (auto& t : threads)
      t.join();
    p.seconds = seconds_since(start);
    return p;
  };
  post("", 202, 100);  // warm-up: connections, the enrich group settles
  std::vector<Posts> results{post("", 202, posts), post("?wait=10s", 200, posts / 4)};

  std::cout << "\n== bench/events (" << events << " events per fan-out run) ==\n";
  std::cout << "raw librdkafka consumer: " << static_cast<long long>(raw) << " msg/s\n";
  for (const auto& f : fan) {
    const double per_client = events / f.seconds;
    std::cout << f.clients << " client(s): " << static_cast<long long>(per_client)
              << " events/s to each, " << static_cast<long long>(per_client * f.clients)
              << " messages/s in all; " << per_client / raw
              << "x the raw consume rate (the events were written to Kafka in " << f.produce_seconds
              << " s, the last one delivered at " << f.seconds << " s)\n";
  }
  for (const auto& r : results) {
    std::cout << "POST /events " << r.mode << ": " << static_cast<long long>(r.ok / r.seconds)
              << " req/s (" << r.ok << " of " << r.ms.size() << " answered as expected), p50 "
              << percentile(r.ms, 0.5) << " ms, p99 " << percentile(r.ms, 0.99) << " ms\n";
    EXPECT_EQ(r.ok, static_cast<int>(r.ms.size())) << r.mode;
  }
}

}  // namespace
}  // namespace pipewright
