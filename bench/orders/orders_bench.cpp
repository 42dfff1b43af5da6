// bench/orders: the orders pipeline's Kafka hop and REST → decision path, each against a peer
// with the same delivery guarantee (acks=all, idempotent producer, an input committed only
// after its outputs are acknowledged) in the same run, on the same broker and cores.
//
//   hop:           N order envelopes produced to `orders` while fraud runs; rate = N / (first
//                  produce → last decision seen on orders-valid / orders-rejected), latency per
//                  order from its produce to its decision, fraud's CPU per 10k orders, and
//                  where the machine's CPU went meanwhile (per 10k: the broker's, the bench's
//                  own, the rest, the idle cores'; `broker_cpu_per_10k_ms`, `idle_fraction`,
//                  the same with `peer_` for the relay).
//                  Peer: bench_relay (consume → produce → commit after the ack) between two
//                  topics of the same shape.
//   hop_enrich:    the same against enrich of examples/events.yaml (events → enriched); the
//                  envelopes carry the order as their data, which enrich keeps.
//   rest_decision: N orders POSTed to orders-api by C keep-alive clients → orders → fraud →
//                  decision; latency from POST to decision. Peer: bench_rest_peer (Beast,
//                  POST → produce → 202 on the ack) → bench_relay → the output topic.
//
// Usage: build/bench/orders/orders_bench [--gtest_filter=OrdersBench.Hop]; knobs
// PIPEWRIGHT_BENCH_ORDERS (20000 per path and round), PIPEWRIGHT_BENCH_CONCURRENCY (32 REST
// clients), PIPEWRIGHT_BENCH_ROUNDS (5: peer then ours in each round; medians reported).
// Bounded: N orders per path and round, 5 minutes per phase at most, 127.0.0.1 only.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "bench/support/pipeline_bench.h"
#include "bench/support/wrk.h"
#include "pkg/api/manifest.h"
#include "pkg/event/envelope.h"
#include "tests/support/kafka_suite.h"
#include "tests/support/keepalive_client.h"
#include "tests/support/workers.h"

namespace pipewright {
namespace {

using bench::Clock;
using nlohmann::json;

constexpr int kPartitions = 3;  // every topic of examples/orders.yaml
const auto kLimit = std::chrono::seconds(300);

// Mostly valid orders from distinct customers, one in five over the amount limit.
std::vector<json> orders(int n, const std::string& prefix) {
  std::vector<json> out;
  for (int i = 0; i < n; ++i) {
    const double price = i % 5 == 0 ? 20000.0 : 12.5;
    out.push_back({{"id", prefix + std::to_string(i)},
                   {"customer", prefix + "customer-" + std::to_string(i)},
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

// The same order as orders-api writes it: a binary-mode CloudEvent (ce_* headers, the data as
// the value), built by pkg/event as the API's own message is.
void produce_order(RdKafka::Producer& p, const std::string& topic, const json& order, bool binary) {
  if (!binary) {
    bench::produce(p, topic, order["customer"], envelope(order));
    return;
  }
  auto data = order;
  const auto now = event::now_rfc3339();
  data["receivedAt"] = now;
  const event::Envelope created{order["id"], "pipewright.order.created", now, "bench/orders/api",
                                std::move(data)};
  bench::produce(p, topic, order["customer"], event::kafka_value(created),
                 event::kafka_headers(created));
}

// Produces every envelope to `topic` as fast as librdkafka takes them, noting when each left.
// A warm-up order goes first and is acknowledged before the clock starts (`started` is called
// then): a new idempotent producer holds its messages until the broker gives it a producer id
// (~0.5 s).
std::map<std::string, Clock::time_point> produce_all(
    const std::string& bootstrap, const std::string& topic, const std::vector<json>& batch,
    Clock::time_point& start, const std::function<void()>& started, bool binary) {
  auto p = bench::producer(bootstrap);
  const auto warm = orders(1, "warm-producer-").front();
  produce_order(*p, topic, warm, binary);
  p->flush(30000);
  started();
  start = Clock::now();
  std::map<std::string, Clock::time_point> sent;
  for (const auto& o : batch) {
    sent[o["id"]] = Clock::now();
    produce_order(*p, topic, o, binary);
    p->poll(0);
  }
  p->flush(30000);
  return sent;
}

// C clients POST the orders to `port` (one keep-alive connection each); each must answer 202.
std::map<std::string, Clock::time_point> post_all(int port, const std::string& path,
                                                  const std::vector<json>& batch, int clients,
                                                  Clock::time_point& start) {
  std::mutex mutex;
  std::map<std::string, Clock::time_point> sent;
  std::atomic<std::size_t> next{0};
  std::atomic<int> failed{0};
  start = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&] {
      testing::KeepAliveClient client(port, std::chrono::seconds(30));
      for (std::size_t i; (i = next.fetch_add(1)) < batch.size();) {
        const auto& o = batch[i];
        const auto body = o.dump();
        {
          const std::lock_guard lock(mutex);
          sent[o["id"]] = Clock::now();
        }
        if (client.request("POST", path, body, "application/json").status != 202) ++failed;
      }
    });
  }
  for (auto& t : threads)
    t.join();
  if (failed > 0)
    throw std::runtime_error(std::to_string(failed.load()) + " POSTs not answered 202");
  return sent;
}

struct Side {
  std::vector<double> rates, cpu_per_10k;
  std::vector<double> latency_ms;
  // Per round (hops): bench::CpuWindow's shares per 10k messages, the step's or relay's own
  // under "step", and the fraction of the cores nobody used.
  std::map<std::string, std::vector<double>> share_per_10k;
  std::vector<double> idle_fraction;
  void add(const bench::Rate& r) {
    rates.push_back(r.rate);
    latency_ms.insert(latency_ms.end(), r.latency_ms.begin(), r.latency_ms.end());
  }
};

// Medians over rounds; the ratio is the median of the rounds' own ratios (a busy moment of
// the shared machine hits a round, not a side).
json summary(const std::string& name, const Side& ours, const Side& peer, const std::string& unit,
             int n) {
  std::vector<double> ratios;
  for (std::size_t i = 0; i < ours.rates.size() && i < peer.rates.size(); ++i)
    ratios.push_back(ours.rates[i] / peer.rates[i]);
  json r = {{"name", name},
            {"ours", bench::median(ours.rates)},
            {"peer", bench::median(peer.rates)},
            {"ratio", bench::median(ratios)},
            {"p50_ms", bench::percentile(ours.latency_ms, 0.5)},
            {"p99_ms", bench::percentile(ours.latency_ms, 0.99)},
            {"peer_p50_ms", bench::percentile(peer.latency_ms, 0.5)},
            {"peer_p99_ms", bench::percentile(peer.latency_ms, 0.99)},
            {"unit", unit},
            {"count", n},
            {"rounds", ours.rates.size()},
            {"round_ratios", ratios}};
  if (!ours.cpu_per_10k.empty()) {
    r["cpu_per_10k_ms"] = bench::median(ours.cpu_per_10k);
    r["peer_cpu_per_10k_ms"] = bench::median(peer.cpu_per_10k);
  }
  for (const auto& [prefix, side] : {std::pair{"", &ours}, std::pair{"peer_", &peer}}) {
    for (const auto& [share, values] : side->share_per_10k) {
      if (share != "step")
        r[std::string(prefix) + share + "_cpu_per_10k_ms"] = bench::median(values);
    }
    if (!side->idle_fraction.empty())
      r[std::string(prefix) + "idle_fraction"] = bench::median(side->idle_fraction);
  }
  return r;
}

class OrdersBench : public testing::KafkaSuite {
 protected:
  int n_ = bench::env_int("PIPEWRIGHT_BENCH_ORDERS", 20000);
  int rounds_ = bench::env_int("PIPEWRIGHT_BENCH_ROUNDS", 5);
  int clients_ = bench::env_int("PIPEWRIGHT_BENCH_CONCURRENCY", 32);
  api::Pipeline pipeline_ =
      api::load({testing::source_dir() / "examples" / "orders.yaml"}).pipelines.at(0);
};

// Times one batch produced to `in` until every id is seen on `out` and adds it to `side` (none:
// a warm-up), with where the machine's CPU went from the first produce until then: `pid`'s (the
// step or relay), the broker's, the bench's own (producer, watcher), the rest and the idle cores.
void hop_round(const std::string& bootstrap, const std::string& in,
               const std::vector<std::string>& out, const std::string& prefix, int n, pid_t pid,
               pid_t broker, Side* side, bool binary) {
  bench::Watcher watcher(bootstrap, out, prefix, static_cast<std::size_t>(n));
  Clock::time_point start;
  std::optional<bench::CpuWindow> window;
  const auto sent = produce_all(
      bootstrap, in, orders(n, prefix), start,
      [&] {
        window.emplace(std::map<std::string, pid_t>{{"step", pid}, {"broker", broker}});
      },
      binary);
  if (!watcher.wait(kLimit)) throw std::runtime_error(prefix + ": not every message arrived");
  const auto cpu = window->finish();
  if (side == nullptr) return;
  side->add(bench::measure(sent, watcher, start));
  for (const auto& [share, seconds] : cpu)
    side->share_per_10k[share].push_back(seconds * 1000 * 10000 / n);
  side->cpu_per_10k.push_back(side->share_per_10k["step"].back());
  side->idle_fraction.push_back(cpu.at("machine") > 0 ? cpu.at("idle") / cpu.at("machine") : 0);
}

// One round's CPU per 10k messages by share, for the round line.
std::string shares(const Side& side) {
  std::string out;
  for (const auto* share : {"step", "broker", "bench", "other", "idle", "machine"}) {
    char item[64];
    std::snprintf(item, sizeof item, "%s%s %.0f", out.empty() ? "" : ", ", share,
                  side.share_per_10k.at(share).back());
    out += item;
  }
  return out;
}

// Rounds of the relay then `step` of `pipeline` (from `in` to `out`, logical names), recorded
// as `name` with CPU per 10k messages of both. `side_output` (fraud's notifications): the step
// also writes one message per input there, nobody waits for it; the peer then copies each message
// to a second topic as well, so both hand Kafka as many messages, and a one-copy relay runs
// beside it for reference (`peer_one_copy`, `ratio_one_copy`). `binary`: the input is what
// orders-api writes (binary-mode CloudEvents) instead of the old envelope, and the relays copy
// each message's headers too.
void hop_bench(const std::string& name, const std::string& bootstrap, pid_t broker,
               api::Pipeline pipeline, const std::string& step, const std::string& in,
               const std::vector<std::string>& out, int n, int rounds, bool side_output = false,
               bool binary = false) {
  const auto relay_in = "bench." + name + ".in", relay_out = "bench." + name + ".out";
  const auto relay_also = "bench." + name + ".also";
  bench::create_topics(bootstrap, {relay_in, relay_out, relay_also}, kPartitions);
  std::vector<std::string> relay_args{bootstrap, relay_in, relay_out, "bench-" + name + "-relay"};
  if (side_output) relay_args.push_back(relay_also);
  if (binary) relay_args.insert(relay_args.begin(), "--headers");
  bench::Peer relay("bench_relay", relay_args);
  std::optional<bench::Peer> single;
  const auto single_in = "bench." + name + ".in1", single_out = "bench." + name + ".out1";
  if (side_output) {
    bench::create_topics(bootstrap, {single_in, single_out}, kPartitions);
    std::vector<std::string> single_args{bootstrap, single_in, single_out,
                                         "bench-" + name + "-relay1"};
    if (binary) single_args.insert(single_args.begin(), "--headers");
    single.emplace("bench_relay", single_args);
  }
  testing::PipelineRun run(std::move(pipeline), bootstrap, "bench-" + name);
  run.create_topics();
  auto& worker = run.start(step);
  std::vector<std::string> outputs;
  for (const auto& o : out)
    outputs.push_back(run.topic(o));
  // Warm-up: both have joined their groups once one message made each trip.
  hop_round(bootstrap, relay_in, {relay_out}, "warm-relay-", 1, relay.pid(), broker, nullptr,
            binary);
  if (single)
    hop_round(bootstrap, single_in, {single_out}, "warm-relay1-", 1, single->pid(), broker, nullptr,
              binary);
  hop_round(bootstrap, run.topic(in), outputs, "warm-hop-", 1, worker.process.pid(), broker,
            nullptr, binary);

  Side ours, peer, one;
  for (int r = 0; r < rounds; ++r) {
    const auto tag = std::to_string(r) + "-";
    hop_round(bootstrap, relay_in, {relay_out}, "relay-" + tag, n, relay.pid(), broker, &peer,
              binary);
    if (single)
      hop_round(bootstrap, single_in, {single_out}, "relay1-" + tag, n, single->pid(), broker, &one,
                binary);
    hop_round(bootstrap, run.topic(in), outputs, "hop-" + tag, n, worker.process.pid(), broker,
              &ours, binary);
    std::printf("%s round %d: %s %.0f/s (CPU %.0f ms per 10k), relay %.0f/s (CPU %.0f ms per 10k)",
                name.c_str(), r + 1, step.c_str(), ours.rates.back(), ours.cpu_per_10k.back(),
                peer.rates.back(), peer.cpu_per_10k.back());
    if (single)
      std::printf(", one-copy relay %.0f/s (CPU %.0f ms per 10k)", one.rates.back(),
                  one.cpu_per_10k.back());
    std::printf("\n");
    // Where the machine's CPU went (ms per 10k messages; "machine" = wall time × cores).
    std::printf("%s round %d CPU per 10k: %s [%s]; relay [%s]", name.c_str(), r + 1, step.c_str(),
                shares(ours).c_str(), shares(peer).c_str());
    if (single) std::printf("; one-copy relay [%s]", shares(one).c_str());
    std::printf("\n");
  }
  auto result = summary(name, ours, peer, "messages/s", n);
  if (single) {
    const auto vs_one = summary(name, ours, one, "messages/s", n);
    result["peer_one_copy"] = vs_one["peer"];
    result["ratio_one_copy"] = vs_one["ratio"];
    result["peer_one_copy_cpu_per_10k_ms"] = vs_one["peer_cpu_per_10k_ms"];
    for (const auto& [key, value] : vs_one.items()) {
      if (key.starts_with("peer_") &&
          (key.ends_with("_cpu_per_10k_ms") || key.ends_with("_fraction")) &&
          key != "peer_cpu_per_10k_ms")
        result["peer_one_copy_" + key.substr(5)] = value;
    }
  }
  bench::record(result);
}

// fraud: parse, rules, a decision and a notification per order, its decision log fsynced.
TEST_F(OrdersBench, Hop) {
  hop_bench("hop", broker->bootstrap(), broker->pid(), pipeline_, "fraud", "orders",
            {"orders-valid", "orders-rejected"}, n_, rounds_, true);
}

// fraud on what orders-api writes (binary-mode CloudEvents: the attributes in ce_* headers, the
// order as the value) against relays that copy the headers too.
TEST_F(OrdersBench, HopBinary) {
  hop_bench("hop_binary", broker->bootstrap(), broker->pid(), pipeline_, "fraud", "orders",
            {"orders-valid", "orders-rejected"}, n_, rounds_, true, true);
}

// enrich (examples/events.yaml): parse, a dictionary word, one enriched event per event.
TEST_F(OrdersBench, HopEnrich) {
  auto events = api::load({testing::source_dir() / "examples" / "events.yaml"}).pipelines.at(0);
  hop_bench("hop_enrich", broker->bootstrap(), broker->pid(), events, "enrich", "events",
            {"enriched"}, n_, rounds_);
}

TEST_F(OrdersBench, RestDecision) {
  const auto bootstrap = broker->bootstrap();
  bench::create_topics(bootstrap, {"bench.chain.in", "bench.chain.out"}, kPartitions);
  bench::Peer relay("bench_relay",
                    {bootstrap, "bench.chain.in", "bench.chain.out", "bench-chain-relay"});
  bench::Peer rest("bench_rest_peer", {bootstrap, "bench.chain.in"}, true);
  testing::PipelineRun run(pipeline_, bootstrap, "bench-rest");
  run.create_topics();
  auto& api = run.start("api");
  run.start("fraud");
  const std::vector<std::string> decided = {run.topic("orders-valid"),
                                            run.topic("orders-rejected")};

  const auto round = [&](int port, const std::vector<std::string>& out, const std::string& prefix,
                         int n, int clients) {
    bench::Watcher watcher(bootstrap, out, prefix, static_cast<std::size_t>(n));
    Clock::time_point start;
    const auto sent = post_all(port, "/orders", orders(n, prefix), clients, start);
    if (!watcher.wait(kLimit)) throw std::runtime_error(prefix + ": not every decision arrived");
    return bench::measure(sent, watcher, start);
  };
  round(rest.port(), {"bench.chain.out"}, "warm-chain-", 1, 1);
  round(api.http_port, decided, "warm-rest-", 1, 1);

  Side ours, peer;
  for (int r = 0; r < rounds_; ++r) {
    const auto tag = std::to_string(r) + "-";
    peer.add(round(rest.port(), {"bench.chain.out"}, "chain-" + tag, n_, clients_));
    ours.add(round(api.http_port, decided, "rest-" + tag, n_, clients_));
    std::printf("rest_decision round %d: orders-api → fraud %.0f/s, peer chain %.0f/s\n", r + 1,
                ours.rates.back(), peer.rates.back());
  }
  bench::record(summary("rest_decision", ours, peer, "orders/s", n_));
}

}  // namespace
}  // namespace pipewright
