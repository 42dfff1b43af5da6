// bench/events: the events pipeline's REST → topic path and WebSocket fan-out, each against a
// peer with the same guarantee in the same run, on the same broker and cores.
//
//   rest_topic:  wrk POSTs {"name":"bench"} to events-api's POST /events (async: 202 once Kafka
//                acknowledged, acks=all, idempotent) against bench_rest_peer (Beast, POST →
//                produce → 202 on the ack). Requests per second, p50 / p99 from wrk.
//   fanout_N:    N WebSocket clients on events-gateway's /consume-events (clientQueue above the
//                burst: the rate is measured, not the slow-client policy); E events produced to
//                its topic, timed from the first produce until every client has every event,
//                against bench_broadcaster (Beast, each consumed message written to the N
//                sockets, commit after the writes). Events per second to each client; latency
//                per frame from its produce to its arrival at a client.
//
// Usage: build/bench/events/events_bench [--gtest_filter=EventsBench.Fanout]; knobs
// PIPEWRIGHT_BENCH_SECONDS (10 per wrk run), PIPEWRIGHT_BENCH_CONNECTIONS (32),
// PIPEWRIGHT_BENCH_ROUNDS (5; peer then ours in each), PIPEWRIGHT_BENCH_EVENTS (per fan-out run;
// default 500k frames / clients, within 2k..50k), PIPEWRIGHT_BENCH_FANOUT (1,10,100). Loopback
// only; each phase has a deadline.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

#include "bench/support/pipeline_bench.h"
#include "bench/support/wrk.h"
#include "pkg/api/manifest.h"
#include "pkg/proc/net.h"
#include "tests/support/kafka_suite.h"
#include "tests/support/websocket_client.h"
#include "tests/support/workers.h"

namespace pipewright {
namespace {

using bench::Clock;
using nlohmann::json;
using namespace std::chrono_literals;

class EventsBench : public testing::KafkaSuite {
 protected:
  int rounds_ = bench::env_int("PIPEWRIGHT_BENCH_ROUNDS", 5);
  api::Pipeline pipeline_ =
      api::load({testing::source_dir() / "examples" / "events.yaml"}).pipelines.at(0);
};

TEST_F(EventsBench, RestTopic) {
  const int seconds = bench::env_int("PIPEWRIGHT_BENCH_SECONDS", 10);
  const int connections = bench::env_int("PIPEWRIGHT_BENCH_CONNECTIONS", 32);
  const auto bootstrap = broker->bootstrap();
  bench::create_topics(bootstrap, {"bench.rest.topic"}, 4);
  bench::Peer peer("bench_rest_peer", {bootstrap, "bench.rest.topic"}, true);
  testing::PipelineRun run(pipeline_, bootstrap, "bench-rest-topic");
  run.create_topics();
  auto& api = run.start("api");

  const auto script = testing::component_dir("wrk") / "post.lua";
  std::ofstream(script) << "wrk.method = \"POST\"\nwrk.body = '{\"name\":\"bench\"}'\n"
                           "wrk.headers[\"Content-Type\"] = \"application/json\"\n";
  // Warm-up: connections, the producers' ids, the broker's first appends.
  bench::run_wrk(peer.url() + "/events", 2, connections, 2, script);
  bench::run_wrk(api.url() + "/events", 2, connections, 2, script);
  std::vector<double> ours, theirs, ratios, p50, p99, peer_p50, peer_p99;
  for (int r = 0; r < rounds_; ++r) {
    const auto p = bench::run_wrk(peer.url() + "/events", seconds, connections, 2, script);
    const auto o = bench::run_wrk(api.url() + "/events", seconds, connections, 2, script);
    ours.push_back(o.rps);
    theirs.push_back(p.rps);
    ratios.push_back(o.rps / p.rps);
    p50.push_back(o.p50_ms);
    p99.push_back(o.p99_ms);
    peer_p50.push_back(p.p50_ms);
    peer_p99.push_back(p.p99_ms);
    std::printf(
        "rest_topic round %d: events-api %.0f req/s (p99 %.1f ms, %ld socket errors), "
        "peer %.0f req/s (p99 %.1f ms, %ld socket errors)\n",
        r + 1, o.rps, o.p99_ms, o.socket_errors, p.rps, p.p99_ms, p.socket_errors);
    EXPECT_EQ(o.socket_errors, 0);
  }
  bench::record({{"name", "rest_topic"},
                 {"ours", bench::median(ours)},
                 {"peer", bench::median(theirs)},
                 {"ratio", bench::median(ratios)},
                 {"p50_ms", bench::median(p50)},
                 {"p99_ms", bench::median(p99)},
                 {"peer_p50_ms", bench::median(peer_p50)},
                 {"peer_p99_ms", bench::median(peer_p99)},
                 {"unit", "requests/s"},
                 {"connections", connections},
                 {"rounds", rounds_},
                 {"round_ratios", ratios}});
}

// The nanoseconds since the clock's epoch written into an event, read back from a frame with
// a plain search (no JSON parse: 100 clients' threads share the cores with the servers).
constexpr std::string_view kSent = "\"sentns\":";

long long sent_ns(const std::string& frame) {
  const auto at = frame.find(kSent);
  return at == std::string::npos ? -1 : std::atoll(frame.c_str() + at + kSent.size());
}

struct FanResult {
  double per_client = 0;  // events per second that each client received
  std::vector<double> latency_ms;
};

// N clients on `url`; warm-up events until each has one (the server consumes and knows every
// client), then `events` events produced to `topic`, until every client has all of them.
FanResult fan_round(const std::string& bootstrap, const std::string& url, const std::string& topic,
                    int clients, int events) {
  struct Client {
    std::atomic<long long> got{0}, warm{0};
    std::vector<double> latency_ms;
    std::unique_ptr<testing::WebSocketClient> ws;
  };
  std::vector<std::unique_ptr<Client>> cs;
  for (int i = 0; i < clients; ++i) {
    auto c = std::make_unique<Client>();
    c->latency_ms.reserve(static_cast<std::size_t>(events));
    testing::WebSocketClientOptions o;
    o.on_message = [c = c.get()](const std::string& frame) {
      const auto sent = sent_ns(frame);
      if (sent < 0) {
        ++c->warm;
        return;
      }
      const auto now = Clock::now().time_since_epoch().count();
      c->latency_ms.push_back(static_cast<double>(now - sent) / 1e6);
      ++c->got;  // after the push: the reader of latency_ms waits for got
    };
    c->ws = std::make_unique<testing::WebSocketClient>(url, o);
    cs.push_back(std::move(c));
  }
  auto p = bench::producer(bootstrap);
  const auto all = [&](const auto& counter, long long want) {
    return std::all_of(cs.begin(), cs.end(), [&](const auto& c) { return (*c).*counter >= want; });
  };
  const bool warm = proc::poll_until(
      60s,
      [&] {
        bench::produce(
            *p, topic, "warm",
            R"({"id":"warm","type":"t","time":"2026-11-23T00:00:00.000Z","source":"bench",)"
            R"("specversion":"1.0","data":{}})");
        p->flush(10000);
        return all(&Client::warm, 1);
      },
      200ms);
  if (!warm) throw std::runtime_error(url + ": warm-up events did not reach every client");

  const std::string padding(150, 'x');
  const auto start = Clock::now();
  for (int i = 0; i < events; ++i) {
    const json e = {{"id", "b" + std::to_string(i)},
                    {"specversion", "1.0"},
                    {"type", "pipewright.event.enriched"},
                    {"time", "2026-11-23T00:00:00.000Z"},
                    {"source", "bench"},
                    {"data",
                     {{"seq", i},
                      {"word", "abacaxi"},
                      {"pad", padding},
                      {"sentns", Clock::now().time_since_epoch().count()}}}};
    bench::produce(*p, topic, std::to_string(i), e.dump());
    p->poll(0);
  }
  p->flush(30000);
  const bool done = proc::poll_until(
      180s, [&] { return all(&Client::got, events); }, 5ms);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (!done) throw std::runtime_error(url + ": not every client got every event in 180 s");
  FanResult r;
  r.per_client = events / seconds;
  for (auto& c : cs)
    r.latency_ms.insert(r.latency_ms.end(), c->latency_ms.begin(), c->latency_ms.end());
  // The clients are dropped without a close handshake (their destructors close the sockets):
  // the peer never reads, and a close() waits 5 s per client for an answer.
  cs.clear();
  return r;
}

TEST_F(EventsBench, Fanout) {
  const auto sizes = bench::env_ints("PIPEWRIGHT_BENCH_FANOUT", {1, 10, 100});
  // Events per run: PIPEWRIGHT_BENCH_EVENTS, else about 500k frames in all per run (50k events
  // to 1 or 10 clients, 5k to 100), so even the fastest run lasts over a second.
  const int fixed = bench::env_int("PIPEWRIGHT_BENCH_EVENTS", 0);
  const auto events_for = [fixed](int clients) {
    return fixed > 0 ? fixed : std::clamp(500000 / std::max(clients, 1), 2000, 50000);
  };
  int most = 0;
  for (const int n : sizes)
    most = std::max(most, events_for(n));
  const auto bootstrap = broker->bootstrap();
  bench::create_topics(bootstrap, {"bench.fanout.peer"}, 4);
  bench::Peer peer("bench_broadcaster", {bootstrap, "bench.fanout.peer", "bench-broadcaster"},
                   true);
  testing::PipelineRun run(pipeline_, bootstrap, "bench-fanout");
  // Nobody is dropped in a burst: the fan-out rate, not the slow-client policy.
  run.set_config("gateway", {{"topic", "enriched"}, {"clientQueue", most + 1000}});
  run.create_topics();
  auto& gw = run.start("gateway");
  const std::string ours_url = "ws://127.0.0.1:" + std::to_string(gw.http_port) + "/consume-events";
  const std::string peer_url = "ws://127.0.0.1:" + std::to_string(peer.port()) + "/";

  // Rounds of peer then ours per size, so a busy moment of the shared machine hits a round.
  for (const int n : sizes) {
    const int events = events_for(n);
    std::vector<double> ours, theirs, ratios, latency, peer_latency;
    for (int r = 0; r < rounds_; ++r) {
      const auto p = fan_round(bootstrap, peer_url, "bench.fanout.peer", n, events);
      const auto o = fan_round(bootstrap, ours_url, run.topic("enriched"), n, events);
      ours.push_back(o.per_client);
      theirs.push_back(p.per_client);
      ratios.push_back(o.per_client / p.per_client);
      latency.insert(latency.end(), o.latency_ms.begin(), o.latency_ms.end());
      peer_latency.insert(peer_latency.end(), p.latency_ms.begin(), p.latency_ms.end());
      std::printf("fanout_%d round %d: events-gateway %.0f events/s per client, peer %.0f\n", n,
                  r + 1, o.per_client, p.per_client);
    }
    bench::record({{"name", "fanout_" + std::to_string(n)},
                   {"ours", bench::median(ours)},
                   {"peer", bench::median(theirs)},
                   {"ratio", bench::median(ratios)},
                   {"p50_ms", bench::percentile(latency, 0.5)},
                   {"p99_ms", bench::percentile(latency, 0.99)},
                   {"peer_p50_ms", bench::percentile(peer_latency, 0.5)},
                   {"peer_p99_ms", bench::percentile(peer_latency, 0.99)},
                   {"unit", "events/s per client"},
                   {"clients", n},
                   {"count", events},
                   {"rounds", rounds_},
                   {"round_ratios", ratios},
                   {"frames_per_s", bench::median(ours) * n},
                   {"peer_frames_per_s", bench::median(theirs) * n}});
  }
}

}  // namespace
}  // namespace pipewright
