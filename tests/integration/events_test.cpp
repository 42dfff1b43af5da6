// The events pipeline end to end on a real Kafka: events-api, enrich and events-gateway run as
// processes wired exactly as the plan wires them (examples/events.yaml).

#include <gtest/gtest.h>
#include <librdkafka/rdkafkacpp.h>

#include <map>
#include <set>

#include "pkg/api/manifest.h"
#include "pkg/proc/net.h"
#include "pkg/proc/run.h"
#include "pkg/workers/events_model.h"
#include "tests/support/http_client.h"
#include "tests/support/kafka_suite.h"
#include "tests/support/websocket_client.h"
#include "tests/support/workers.h"

namespace pipewright::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

const std::vector<std::string>& dictionary() {
  static const auto words = workers::events::load_dictionary("/usr/share/dict/brazilian");
  return words;
}

api::Pipeline events_pipeline() {
  return api::load({source_dir() / "examples" / "events.yaml"}).pipelines.at(0);
}

std::string ws_url(const WorkerProcess& w, const std::string& path) {
  return "ws://127.0.0.1:" + std::to_string(w.http_port) + path;
}

// Messages straight onto a topic, each to a chosen partition (the gateway's input, without the
// rest of the pipeline in the way).
class RawProducer {
 public:
  explicit RawProducer(const std::string& bootstrap) {
    std::string err;
    std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
    conf->set("bootstrap.servers", bootstrap, err);
    conf->set("enable.idempotence", "true", err);  // no reordering on a retry
    conf->set("linger.ms", "5", err);
    producer_.reset(RdKafka::Producer::create(conf.get(), err));
    if (!producer_) throw std::runtime_error("producer: " + err);
  }
  void send(const std::string& topic, int partition, const std::string& key,
            const std::string& value) {
    for (;;) {
      const auto code = producer_->produce(topic, partition, RdKafka::Producer::RK_MSG_COPY,
                                           const_cast<char*>(value.data()), value.size(),
                                           key.data(), key.size(), 0, nullptr, nullptr);
      if (code == RdKafka::ERR__QUEUE_FULL) {
        producer_->poll(100);
        continue;
      }
      if (code != RdKafka::ERR_NO_ERROR) throw std::runtime_error(RdKafka::err2str(code));
      return;
    }
  }
  bool flush() { return producer_->flush(30000) == RdKafka::ERR_NO_ERROR; }

 private:
  std::unique_ptr<RdKafka::Producer> producer_;
};

class EventsTest : public KafkaSuite {
 protected:
  std::unique_ptr<PipelineRun> make_run(const std::string& ns) {
    auto run = std::make_unique<PipelineRun>(events_pipeline(), broker->bootstrap(), ns);
    run->create_topics();
    return run;
  }
  static HttpResult post(const WorkerProcess& api, const std::string& body,
                         const std::string& query = "") {
    return http_request("POST", api.url() + "/events" + query, body, "application/json");
  }
  static std::string post_async(const WorkerProcess& api, int n) {
    const auto res = post(api, json{{"name", "n"}, {"payload", {{"n", n}}}}.dump());
    if (res.status != 202) throw std::runtime_error("POST /events: " + res.body);
    return json::parse(res.body).at("id").get<std::string>();
  }
};

TEST_F(EventsTest, SyncCreateAnswersWithTheEnrichedEventAnd504sWhileEnrichIsStopped) {
  auto run = make_run("sync");
  auto& api = run->start("api");
  run->start("enrich");

  // Synchronous: 200 with the processed event, its word chosen from the event id.
  auto res = post(api, R"({"name":"signup","payload":{"user":"ana"}})", "?wait=20s");
  ASSERT_EQ(res.status, 200) << res.body;
  const auto done = json::parse(res.body);
  const std::string id = done.at("id");
  EXPECT_EQ(done["type"], "pipewright.event.enriched");
  EXPECT_EQ(done["data"]["name"], "signup");
  EXPECT_EQ(done["data"]["payload"]["user"], "ana");
  EXPECT_EQ(done["data"]["word"], workers::events::word_for(dictionary(), id));
  const auto got = http_get(api.url() + "/events/" + id);
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(json::parse(got.body)["data"]["word"], done["data"]["word"]);

  // Asynchronous: 202 with the id at once, processed soon after; also under the expose path.
  const auto async_id = post_async(api, 1);
  ASSERT_TRUE(proc::poll_until(
      30s, [&] { return http_get(api.url() + "/events/events/" + async_id).status == 200; }));
  EXPECT_EQ(json::parse(http_get(api.url() + "/events").body)["events"], 2);

  // enrich stopped: the wait runs out (504, with the id), and the event is still processed
  // once enrich is back.
  ASSERT_EQ(run->processes("enrich").at(0)->process.stop(20s), 0);
  res = post(api, R"({"name":"late"})", "?wait=1500ms");
  ASSERT_EQ(res.status, 504) << res.body;
  const auto timed_out = json::parse(res.body);
  EXPECT_EQ(timed_out["field"], "wait");
  EXPECT_FALSE(timed_out.value("error", "").empty());
  const std::string late = timed_out.at("id");
  EXPECT_EQ(http_get(api.url() + "/events/" + late).status, 404);
  run->start("enrich");
  ASSERT_TRUE(
      proc::poll_until(60s, [&] { return http_get(api.url() + "/events/" + late).status == 200; }));
  const auto processed = json::parse(http_get(api.url() + "/events/" + late).body);
  EXPECT_EQ(processed["data"]["word"], workers::events::word_for(dictionary(), late));
  EXPECT_EQ(processed["data"]["name"], "late");

  // A second api replica sees every event too (its own consumer group), whichever replica
  // created it: a sync create on it completes.
  auto& api2 = run->start("api");
  res = post(api2, R"({"name":"second"})", "?wait=20s");
  ASSERT_EQ(res.status, 200) << res.body;
  ASSERT_TRUE(proc::poll_until(30s, [&] {
    return http_get(api2.url() + "/events/" + id).status == 200 &&
           http_get(api.url() + "/events/" + json::parse(res.body)["id"].get<std::string>())
                   .status == 200;
  }));
  for (auto* w : run->processes("api"))
    EXPECT_EQ(w->process.stop(20s), 0);
}

TEST_F(EventsTest, TwoEnrichReplicasShareTheWorkAndEnrichEachEventOnce) {
  auto run = make_run("share");
  auto& api = run->start("api");
  auto& e1 = run->start("enrich");
  auto& e2 = run->start("enrich");
  const auto consumed = [](const WorkerProcess& w) {
    return metric_value(w.metrics_url(), "pipewright_messages_consumed_total");
  };
  // Warm up until both replicas own partitions (the group has settled).
  int n = 0;
  ASSERT_TRUE(proc::poll_until(60s, [&] {
    for (int i = 0; i < 10; ++i)
      post_async(api, n++);
    return consumed(e1) > 0 && consumed(e2) > 0;
  }));
  const double before = consumed(e1) + consumed(e2);
  ASSERT_TRUE(proc::poll_until(30s, [&] { return consumed(e1) + consumed(e2) >= n; }));

  constexpr int kEvents = 300;
  std::set<std::string> ids;
  for (int i = 0; i < kEvents; ++i)
    ids.insert(post_async(api, n + i));
  const auto total = static_cast<std::size_t>(n + kEvents);
  const auto enriched = read_topic(broker->bootstrap(), run->topic("enriched"), total, 120s);
  std::map<std::string, int> times;
  for (const auto& m : enriched) {
    const auto e = event_json(m);
    const std::string id = e.at("id");
    ++times[id];
    EXPECT_EQ(m.key, id);
    EXPECT_EQ(e["data"]["word"], workers::events::word_for(dictionary(), id)) << id;
  }
  for (const auto& id : ids)
    EXPECT_EQ(times[id], 1) << id;
  const double c1 = consumed(e1);
  const double c2 = consumed(e2);
  EXPECT_GT(c1, 0);
  EXPECT_GT(c2, 0);
  EXPECT_GE(c1 + c2 - before, kEvents);
  std::cout << "enrich replicas consumed " << c1 << " and " << c2 << " events\n";
}

TEST_F(EventsTest, TwentyClientsReceiveEveryEventInOrderWhileASlowClientIsCutOff) {
  auto run = make_run("fanout");
  run->set_config("gateway", {{"topic", "enriched"}, {"clientQueue", 1000}});
  auto& gw = run->start("gateway");
  const auto topic = run->topic("enriched");

  // Twenty readers and one client that never reads, with a small receive buffer.
  std::vector<std::unique_ptr<WebSocketClient>> clients;
  for (int i = 0; i < 20; ++i)
    clients.push_back(std::make_unique<WebSocketClient>(ws_url(gw, "/consume-events")));
  WebSocketClientOptions slow_options;
  slow_options.read = false;
  slow_options.receive_buffer_bytes = 4096;
  WebSocketClient slow(ws_url(gw, "/live/consume-events"), slow_options);
  ASSERT_TRUE(proc::poll_until(
      10s, [&] { return metric_value(gw.metrics_url(), "pipewright_websocket_clients") == 21; }));

  // 1,000 events over the 4 partitions, each carrying its partition and its place in it.
  RawProducer producer(broker->bootstrap());
  const std::string padding(1024, 'x');
  constexpr int kEvents = 1000;
  constexpr int kPartitions = 4;
  const auto send = [&](int from, int to) {
    for (int i = from; i < to; ++i) {
      const json e = {{"id", "ev" + std::to_string(i)},
                      {"type", "pipewright.event.enriched"},
                      {"time", "2026-11-23T00:00:00.000Z"},
                      {"source", "test"},
                      {"data", {{"partition", i % kPartitions}, {"seq", i}, {"pad", padding}}}};
      producer.send(topic, i % kPartitions, "ev" + std::to_string(i), e.dump());
    }
  };
  send(0, kEvents);
  ASSERT_TRUE(producer.flush());

  // Each reader gets all of them, in order within each partition.
  for (std::size_t c = 0; c < clients.size(); ++c) {
    std::map<int, int> last;  // partition -> last seq
    std::set<int> seen;
    while (seen.size() < static_cast<std::size_t>(kEvents)) {
      const auto m = clients[c]->next(30s);
      ASSERT_TRUE(m) << "client " << c << " got " << seen.size() << " events, closed "
                     << clients[c]->closed() << " " << clients[c]->close_reason();
      const auto e = json::parse(*m);
      const int p = e["data"]["partition"];
      const int seq = e["data"]["seq"];
      if (last.contains(p)) {
        EXPECT_GT(seq, last[p]) << "client " << c << " partition " << p;
      }
      last[p] = seq;
      EXPECT_TRUE(seen.insert(seq).second) << "client " << c << " got " << seq << " twice";
    }
  }

  // The slow client holds 1,000 unread events at most, then it is cut off (policy violation,
  // with a reason) and counted. More events, 100 at a time once the readers have everything
  // so far, make its queue overflow while theirs stay short.
  int sent = kEvents;
  const auto readers_caught_up = [&] {
    return proc::poll_until(30s, [&] {
      for (auto& c : clients) {
        if (c->received() < static_cast<std::size_t>(sent)) return false;
      }
      return true;
    });
  };
  ASSERT_TRUE(proc::poll_until(120s, [&] {
    send(sent, sent + 100);
    sent += 100;
    producer.flush();
    if (!readers_caught_up()) throw std::runtime_error("the readers fell behind");
    return metric_value(gw.metrics_url(), "pipewright_websocket_clients_dropped_total") >= 1;
  }));
  EXPECT_EQ(metric_value(gw.metrics_url(), "pipewright_websocket_clients_dropped_total"), 1);
  ASSERT_TRUE(proc::poll_until(
      10s, [&] { return metric_value(gw.metrics_url(), "pipewright_websocket_clients") == 20; }));
  // The readers are still connected and have every event.
  ASSERT_TRUE(readers_caught_up());
  for (auto& c : clients)
    EXPECT_FALSE(c->closed()) << c->close_reason();
  std::cout << "the slow client was cut off after " << sent << " events\n";
  EXPECT_TRUE(gw.process.running());

  // The viewer page is served, self-contained.
  const auto page = http_get(gw.url() + "/live/viewer");
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("consume-events"), std::string::npos);
  EXPECT_EQ(page.body.find("http://"), std::string::npos);
  EXPECT_EQ(page.body.find("https://"), std::string::npos);
}

TEST_F(EventsTest, BadInputGetsAClearErrorAndNothingIsPublished) {
  auto run = make_run("bad");
  run->set_config("api", {{"maxWait", "30s"}, {"maxBodyBytes", 1024}});
  run->set_config("gateway", {{"topic", "enriched"}, {"maxFrameBytes", 1024}});
  auto& api = run->start("api");
  auto& gw = run->start("gateway");
  const auto events = run->topic("events");

  struct Case {
    std::string what, body, query;
    int status;
    std::string field;
  };
  const std::vector<Case> cases = {
      {"malformed JSON", R"({"name": "x",)", "", 400, "body"},
      {"not an object", R"(["a"])", "", 400, "body"},
      {"empty body", "", "", 400, "body"},
      {"a number as name", R"({"name": 5})", "", 400, "name"},
      {"an empty name", R"({"name": ""})", "", 400, "name"},
      {"a string as payload", R"({"payload": "x"})", "", 400, "payload"},
      {"an unknown field", R"({"id": "mine"})", "", 400, "id"},
      {"a body over maxBodyBytes", json{{"payload", {{"x", std::string(2048, 'a')}}}}.dump(), "",
       413, "body"},
      {"a wait over maxWait", "{}", "?wait=31s", 400, "wait"},
      {"a wait that is no duration", "{}", "?wait=soon", 400, "wait"},
      {"a zero wait", "{}", "?wait=0s", 400, "wait"},
  };
  for (const auto& c : cases) {
    const auto res = post(api, c.body, c.query);
    EXPECT_EQ(res.status, c.status) << c.what << ": " << res.body;
    json body;
    ASSERT_NO_THROW(body = json::parse(res.body)) << c.what << ": " << res.body;
    EXPECT_FALSE(body.value("error", "").empty()) << c.what;
    EXPECT_EQ(body.value("field", ""), c.field) << c.what << ": " << res.body;
  }
  for (const auto& [method, path, status] : std::vector<std::tuple<std::string, std::string, int>>{
           {"GET", "/nope", 404}, {"DELETE", "/events", 405}, {"GET", "/events/unknown", 404}}) {
    const auto res = http_request(method, api.url() + path);
    EXPECT_EQ(res.status, status) << path << ": " << res.body;
    const auto body = json::parse(res.body);
    EXPECT_FALSE(body.value("error", "").empty()) << path;
    EXPECT_FALSE(body.value("field", "").empty()) << path << ": " << res.body;
  }

  // WebSocket: a binary frame and a frame over maxFrameBytes close the connection with a code
  // and a reason; plain HTTP on a WebSocket route is a 426.
  {
    WebSocketClient c(ws_url(gw, "/produce"));
    ASSERT_TRUE(c.send_binary("\x01\x02\x03"));
    ASSERT_TRUE(c.wait_closed(10s));
    EXPECT_EQ(c.close_code(), 1003);
    EXPECT_NE(c.close_reason().find("binary"), std::string::npos) << c.close_reason();
  }
  {
    WebSocketClient c(ws_url(gw, "/produce"));
    c.send_text(std::string(2000, 'a'));
    ASSERT_TRUE(c.wait_closed(10s));
    EXPECT_EQ(c.close_code(), 1009);
    EXPECT_NE(c.close_reason().find("1024"), std::string::npos) << c.close_reason();
  }
  const auto plain = http_get(gw.url() + "/produce");
  EXPECT_EQ(plain.status, 426) << plain.body;
  EXPECT_EQ(json::parse(plain.body).value("field", ""), "upgrade");
  EXPECT_EQ(metric_value(gw.metrics_url(), "pipewright_websocket_frames_refused_total"), 2);

  EXPECT_EQ(topic_messages(broker->bootstrap(), events), 0);

  // Still serving: good input goes through, on both doors.
  EXPECT_EQ(post(api, R"({"name":"ok"})").status, 202);
  WebSocketClient producer(ws_url(gw, "/live/produce"));
  ASSERT_TRUE(producer.send_text(R"({"hello":"world"})"));
  const auto ack = producer.next(20s);
  ASSERT_TRUE(ack);
  EXPECT_FALSE(json::parse(*ack).value("id", "").empty()) << *ack;
  EXPECT_EQ(topic_messages(broker->bootstrap(), events), 2);
  const auto published = read_topic(broker->bootstrap(), events, 2, 20s);
  bool from_ws = false;
  for (const auto& m : published) {
    const auto e = event_json(m);
    if (e["data"]["payload"] == json{{"hello", "world"}}) from_ws = true;
  }
  EXPECT_TRUE(from_ws);
}

}  // namespace
}  // namespace pipewright::testing
