// The orders pipeline end to end on a real Kafka: orders-api, fraud, notify and audit run as
// processes wired exactly as the plan wires them (examples/orders.yaml).

#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "pkg/api/manifest.h"
#include "pkg/proc/net.h"
#include "pkg/workers/orders_store.h"
#include "tests/support/http_client.h"
#include "tests/support/kafka_suite.h"
#include "tests/support/suite_logs.h"
#include "tests/support/workers.h"

namespace pipewright::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

const std::vector<std::string> kTopics = {"orders", "orders-valid", "orders-rejected",
                                          "notifications"};

api::Pipeline orders_pipeline() {
  return api::load({source_dir() / "examples" / "orders.yaml"}).pipelines.at(0);
}

HttpResult post_order(const WorkerProcess& api, const json& order, const std::string& path = "") {
  return http_request("POST", api.url() + path + "/orders", order.dump(), "application/json");
}

// One generated order and what the fraud rules must make of it.
struct Case {
  json body;
  std::set<std::string> rules;  // expected reasons' rule names; empty: valid
  std::string id;               // the id orders-api answered with
};

// 1,000 orders: plain valid ones, over the amount limit, blocked customers, totals that do not
// match their items, combinations, and 20 customers who each place 8 orders in a burst (the
// limit is 5 per window, so their last 3 are rejected). Prices in cents, so sums are exact.
std::vector<Case> generate_orders(const std::vector<std::string>& blocked) {
  std::mt19937 rng(20261123);
  const auto pick = [&](int from, int to) { return std::uniform_int_distribution(from, to)(rng); };
  const auto order = [&](const std::string& customer, bool big) {
    json items = json::array();
    long long cents = 0;
    const int n = pick(1, 3);
    for (int i = 0; i < n; ++i) {
      const int quantity = pick(1, 5);
      const int price = big ? pick(400'000, 900'000) : pick(1, 50'000);  // cents
      items.push_back({{"sku", "sku-" + std::to_string(pick(1, 999))},
                       {"quantity", quantity},
                       {"price", price / 100.0}});
      cents += static_cast<long long>(quantity) * price;
    }
    return json{{"customer", customer}, {"items", items}, {"total", cents / 100.0}};
  };
  std::vector<Case> cases;
  std::map<std::string, int> placed;  // orders per customer, in sending order
  const auto add = [&](json body, bool mismatch) {
    if (mismatch) body["total"] = body["total"].get<double>() + pick(1, 5000) / 100.0;
    const auto customer = body["customer"].get<std::string>();
    std::set<std::string> rules;
    if (std::find(blocked.begin(), blocked.end(), customer) != blocked.end())
      rules.insert("blockedCustomers");
    if (body["total"].get<double>() > 10000) rules.insert("maxAmount");
    if (++placed[customer] > 5) rules.insert("maxOrdersPerCustomer");
    if (mismatch) rules.insert("totalMismatch");
    // Half choose their own id; orders-api makes one for the others.
    if (cases.size() % 2 == 0) body["id"] = "order-" + std::to_string(cases.size());
    cases.push_back({body, rules, ""});
  };
  for (int b = 0; b < 20; ++b) {
    for (int i = 0; i < 8; ++i)
      add(order("burst-" + std::to_string(b), i == 6 && b % 4 == 0), i == 7 && b % 5 == 0);
  }
  for (int i = 0; cases.size() < 1000; ++i) {
    const auto customer = "customer-" + std::to_string(i);
    const int kind = pick(0, 99);
    if (kind < 50)
      add(order(customer, false), false);  // valid
    else if (kind < 65)
      add(order(customer, true), false);  // over limit
    else if (kind < 75)
      add(order(blocked[static_cast<std::size_t>(i) % blocked.size()], false), false);
    else if (kind < 90)
      add(order(customer, false), true);  // mismatch
    else
      add(order(customer, true), true);  // both
  }
  return cases;
}

// Every message of a topic as {envelope id -> envelope}, failing on a repeated id.
std::map<std::string, json> envelopes(const std::string& bootstrap, const std::string& topic,
                                      std::size_t expected) {
  std::map<std::string, json> out;
  for (const auto& m : read_topic(bootstrap, topic, expected, 60s)) {
    auto e = event_json(m);
    const auto id = e["id"].get<std::string>();
    EXPECT_TRUE(out.emplace(id, std::move(e)).second) << topic << " repeats " << id;
  }
  return out;
}

// The complete lines of the audit log, read as the worker itself reads it: the worker appends
// while the test reads, so an unterminated last line is not a line yet. A complete line that is
// not JSON is a failure.
std::vector<json> audit_lines(const fs::path& file) {
  std::vector<json> out;
  pipewright::workers::orders::read_json_lines(file, [&](json line, std::size_t number) {
    if (line.is_discarded()) {
      ADD_FAILURE() << file << ":" << number << " is not JSON";
      return;
    }
    out.push_back(std::move(line));
  });
  return out;
}

class OrdersTest : public KafkaSuite {
 protected:
  std::unique_ptr<PipelineRun> make_run(const std::string& ns) {
    auto run = std::make_unique<PipelineRun>(orders_pipeline(), broker->bootstrap(), ns);
    run->create_topics();
    return run;
  }
  long long count(PipelineRun& run, const std::string& logical) {
    return topic_messages(broker->bootstrap(), run.topic(logical));
  }
};

TEST_F(OrdersTest, AThousandOrdersAreClassifiedExactlyNotifiedAndAudited) {
  auto run = make_run("classify");
  std::vector<std::string> blocked = {"mallory"};
  for (int i = 0; i < 30; ++i)
    blocked.push_back("blocked-" + std::to_string(i));
  // The example's rules; a window no run of this test outlasts, so bursts are bursts.
  run->set_config("fraud", {{"maxAmount", 10000},
                            {"maxOrdersPerCustomer", 5},
                            {"window", "1h"},
                            {"blockedCustomers", blocked}});
  auto& api = run->start("api");
  run->start("fraud");
  auto& notify = run->start("notify");
  auto& audit = run->start("audit");

  auto cases = generate_orders(blocked);
  // Four clients; each customer's orders go through one of them, in order.
  std::vector<std::thread> clients;
  std::mutex mutex;
  std::vector<std::string> failures;
  for (std::size_t c = 0; c < 4; ++c) {
    clients.emplace_back([&, c] {
      for (auto& k : cases) {
        if (std::hash<std::string>{}(k.body["customer"].get<std::string>()) % 4 != c) continue;
        const auto res = post_order(api, k.body);
        const auto answer = json::parse(res.body, nullptr, false);
        if (res.status != 202 || answer.is_discarded() ||
            answer.value("status", "") != "received") {
          std::lock_guard lock(mutex);
          failures.push_back(std::to_string(res.status) + " " + res.body);
          continue;
        }
        k.id = answer["id"];
      }
    });
  }
  for (auto& t : clients)
    t.join();
  ASSERT_TRUE(failures.empty()) << failures.size() << " failed, first: " << failures.front();

  std::size_t expected_valid = 0;
  std::map<std::string, const Case*> by_id;
  for (const auto& k : cases) {
    expected_valid += k.rules.empty() ? 1 : 0;
    if (k.body.contains("id")) {
      EXPECT_EQ(k.id, k.body["id"]);
    }
    ASSERT_TRUE(by_id.emplace(k.id, &k).second) << "id answered twice: " << k.id;
  }
  const auto expected_rejected = cases.size() - expected_valid;
  ASSERT_GT(expected_valid, 300U);
  ASSERT_GT(expected_rejected, 300U);

  // Every order classified once, on the topic its ground truth says, with exactly its reasons.
  ASSERT_TRUE(proc::poll_until(
      120s, [&] { return count(*run, "orders-valid") + count(*run, "orders-rejected") >= 1000; }))
      << count(*run, "orders-valid") << " valid, " << count(*run, "orders-rejected") << " rejected";
  EXPECT_EQ(count(*run, "orders"), 1000);
  EXPECT_EQ(count(*run, "orders-valid"), static_cast<long long>(expected_valid));
  EXPECT_EQ(count(*run, "orders-rejected"), static_cast<long long>(expected_rejected));
  const auto valid = envelopes(broker->bootstrap(), run->topic("orders-valid"), expected_valid);
  const auto rejected =
      envelopes(broker->bootstrap(), run->topic("orders-rejected"), expected_rejected);
  for (const auto& [eid, e] : valid) {
    const auto id = e["data"]["id"].get<std::string>();
    ASSERT_TRUE(by_id.contains(id)) << id;
    EXPECT_TRUE(by_id[id]->rules.empty()) << id << " should have been rejected";
    EXPECT_EQ(e["data"]["status"], "valid");
  }
  for (const auto& [eid, e] : rejected) {
    const auto id = e["data"]["id"].get<std::string>();
    ASSERT_TRUE(by_id.contains(id)) << id;
    std::set<std::string> rules;
    for (const auto& r : e["data"]["reasons"]) {
      rules.insert(r["rule"].get<std::string>());
      EXPECT_FALSE(r["message"].get<std::string>().empty());
    }
    EXPECT_EQ(rules, by_id[id]->rules) << id << ": " << e["data"]["reasons"];
  }
  EXPECT_EQ(valid.size() + rejected.size(), 1000U);

  // GET /orders/{id} reaches each order's final status (under the expose path too).
  std::size_t settled = 0;
  ASSERT_TRUE(proc::poll_until(60s,
                               [&] {
                                 settled = 0;
                                 for (const auto& k : cases) {
                                   const auto res = http_get(api.url() + "/orders/" + k.id);
                                   const auto body = json::parse(res.body, nullptr, false);
                                   if (res.status == 200 &&
                                       body.value("status", "") ==
                                           (k.rules.empty() ? "valid" : "rejected"))
                                     ++settled;
                                 }
                                 return settled == cases.size();
                               }))
      << settled << " of " << cases.size() << " orders show their final status";
  const auto& burst_last = cases.at(7);  // burst-0's 8th order: over the per-customer limit
  const auto shown = json::parse(http_get(api.url() + "/orders/orders/" + burst_last.id).body);
  EXPECT_EQ(shown["status"], "rejected");
  EXPECT_EQ(shown["customer"], "burst-0");
  EXPECT_FALSE(shown["reasons"].empty());

  // One notification per order and stage, each rendered by notify.
  EXPECT_EQ(count(*run, "notifications"), 2000);
  ASSERT_TRUE(proc::poll_until(60s, [&] {
    return metric_value(notify.metrics_url(), "pipewright_messages_consumed_total") >= 2000;
  }));
  EXPECT_EQ(metric_value(notify.metrics_url(), "pipewright_dead_letters_total"), 0);
  // notify's log is appended while it is read, and a message counts as consumed around the
  // time its line is written: wait for the lines rather than read once.
  const std::vector<std::string> wanted = {"O pedido " + burst_last.id + " foi rejeitado: ",
                                           "O pedido " + cases.at(0).id + " foi aprovado.",
                                           "O pedido " + cases.at(0).id + " foi recebido."};
  std::string notified;
  EXPECT_TRUE(proc::poll_until(30s, [&] {
    notified = read_file(notify.log_file);
    return std::all_of(wanted.begin(), wanted.end(),
                       [&](const auto& w) { return notified.find(w) != std::string::npos; });
  })) << tail(notify.log_file);

  // audit holds every message of every topic, once, with its coordinates.
  long long total = 0;
  for (const auto& t : kTopics)
    total += count(*run, t);
  const auto log_file = run->data_dir() / "audit.jsonl";
  ASSERT_TRUE(proc::poll_until(
      60s, [&] { return static_cast<long long>(audit_lines(log_file).size()) >= total; }))
      << audit_lines(log_file).size() << " of " << total;
  std::set<std::string> coordinates;
  std::map<std::string, long long> per_topic;
  for (const auto& line : audit_lines(log_file)) {
    coordinates.insert(line["topic"].get<std::string>() + "/" + line["partition"].dump() + "/" +
                       line["offset"].dump());
    ++per_topic[line["topic"].get<std::string>()];
    EXPECT_TRUE(line.contains("key") && line.contains("time") && line["event"].contains("id"));
  }
  EXPECT_EQ(static_cast<long long>(coordinates.size()), total);
  EXPECT_EQ(static_cast<long long>(audit_lines(log_file).size()), total) << "repeated lines";
  for (const auto& t : kTopics)
    EXPECT_EQ(per_topic[run->topic(t)], count(*run, t)) << t;
  const auto latest =
      json::parse(http_get(audit.url() + "/audit/events?topic=orders-valid&limit=5").body);
  ASSERT_EQ(latest["events"].size(), 5U) << latest;
  EXPECT_EQ(latest["events"][0]["topic"], run->topic("orders-valid"));
  EXPECT_EQ(http_get(audit.url() + "/events?limit=0").status, 400);

  for (const auto& step : {"api", "fraud", "notify", "audit"})
    EXPECT_EQ(run->processes(step).at(0)->process.stop(20s), 0) << step;
}

TEST_F(OrdersTest, BadInputGetsAClearErrorWithTheFieldAndNothingIsPublished) {
  auto run = make_run("bad");
  run->set_config("api", {{"maxBodyBytes", 4096}});
  auto& api = run->start("api");
  const json good = {{"customer", "alice"},
                     {"items", {{{"sku", "a"}, {"quantity", 2}, {"price", 1.5}}}},
                     {"total", 3}};
  const auto with = [&](const std::string& pointer, const json& value) {
    auto b = good;
    b[json::json_pointer(pointer)] = value;
    return b.dump();
  };
  const auto without = [&](const std::string& key) {
    auto b = good;
    b.erase(key);
    return b.dump();
  };
  struct Bad {
    std::string what, body;
    int status;
    std::string field;
  };
  const std::vector<Bad> cases = {
      {"malformed JSON", R"({"customer": "alice", "items": [)", 400, "body"},
      {"an empty body", "", 400, "body"},
      {"not an object", "[1, 2]", 400, "body"},
      {"no customer", without("customer"), 400, "customer"},
      {"a numeric customer", with("/customer", 42), 400, "customer"},
      {"no items", without("items"), 400, "items"},
      {"items not a list", with("/items", "a"), 400, "items"},
      {"a negative quantity", with("/items/0/quantity", -3), 400, "items[0].quantity"},
      {"a quantity as text", with("/items/0/quantity", "2"), 400, "items[0].quantity"},
      {"a negative price", with("/items/0/price", -1), 400, "items[0].price"},
      {"a second item without sku",
       [&] {
         auto b = good;
         b["items"].push_back({{"quantity", 1}, {"price", 1}});
         return b.dump();
       }(),
       400, "items[1].sku"},
      {"a total as text", with("/total", "3"), 400, "total"},
      {"an id with a slash", with("/id", "a/b"), 400, "id"},
  };
  for (const auto& c : cases) {
    const auto res = http_request("POST", api.url() + "/orders", c.body, "application/json");
    EXPECT_EQ(res.status, c.status) << c.what << ": " << res.body;
    json body;
    ASSERT_NO_THROW(body = json::parse(res.body)) << c.what << ": " << res.body;
    EXPECT_FALSE(body.value("error", "").empty()) << c.what;
    EXPECT_EQ(body.value("field", ""), c.field) << c.what << ": " << res.body;
  }
  auto big = good;
  big["customer"] = std::string(5000, 'x');
  const auto too_big = post_order(api, big);
  EXPECT_EQ(too_big.status, 413) << too_big.body;
  EXPECT_FALSE(json::parse(too_big.body).value("error", "").empty());
  for (const auto& [method, path] : std::vector<std::pair<std::string, std::string>>{
           {"GET", "/nowhere"}, {"POST", "/order"}, {"DELETE", "/orders/x"}}) {
    const auto res = http_request(method, api.url() + path);
    EXPECT_EQ(res.status / 100, 4) << method << " " << path;
    EXPECT_FALSE(json::parse(res.body).value("error", "").empty()) << path;
  }
  const auto unknown = http_get(api.url() + "/orders/never-placed");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(json::parse(unknown.body)["field"], "id");
  EXPECT_EQ(count(*run, "orders"), 0);
  EXPECT_EQ(count(*run, "notifications"), 0);

  // The same id twice: the same answer, one order published.
  auto order = good;
  order["id"] = "dup-1";
  const auto first = post_order(api, order);
  const auto again = post_order(api, order, "/orders");  // under the expose path too
  EXPECT_EQ(first.status, 202) << first.body;
  EXPECT_EQ(again.status, 202) << again.body;
  EXPECT_EQ(json::parse(first.body), json::parse(again.body));
  EXPECT_EQ(json::parse(first.body), json({{"id", "dup-1"}, {"status", "received"}}));
  // Ten clients retrying one new order at once: one order published, ten identical answers.
  auto raced = good;
  raced["id"] = "dup-2";
  std::vector<std::thread> clients;
  std::vector<HttpResult> answers(10);
  for (std::size_t i = 0; i < answers.size(); ++i)
    clients.emplace_back([&, i] { answers[i] = post_order(api, raced); });
  for (auto& t : clients)
    t.join();
  for (const auto& a : answers) {
    EXPECT_EQ(a.status, 202) << a.body;
    EXPECT_EQ(a.body, answers.front().body);
  }
  auto changed = order;
  changed["total"] = 4;
  const auto conflict = post_order(api, changed);
  EXPECT_EQ(conflict.status, 409) << conflict.body;
  EXPECT_EQ(json::parse(conflict.body)["field"], "id");
  EXPECT_EQ(count(*run, "orders"), 2);
  EXPECT_EQ(count(*run, "notifications"), 2);
  EXPECT_EQ(json::parse(http_get(api.url() + "/orders/dup-1").body)["status"], "received");
}

TEST_F(OrdersTest, OpenApiAndTheDocsPageAreServedFromTheBinary) {
  auto run = make_run("docs");
  auto& api = run->start("api");
  for (const std::string base : {"", "/orders"}) {
    const auto doc = http_get(api.url() + base + "/openapi.json");
    ASSERT_EQ(doc.status, 200);
    const auto openapi = json::parse(doc.body);
    EXPECT_TRUE(openapi["openapi"].get<std::string>().starts_with("3."));
    EXPECT_TRUE(openapi["paths"]["/orders"].contains("post"));
    EXPECT_TRUE(openapi["paths"]["/orders/{id}"].contains("get"));
    EXPECT_EQ(openapi["servers"][0]["url"], "/orders");
    const auto page = http_get(api.url() + base + "/docs");
    ASSERT_EQ(page.status, 200);
    EXPECT_NE(page.headers.at("Content-Type").find("text/html"), std::string::npos);
    EXPECT_NE(page.body.find("<form id=\"order-form\""), std::string::npos);
    EXPECT_EQ(page.body.find("src=\"http"), std::string::npos) << "no CDN";
    EXPECT_EQ(page.body.find("href=\"http"), std::string::npos) << "no CDN";
    EXPECT_EQ(http_get(api.url() + base + "/docs/docs.js").status, 200);
    EXPECT_EQ(http_get(api.url() + base + "/docs/docs.css").status, 200);
  }
}

TEST_F(OrdersTest, AFraudRestartGivesRedeliveredOrdersTheSameDecision) {
  auto run = make_run("restart");
  run->set_config("fraud", {{"maxOrdersPerCustomer", 2}, {"window", "1h"}});
  auto& api = run->start("api");
  run->start("fraud");
  const auto place = [&](int from, int to) {
    for (int i = from; i < to; ++i) {
      const json order = {{"id", "r-" + std::to_string(i)},
                          {"customer", "rita"},
                          {"items", {{{"sku", "a"}, {"quantity", 1}, {"price", 1}}}},
                          {"total", 1}};
      ASSERT_EQ(post_order(api, order).status, 202);
    }
  };
  place(0, 3);
  ASSERT_TRUE(proc::poll_until(
      60s, [&] { return count(*run, "orders-valid") + count(*run, "orders-rejected") >= 3; }));
  // A hard kill, then its decisions log is all a new fraud process has: the window still
  // holds rita's earlier orders, and whatever is redelivered keeps its first answer.
  run->processes("fraud").back()->process.kill(SIGKILL);
  place(3, 5);
  run->start("fraud");
  ASSERT_TRUE(proc::poll_until(
      60s, [&] { return count(*run, "orders-valid") + count(*run, "orders-rejected") >= 5; }));
  // Five decisions may be four orders: one decided again after the kill (its output written,
  // its offset not yet committed) counts once. Wait for every order's.
  std::map<std::string, std::set<std::string>> statuses;  // order id -> statuses seen
  const auto every_order_decided = [&] {
    statuses.clear();
    for (const auto& t : {"orders-valid", "orders-rejected"}) {
      for (const auto& m : read_topic(broker->bootstrap(), run->topic(t), 1, 30s))
        statuses[event_json(m)["data"]["id"]].insert(t);
    }
    return statuses.size() >= 5;
  };
  ASSERT_TRUE(proc::poll_until(60s, every_order_decided)) << statuses.size() << " orders decided";
  ASSERT_EQ(statuses.size(), 5U);
  for (int i = 0; i < 5; ++i) {
    const auto id = "r-" + std::to_string(i);
    EXPECT_EQ(statuses[id], std::set<std::string>{i < 2 ? "orders-valid" : "orders-rejected"})
        << id;
  }
}

TEST_F(OrdersTest, AuditKilledMidStreamLogsEveryMessageOnceAfterItsRestart) {
  auto run = make_run("audit");
  auto& api = run->start("api");
  run->start("fraud");
  run->start("audit");
  const auto log_file = run->data_dir() / "audit.jsonl";
  const auto total = [&] {
    long long sum = 0;
    for (const auto& t : kTopics)
      sum += count(*run, t);
    return sum;
  };
  const auto place = [&](int from, int to) {
    for (int i = from; i < to; ++i) {
      const json order = {{"customer", "c" + std::to_string(i)},
                          {"items", {{{"sku", "a"}, {"quantity", 1}, {"price", 2}}}},
                          {"total", 2}};
      ASSERT_EQ(post_order(api, order).status, 202);
    }
  };
  place(0, 100);
  // Killed as soon as it has logged something (mid-stream as a rule): whatever it had not
  // committed is redelivered to the new process, which must not log it again.
  ASSERT_TRUE(proc::poll_until(60s, [&] { return !audit_lines(log_file).empty(); }));
  run->processes("audit").back()->process.kill(SIGKILL);
  place(100, 200);
  run->start("audit");
  ASSERT_TRUE(proc::poll_until(60s,
                               [&] {
                                 return count(*run, "orders-valid") >= 200 &&
                                        static_cast<long long>(audit_lines(log_file).size()) >=
                                            total();
                               }))
      << audit_lines(log_file).size() << " of " << total();
  std::set<std::string> coordinates;
  const auto lines = audit_lines(log_file);
  for (const auto& line : lines) {
    EXPECT_TRUE(coordinates
                    .insert(line["topic"].get<std::string>() + "/" + line["partition"].dump() +
                            "/" + line["offset"].dump())
                    .second)
        << "logged twice: " << line.dump();
  }
  EXPECT_EQ(static_cast<long long>(lines.size()), total());
}

}  // namespace
}  // namespace pipewright::testing
