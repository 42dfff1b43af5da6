// Faults under load, on real components: the Kafka broker SIGKILLed twice, replicas added and
// removed (rebalances every few seconds), a handler slower than max.poll.interval.ms, an output
// too large for its topic, a deleted output topic, the SMTP server down for a minute. Each case
// counts, per message accepted with a 2xx or acknowledged on an input topic, the outputs lost
// and the side effects repeated (e-mails, files, audit lines, enriched events). Nothing may be
// lost; side effects the design makes idempotent by event id (e-mails, result files, audit lines
// per offset) may not repeat; repeats of at-least-once messages in a topic are reported.

#include <gtest/gtest.h>
#include <signal.h>

#include <deque>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "pkg/api/manifest.h"
#include "pkg/kafka/admin.h"
#include "pkg/local/kafka_broker.h"
#include "pkg/plan/topics.h"
#include "pkg/proc/net.h"
#include "tests/support/faults.h"
#include "tests/support/http_client.h"
#include "tests/support/kafka_suite.h"
#include "tests/support/servers.h"
#include "tests/support/workers.h"

namespace pipewright::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

api::Pipeline example(const std::string& file) {
  return api::load({source_dir() / "examples" / file}).pipelines.at(0);
}

api::Step& step(api::Pipeline& p, const std::string& name) {
  for (auto& s : p.steps) {
    if (s.name == name) return s;
  }
  throw std::invalid_argument("no step " + name);
}

api::Topic& topic(api::Pipeline& p, const std::string& name) {
  for (auto& t : p.topics) {
    if (t.name == name) return t;
  }
  throw std::invalid_argument("no topic " + name);
}

json smtp_config(const SmtpServer& smtp, const std::string& to, const std::string& locale) {
  return {{"channels", {"smtp"}},
          {"locale", locale},
          {"to", to},
          {"smtp",
           {{"host", "127.0.0.1"},
            {"port", smtp.port()},
            {"from", "pipewright@example.com"},
            {"starttls", false}}}};
}

std::vector<std::string> subjects(const std::vector<MailMessage>& mails) {
  std::vector<std::string> out;
  out.reserve(mails.size());
  for (const auto& m : mails)
    out.push_back(m.subject);
  return out;
}

// POST /events (async): the id of a 202, nothing otherwise.
std::optional<std::string> post_event(const WorkerProcess& api, const json& body) {
  const auto r = http_request("POST", api.url() + "/events", body.dump(), "application/json");
  if (r.status != 202) return std::nullopt;
  return json::parse(r.body).at("id").get<std::string>();
}

std::string picture(int n) {
  cv::Mat m(24, 32, CV_8UC3, cv::Scalar(n % 256, (n * 7) % 256, 90));
  std::vector<uchar> out;
  cv::imencode(".jpg", m, out);
  return {out.begin(), out.end()};
}

// Every message of both topics, where the input ids' outputs may have gone.
std::vector<ConsumedMessage> read_topics(const std::string& bootstrap,
                                         const std::vector<std::string>& topics) {
  std::vector<ConsumedMessage> all;
  for (const auto& t : topics) {
    auto part = read_all(bootstrap, t);
    all.insert(all.end(), part.begin(), part.end());
  }
  return all;
}

class Faults : public KafkaSuite {
 protected:
  std::unique_ptr<PipelineRun> make_run(api::Pipeline p, const std::string& ns,
                                        const std::string& bootstrap = "") {
    auto run = std::make_unique<PipelineRun>(
        std::move(p), bootstrap.empty() ? broker->bootstrap() : bootstrap, ns);
    run->create_topics();
    return run;
  }
};

// The orders pipeline (orders-api, fraud, notify by e-mail, audit) while orders keep coming in;
// the broker is SIGKILLed, comes back on the same ports and data, and again.
TEST_F(Faults, BrokerKilledTwiceUnderLoadLosesNoOrderAndRepeatsNoEmailOrAuditLine) {
  auto own = local::KafkaBroker::start({component_dir("kafka-killed")});
  auto smtp = SmtpServer::start();
  auto p = example("orders.yaml");
  step(p, "notify").config = smtp_config(*smtp, "orders@example.com", "pt-BR");
  auto run = make_run(p, "brokerkill", own->bootstrap());
  auto& api = run->start("api");
  run->start("fraud");
  run->start("notify");
  run->start("audit");

  Load load(
      [&](int n) -> std::optional<std::string> {
        const json order = {{"customer", "c" + std::to_string(n)},
                            {"items", {{{"sku", "a"}, {"quantity", 1}, {"price", 2}}}},
                            {"total", 2}};
        const auto r =
            http_request("POST", api.url() + "/orders", order.dump(), "application/json");
        if (r.status != 202) return std::nullopt;
        return json::parse(r.body).at("id").get<std::string>();
      },
      2, 20ms);
  ASSERT_TRUE(load.wait_more(30, 60s)) << "no orders accepted before the fault";
  for (int k = 1; k <= 2; ++k) {
    own->kill();
    // The outage itself: orders keep being posted while there is no broker.
    std::this_thread::sleep_for(3s);
    own->restart();
    ASSERT_TRUE(load.wait_more(30, 120s)) << "orders not accepted again after restart " << k;
  }
  load.stop();
  const auto accepted = load.accepted();
  std::cout << "[faults] orders: " << accepted.size() << " accepted, " << load.refused()
            << " refused or timed out during the outages" << std::endl;

  // Every accepted order is decided (valid or rejected) and both its e-mails arrive.
  const std::vector<std::string> decisions = {run->topic("orders-valid"),
                                              run->topic("orders-rejected")};
  std::vector<std::string> decided;
  proc::poll_until(
      120s,
      [&] {
        decided.clear();
        try {
          for (const auto& m : read_topics(own->bootstrap(), decisions))
            decided.push_back(m.key);
        } catch (const std::exception&) {
          return false;
        }
        return count_delivery("decisions", accepted, decided).lost == 0;
      },
      1s);
  const auto decision_count = count_delivery("order decisions (topic messages)", accepted, decided);
  report(decision_count);
  EXPECT_EQ(decision_count.lost, 0U) << decision_count.summary();

  const std::regex subject(R"(Pipewright: pedido (\S+) (recebido|aprovado|rejeitado))");
  std::vector<std::string> received, decided_mail;
  proc::poll_until(
      120s,
      [&] {
        received.clear();
        decided_mail.clear();
        for (const auto& m : smtp->messages()) {
          std::smatch match;
          if (!std::regex_search(m.subject, match, subject)) continue;
          (match[2] == "recebido" ? received : decided_mail).push_back(match[1]);
        }
        return count_delivery("", accepted, received).lost == 0 &&
               count_delivery("", accepted, decided_mail).lost == 0;
      },
      1s);
  const auto received_count = count_delivery("'order received' e-mails", accepted, received);
  const auto decided_count = count_delivery("'order decided' e-mails", accepted, decided_mail);
  report(received_count);
  report(decided_count);
  EXPECT_EQ(received_count.lost, 0U) << received_count.summary();
  EXPECT_EQ(decided_count.lost, 0U) << decided_count.summary();
  // notify remembers each (event id, channel) it served: a redelivery sends nothing twice.
  EXPECT_EQ(received_count.duplicated, 0U) << received_count.summary();
  EXPECT_EQ(decided_count.duplicated, 0U) << decided_count.summary();

  // audit: every message of its topics logged once per (topic, partition, offset), which is
  // what it promises; the same order logged twice (a resent message) is reported.
  const auto log_file = run->data_dir() / "audit.jsonl";
  const auto total = [&] {
    long long sum = 0;
    for (const auto& t : {"orders", "orders-valid", "orders-rejected", "notifications"})
      sum += topic_messages(own->bootstrap(), run->topic(t));
    return sum;
  };
  const auto lines = [&] {
    std::vector<json> out;
    std::istringstream in(read_file(log_file));
    for (std::string line; std::getline(in, line);) {
      auto doc = json::parse(line, nullptr, false);
      if (doc.is_object()) out.push_back(std::move(doc));
    }
    return out;
  };
  EXPECT_TRUE(proc::poll_until(
      120s, [&] { return static_cast<long long>(lines().size()) >= total(); }, 1s))
      << lines().size() << " audit lines for " << total() << " messages";
  std::vector<std::string> coordinates, audited_orders;
  std::set<std::string> distinct;
  for (const auto& line : lines()) {
    const auto c = line["topic"].get<std::string>() + "/" + line["partition"].dump() + "/" +
                   line["offset"].dump();
    coordinates.push_back(c);
    distinct.insert(c);
    // On `orders` the event id is the order id (the key is the customer).
    if (line["topic"] == run->topic("orders"))
      audited_orders.push_back(line["event"].value("id", ""));
  }
  const auto per_offset =
      count_delivery("audit lines per offset",
                     std::vector<std::string>(distinct.begin(), distinct.end()), coordinates);
  report(per_offset);
  EXPECT_EQ(per_offset.duplicated, 0U) << per_offset.summary();
  const auto audited = count_delivery("audit lines of accepted orders", accepted, audited_orders);
  report(audited);
  EXPECT_EQ(audited.lost, 0U) << audited.summary();
}

// Competing enrich consumers scaled up and down while events keep coming: a rebalance every few
// seconds, each replica that leaves finishing and committing what it holds (SIGTERM, as a
// Deployment scaled down does).
TEST_F(Faults, ReplicasAddedAndRemovedUnderLoadLoseNoEvent) {
  auto run = make_run(example("events.yaml"), "rebalance");
  auto& api = run->start("api");
  std::deque<WorkerProcess*> replicas = {&run->start("enrich")};
  Load load(
      [&](int n) {
        return post_event(api, {{"name", "r"}, {"payload", {{"n", n}}}});
      },
      2, 10ms);
  ASSERT_TRUE(load.wait_more(50, 60s));
  // 1 -> 2 -> 3 -> 2 -> 3 -> 2 -> 1 -> 2 -> 1 replicas, about 100 events apart.
  for (const bool add : {true, true, false, true, false, false, true, false}) {
    if (add) {
      replicas.push_back(&run->start("enrich"));
    } else {
      auto* leaving = replicas.front();
      replicas.pop_front();
      EXPECT_EQ(leaving->process.stop(30s), 0) << "enrich did not stop cleanly:\n"
                                               << tail(leaving->log_file);
    }
    ASSERT_TRUE(load.wait_more(100, 60s)) << "events not accepted while scaling";
  }
  load.stop();
  const auto accepted = load.accepted();
  const auto enriched =
      wait_for_events(broker->bootstrap(), run->topic("enriched"), accepted, 120s);
  const auto count = count_delivery("enriched events", accepted, event_ids(enriched));
  report(count);
  EXPECT_EQ(count.lost, 0U) << count.summary();
  // At-least-once: a repeat is possible (not promised away), but it must be the same event.
  std::map<std::string, std::string> word;
  for (const auto& m : enriched) {
    const auto e = event_json(m);
    const auto w = e["data"].value("word", "");
    const auto [it, fresh] = word.emplace(e["id"].get<std::string>(), w);
    EXPECT_TRUE(fresh || it->second == w) << "event " << it->first << " enriched twice differently";
  }
  EXPECT_GT(accepted.size(), 800U);
}

// notify blocked on one message for longer than max.poll.interval.ms (10 s here, the smallest
// librdkafka allows with our 10 s session timeout): its SMTP server hangs for 15 s (SIGSTOP:
// connections are accepted, nothing is answered; the 10 s client timeout and a retry follow).
TEST_F(Faults, HandlerSlowerThanMaxPollIntervalSendsEveryMailOnce) {
  auto smtp = SmtpServer::start();
  auto p = example("images.yaml");
  step(p, "notify").config = smtp_config(*smtp, "slow@example.com", "en");
  auto run = make_run(p, "slow");
  const auto secrets = suite_dir() / "slow-kafka-properties";
  std::filesystem::create_directories(secrets);
  std::ofstream(secrets / "max.poll.interval.ms") << "10000\n";
  auto& notify = run->start("notify", {{"PIPEWRIGHT_KAFKA_SECRET_DIR", secrets.string()}});
  const auto topic_name = run->topic("notifications");

  const auto events = [](int from, int to) {
    std::vector<ConsumedMessage> out;
    for (int i = from; i < to; ++i) {
      const auto id = "slow-" + std::to_string(i);
      out.push_back({id,
                     json{{"id", id},
                          {"type", "pipewright.image.processed"},
                          {"time", "2026-12-01T10:00:00Z"},
                          {"source", "/faults/test"},
                          {"data", {{"file", id + ".jpg"}, {"operation", "rotate"}}}}
                         .dump(),
                     {}});
    }
    return out;
  };
  std::vector<std::string> accepted;
  for (int i = 0; i < 16; ++i)
    accepted.push_back("Pipewright: slow-" + std::to_string(i) + ".jpg rotated");
  produce(broker->bootstrap(), topic_name, events(0, 3));
  ASSERT_TRUE(proc::poll_until(60s, [&] { return smtp->messages().size() >= 3; }))
      << tail(notify.log_file);
  smtp->signal(SIGSTOP);
  produce(broker->bootstrap(), topic_name, events(3, 10));
  // The hang itself, longer than max.poll.interval.ms.
  std::this_thread::sleep_for(15s);
  smtp->signal(SIGCONT);
  produce(broker->bootstrap(), topic_name, events(10, 16));
  std::vector<std::string> seen;
  proc::poll_until(
      120s,
      [&] {
        seen = subjects(smtp->messages());
        return count_delivery("", accepted, seen).lost == 0;
      },
      500ms);
  const auto count = count_delivery("e-mails after a slow handler", accepted, seen);
  report(count);
  EXPECT_EQ(count.lost, 0U) << count.summary() << "\n" << tail(notify.log_file);
  EXPECT_EQ(count.duplicated, 0U) << count.summary();
  const auto consumed = metric_value(notify.metrics_url(), "pipewright_messages_consumed_total");
  std::cout << "[faults] slow handler: 16 notifications consumed " << consumed
            << " times (redeliveries after the poll interval ran out: " << consumed - 16 << ")"
            << std::endl;
  EXPECT_EQ(topic_messages(broker->bootstrap(), plan::dead_letter_topic(topic_name)), 0);
  EXPECT_TRUE(notify.process.running());
}

// enrich's output for one event is over its topic's max.message.bytes: that event is dead-
// lettered with the reason, and the events behind it on the same partition are enriched.
TEST_F(Faults, OutputTooLargeIsDeadLetteredAndThePartitionGoesOn) {
  auto p = example("events.yaml");
  topic(p, "events").partitions = 1;  // one partition: what follows the big event waits behind it
  topic(p, "enriched").partitions = 1;
  topic(p, "enriched").config["max.message.bytes"] = "4096";
  auto run = make_run(p, "toolarge");
  auto& api = run->start("api");
  auto& enrich = run->start("enrich");
  const auto small = [&](int n) {
    auto id = post_event(api, {{"name", "small"}, {"payload", {{"n", n}}}});
    if (!id) throw std::runtime_error("POST /events refused a small event");
    return *id;
  };
  std::vector<std::string> before;
  for (int i = 0; i < 5; ++i)
    before.push_back(small(i));
  ASSERT_FALSE(wait_for_events(broker->bootstrap(), run->topic("enriched"), before, 60s).empty());

  const auto big =
      post_event(api, {{"name", "big"}, {"payload", {{"text", std::string(6000, 'x')}}}});
  ASSERT_TRUE(big) << "events accepts it: its own topic allows 1 MB";
  // Behind it once enrich holds it (so they are not in its batch).
  ASSERT_TRUE(proc::poll_until(30s, [&] {
    return metric_value(enrich.metrics_url(), "pipewright_messages_consumed_total") >= 6;
  }));
  std::vector<std::string> after;
  for (int i = 5; i < 10; ++i)
    after.push_back(small(i));

  const auto enriched = wait_for_events(broker->bootstrap(), run->topic("enriched"), after, 60s);
  const auto enriched_count =
      count_delivery("small events behind a too-large one", after, event_ids(enriched));
  report(enriched_count);
  EXPECT_EQ(enriched_count.lost, 0U) << enriched_count.summary() << "\n" << tail(enrich.log_file);
  const auto dlq = plan::dead_letter_topic(run->topic("events"));
  const auto dead = wait_for_events(broker->bootstrap(), dlq, {*big}, 30s);
  const auto dead_count = count_delivery("too-large event dead-lettered", {*big}, event_ids(dead));
  report(dead_count);
  ASSERT_EQ(dead_count.lost, 0U) << dead_count.summary() << "\n" << tail(enrich.log_file);
  EXPECT_EQ(dead_count.duplicated, 0U);
  const auto error = dead.back().headers.count("pipewright-error") != 0
                         ? dead.back().headers.at("pipewright-error")
                         : std::string();
  EXPECT_NE(error.find("too large"), std::string::npos) << error;
  EXPECT_EQ(count_delivery("", {*big}, event_ids(enriched)).delivered, 0U);
}

// The output topic deleted while enrich runs: what it consumes meanwhile is dead-lettered with
// the reason (nothing blocks the partition, nothing is lost); once the topic is created again,
// each later event is enriched or dead-lettered, never lost or stuck.
TEST_F(Faults, DeletedOutputTopicDeadLettersAndThePartitionGoesOn) {
  auto p = example("events.yaml");
  topic(p, "events").partitions = 1;
  topic(p, "enriched").partitions = 1;
  auto run = make_run(p, "deleted");
  auto& api = run->start("api");
  auto& enrich = run->start("enrich");
  const auto post = [&](int from, int to) {
    std::vector<std::string> ids;
    for (int i = from; i < to; ++i) {
      auto id = post_event(api, {{"name", "d"}, {"payload", {{"n", i}}}});
      if (!id) throw std::runtime_error("POST /events refused an event");
      ids.push_back(*id);
    }
    return ids;
  };
  const auto enriched_topic = run->topic("enriched");
  const auto dlq = plan::dead_letter_topic(run->topic("events"));
  const auto first = post(0, 5);
  ASSERT_EQ(
      count_delivery("", first,
                     event_ids(wait_for_events(broker->bootstrap(), enriched_topic, first, 60s)))
          .lost,
      0U);

  auto admin = kafka::make_admin(broker->bootstrap());
  ASSERT_EQ(admin->remove(enriched_topic), "");
  ASSERT_TRUE(proc::poll_until(30s, [&] {
    const auto s = admin->describe({enriched_topic});
    return s.empty() || s[0].partitions == 0;
  }));
  const auto during = post(5, 10);
  const auto dead = wait_for_events(broker->bootstrap(), dlq, during, 90s);
  const auto dead_count = count_delivery("events dead-lettered while their output topic is gone",
                                         during, event_ids(dead));
  report(dead_count);
  EXPECT_EQ(dead_count.lost, 0U) << dead_count.summary() << "\n" << tail(enrich.log_file);
  for (const auto& m : dead) {
    const auto it = m.headers.find("pipewright-error");
    ASSERT_NE(it, m.headers.end()) << "a dead letter without its error";
    EXPECT_NE(it->second.find(enriched_topic), std::string::npos)
        << "the error names the output that failed: " << it->second;
  }

  for (const auto& r : admin->create(plan::topics(run->pipeline())))
    ASSERT_NE(r.outcome, kafka::TopicOutcome::failed) << r.name << ": " << r.error;
  const auto later = post(10, 15);
  // Reported, not asserted: until the producer's metadata shows the topic again (librdkafka
  // refreshes it every topic.metadata.refresh.interval.ms, 5 min by default) these may be
  // dead-lettered too, which the check below accepts as not lost.
  const auto enriched = wait_for_events(broker->bootstrap(), enriched_topic, later, 30s);
  const auto back = count_delivery("", later, event_ids(enriched));
  std::cout << "[faults] once the topic is back: " << back.delivered << " of " << later.size()
            << " events enriched (the others are dead-lettered: the producer's metadata still "
               "said the topic was gone)"
            << std::endl;

  // Every event accepted after the deletion ended enriched or dead-lettered (those enriched
  // before it went with the topic, as its deletion means).
  std::vector<std::string> all = during;
  all.insert(all.end(), later.begin(), later.end());
  std::vector<std::string> outcomes;
  proc::poll_until(
      60s,
      [&] {
        try {
          outcomes = event_ids(read_topics(broker->bootstrap(), {enriched_topic, dlq}));
        } catch (const std::exception&) {
          return false;
        }
        return count_delivery("", all, outcomes).lost == 0;
      },
      500ms);
  const auto overall = count_delivery("events enriched or dead-lettered", all, outcomes);
  report(overall);
  EXPECT_EQ(overall.lost, 0U) << overall.summary();
}

// The image pipeline while its SMTP server is down for a minute and then back on the same port:
// every upload is rotated and grayscaled once (one result file each), and every notification
// arrives once, late. The retries must outlast the outage: the pipeline's delivery settings say
// so (the example's 5 attempts would dead-letter them within seconds, as documented).
TEST_F(Faults, SmtpDownForAMinuteEveryNotificationArrivesOnceLate) {
  auto smtp = SmtpServer::start();
  const int smtp_port = smtp->port();
  auto p = example("images.yaml");
  step(p, "notify").config = smtp_config(*smtp, "late@example.com", "en");
  p.delivery.max_attempts = 40;
  p.delivery.backoff_initial = "500ms";
  p.delivery.backoff_max = "5s";
  auto run = make_run(p, "smtpdown");
  auto& upload = run->start("upload");
  run->start("rotate");
  run->start("rotate");
  run->start("grayscale");
  auto& notify = run->start("notify");

  std::vector<std::string> stored, expected;
  const auto send = [&](int from, int to) {
    for (int i = from; i < to; ++i) {
      Form form;
      const auto name = "late-" + std::to_string(i) + ".jpg";
      form.fields.push_back({"file", name, "image/jpeg", picture(i)});
      const auto r =
          http_request("POST", upload.url() + "/upload", form.body(), form.content_type());
      ASSERT_EQ(r.status, 201) << r.body;
      stored.push_back(json::parse(r.body).at("file").get<std::string>());
      expected.push_back("Pipewright: " + name + " rotated");
      expected.push_back("Pipewright: " + name + " converted to grayscale");
    }
  };
  send(0, 3);
  ASSERT_TRUE(proc::poll_until(60s, [&] { return smtp->messages().size() >= 6; }))
      << tail(notify.log_file);
  auto mails = subjects(smtp->messages());
  smtp->stop();
  send(3, 9);
  // The outage itself: a minute without an SMTP server.
  std::this_thread::sleep_for(60s);
  SmtpOptions same;
  same.port = smtp_port;
  smtp = SmtpServer::start(same);
  std::vector<std::string> seen;
  proc::poll_until(
      120s,
      [&] {
        seen = mails;
        for (auto& s : subjects(smtp->messages()))
          seen.push_back(std::move(s));
        return count_delivery("", expected, seen).lost == 0;
      },
      500ms);
  const auto count = count_delivery("e-mails after a minute without SMTP", expected, seen);
  report(count);
  EXPECT_EQ(count.lost, 0U) << count.summary() << "\n" << tail(notify.log_file);
  EXPECT_EQ(count.duplicated, 0U) << count.summary();
  EXPECT_EQ(
      topic_messages(broker->bootstrap(), plan::dead_letter_topic(run->topic("notifications"))), 0);

  // One result file per upload and operation, under the name that follows from it.
  std::vector<std::string> originals, results;
  for (const auto& e : std::filesystem::directory_iterator(run->data_dir())) {
    if (!e.is_regular_file()) continue;
    const auto name = e.path().filename().string();
    const auto rotated = name.find(".rotated."), gray = name.find(".gray.");
    if (rotated == std::string::npos && gray == std::string::npos) continue;
    const auto stem = name.substr(0, std::min(rotated, gray));
    results.push_back(stem + (rotated != std::string::npos ? "/rotate" : "/grayscale"));
  }
  std::vector<std::string> wanted;
  for (const auto& s : stored) {
    const auto stem = s.substr(0, s.rfind('.'));
    wanted.push_back(stem + "/rotate");
    wanted.push_back(stem + "/grayscale");
  }
  const auto files = count_delivery("result files", wanted, results);
  report(files);
  EXPECT_EQ(files.lost, 0U) << files.summary();
  EXPECT_EQ(results.size(), wanted.size()) << "result files that follow from no upload";
}

}  // namespace
}  // namespace pipewright::testing
