// The orders pipeline's pure parts: what orders-api accepts (and the field it names when it does
// not), the fraud rules and their per-customer window under redelivery, and the state files of
// orders-api and audit across restarts and torn writes.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "pkg/runtime/wiring.h"
#include "pkg/workers/orders_rules.h"
#include "pkg/workers/orders_store.h"
#include "tests/support/suite_logs.h"

namespace pipewright::workers::orders {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

json good_order() {
  return {{"customer", "alice"},
          {"items",
           {{{"sku", "a"}, {"quantity", 2}, {"price", 10.5}},
            {{"sku", "b"}, {"quantity", 1}, {"price", 4}}}},
          {"total", 25}};
}

// The field validate_order names for `body`, or "" when it accepts it.
std::string refused_field(const json& body) {
  try {
    validate_order(body);
    return "";
  } catch (const OrderError& e) {
    EXPECT_NE(std::string(e.what()).find(e.field()), std::string::npos) << e.what();
    return e.field();
  }
}

TEST(OrderValidation, AcceptsAnOrderAndKeepsOnlyItsFields) {
  auto body = good_order();
  body["id"] = "order-1";
  body["color"] = "blue";
  const auto order = validate_order(body);
  EXPECT_EQ(order["id"], "order-1");
  EXPECT_EQ(order["customer"], "alice");
  EXPECT_EQ(order["items"].size(), 2U);
  EXPECT_FALSE(order.contains("color"));
  EXPECT_DOUBLE_EQ(items_sum(order), 25.0);
  EXPECT_FALSE(validate_order(good_order()).contains("id"));
}

TEST(OrderValidation, NamesTheFieldThatIsMissingOrWrong) {
  const auto with = [](const std::string& pointer, const json& value) {
    auto b = good_order();
    b[json::json_pointer(pointer)] = value;
    return b;
  };
  const auto without = [](const std::string& key) {
    auto b = good_order();
    b.erase(key);
    return b;
  };
  EXPECT_EQ(refused_field(json::array()), "body");
  EXPECT_EQ(refused_field(without("customer")), "customer");
  EXPECT_EQ(refused_field(with("/customer", 7)), "customer");
  EXPECT_EQ(refused_field(with("/customer", "  ")), "customer");
  EXPECT_EQ(refused_field(without("items")), "items");
  EXPECT_EQ(refused_field(with("/items", json::array())), "items");
  EXPECT_EQ(refused_field(with("/items", "x")), "items");
  EXPECT_EQ(refused_field(with("/items/1", 3)), "items[1]");
  EXPECT_EQ(refused_field(with("/items/1/quantity", -1)), "items[1].quantity");
  EXPECT_EQ(refused_field(with("/items/1/quantity", 0)), "items[1].quantity");
  EXPECT_EQ(refused_field(with("/items/0/quantity", 1.5)), "items[0].quantity");
  EXPECT_EQ(refused_field(with("/items/0/quantity", "2")), "items[0].quantity");
  EXPECT_EQ(refused_field(with("/items/1/price", -0.01)), "items[1].price");
  EXPECT_EQ(refused_field(with("/items/1/price", nullptr)), "items[1].price");
  EXPECT_EQ(refused_field(with("/items/0/sku", "")), "items[0].sku");
  EXPECT_EQ(refused_field(without("total")), "total");
  EXPECT_EQ(refused_field(with("/total", "25")), "total");
  EXPECT_EQ(refused_field(with("/id", "../x")), "id");
  EXPECT_EQ(refused_field(with("/id", 12)), "id");
  EXPECT_EQ(refused_field(with("/notify", "a@b.c")), "notify");
  EXPECT_EQ(refused_field(with("/items/0/price", 0)), "");       // free items are fine
  EXPECT_EQ(refused_field(with("/items/0/quantity", 2.0)), "");  // 2.0 is 2
  EXPECT_EQ(validate_order(with("/items/0/quantity", 2.0))["items"][0]["quantity"], 2);
}

FraudConfig rules() {
  return fraud_config({{"maxAmount", 1000},
                       {"maxOrdersPerCustomer", 3},
                       {"window", "60s"},
                       {"blockedCustomers", {"mallory"}}});
}

json order(const std::string& id, const std::string& customer, double price, double total) {
  return {{"id", id},
          {"customer", customer},
          {"items", {{{"sku", "x"}, {"quantity", 1}, {"price", price}}}},
          {"total", total}};
}

std::vector<std::string> rule_names(const FraudChecker::Decision& d) {
  std::vector<std::string> out;
  for (const auto& r : d.reasons)
    out.push_back(r.rule);
  return out;
}

TEST(FraudRules, EachRuleRejectsWithItsNameAndAText) {
  FraudChecker checker(rules());
  const auto t = 1'000'000;
  EXPECT_TRUE(checker.check(order("o1", "alice", 10, 10), t).valid);
  EXPECT_TRUE(checker.check(order("o2", "bob", 1000, 1000), t).valid);  // at the limit
  const auto over = checker.check(order("o3", "carol", 1000.01, 1000.01), t);
  EXPECT_FALSE(over.valid);
  EXPECT_EQ(rule_names(over), std::vector<std::string>{"maxAmount"});
  EXPECT_NE(over.reasons[0].message.find("1000.01"), std::string::npos) << over.reasons[0].message;
  EXPECT_EQ(rule_names(checker.check(order("o4", "mallory", 1, 1), t)),
            std::vector<std::string>{"blockedCustomers"});
  EXPECT_EQ(rule_names(checker.check(order("o5", "dave", 10, 12), t)),
            std::vector<std::string>{"totalMismatch"});
  EXPECT_TRUE(checker.check(order("o6", "erin", 0.1, 0.1), t).valid);
  // Several rules at once: every reason is given.
  EXPECT_EQ(rule_names(checker.check(order("o7", "mallory", 5000, 5001), t)),
            (std::vector<std::string>{"blockedCustomers", "maxAmount", "totalMismatch"}));
}

TEST(FraudRules, TheWindowCountsOrdersByTheirOwnTime) {
  FraudChecker checker(rules());
  const std::int64_t t0 = 5'000'000;
  std::vector<bool> valid;
  for (int i = 0; i < 5; ++i)
    valid.push_back(checker.check(order("b" + std::to_string(i), "zoe", 1, 1), t0 + i).valid);
  EXPECT_EQ(valid, (std::vector<bool>{true, true, true, false, false}));
  // 60 s after the first three, the window holds only the two rejected ones (+1 = 3): allowed.
  EXPECT_TRUE(checker.check(order("late", "zoe", 1, 1), t0 + 60'002).valid);
  // Another customer is not affected.
  EXPECT_TRUE(checker.check(order("other", "yann", 1, 1), t0 + 1).valid);
}

TEST(FraudRules, ARedeliveredOrderGetsTheSameDecisionAndIsNotCountedAgain) {
  FraudChecker checker(rules());
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 4; ++i) {
      const auto d = checker.check(order("r" + std::to_string(i), "walt", 1, 1), 100 + i);
      EXPECT_EQ(d.valid, i < 3) << "order " << i << " round " << round;
      EXPECT_EQ(d.repeated, round > 0);
    }
  }
  // Replaying a decision log gives the same state as checking.
  FraudChecker replayed(rules());
  for (int i = 0; i < 3; ++i)
    replayed.remember("r" + std::to_string(i), "walt", 100 + i, {});
  EXPECT_FALSE(replayed.check(order("r3", "walt", 1, 1), 103).valid);
  EXPECT_TRUE(replayed.check(order("r0", "walt", 1, 1), 100).repeated);
}

TEST(FraudRules, ConfigErrorsNameTheKey) {
  const auto message = [](const json& config) {
    try {
      fraud_config(config);
      return std::string();
    } catch (const runtime::ConfigError& e) {
      return std::string(e.what());
    }
  };
  EXPECT_NE(message({{"maxAmout", 10}}).find("maxAmout"), std::string::npos);
  EXPECT_NE(message({{"maxAmount", "lots"}}).find("maxAmount"), std::string::npos);
  EXPECT_NE(message({{"window", "soon"}}).find("soon"), std::string::npos);
  EXPECT_NE(message({{"blockedCustomers", "mallory"}}).find("blockedCustomers"), std::string::npos);
  EXPECT_NE(message({{"maxOrdersPerCustomer", 0}}).find("maxOrdersPerCustomer"), std::string::npos);
  EXPECT_EQ(message(json::object()), "");  // every rule optional
  EXPECT_EQ(fraud_config(json::object()).window, std::chrono::seconds(60));
}

TEST(OrderTimes, ParseTheEnvelopesTimeFormat) {
  EXPECT_EQ(parse_rfc3339_ms("1970-01-01T00:01:00.250Z"), 60250);
  EXPECT_EQ(rfc3339_ms(60250), "1970-01-01T00:01:00.250Z");
  EXPECT_FALSE(parse_rfc3339_ms("yesterday"));
}

// Issue 14, defect 8: every store that grows per request has a bound.
// Fraud writes its outputs and decision lines as text, without a document: the bytes must be
// what nlohmann's dump() of the same values writes, or a reader comparing texts would differ.
TEST(JsonText, StringsAndNumbersAreWrittenAsDumpWritesThem) {
  for (const std::string& s : {std::string(""), std::string("plain"), std::string("q\"uote\\back"),
                               std::string("\b\f\n\r\t"), std::string("\x01\x1f\x7f"),
                               std::string("ç ü 日本 🚀"), std::string("a\0b", 3)}) {
    std::string out;
    append_json_string(out, s);
    EXPECT_EQ(out, json(s).dump()) << s;
  }
  for (const double d :
       {0.0, 2.0, 12.5, 25.0, 40000.0, 0.1, 1e-7, 123456789.123, 1e21, -3.25, 199.99, 1e300}) {
    std::string out;
    append_json_number(out, d);
    EXPECT_EQ(out, json(d).dump()) << d;
  }
  const json nested = {{"email", "a@b.c"}, {"telegram", "@x"}};
  std::string out = "x";
  append_json(out, nested);
  EXPECT_EQ(out, "x" + nested.dump());
}

TEST(OrderStore, KeepsTheNewestOrdersAndNeverEvictsOneBeingPublished) {
  OrderStore store({}, 3);
  auto o = validate_order(good_order());
  for (const char* id : {"a", "b", "c"}) {
    ASSERT_EQ(store.claim(id, o), OrderStore::Claim::fresh);
    if (std::string(id) != "a") store.accept(id, "2026-11-23T10:00:00.000Z");
  }
  // "a" is still being published: "b" (the oldest settled) goes instead.
  EXPECT_EQ(store.claim("d", o), OrderStore::Claim::fresh);
  store.accept("d", "2026-11-23T10:00:00.000Z");
  EXPECT_FALSE(store.get("b"));
  EXPECT_TRUE(store.get("c"));
  store.accept("a", "2026-11-23T10:00:00.000Z");
  EXPECT_TRUE(store.get("a"));
  for (int i = 0; i < 100; ++i) {  // ids that fail to publish leave nothing behind either
    ASSERT_EQ(store.claim("x" + std::to_string(i), o), OrderStore::Claim::fresh);
    store.release("x" + std::to_string(i));
  }
  EXPECT_TRUE(store.get("a"));
  // All three pending: a fourth is refused, not kept.
  OrderStore busy({}, 3);
  for (const char* id : {"p", "q", "r"})
    ASSERT_EQ(busy.claim(id, o), OrderStore::Claim::fresh);
  EXPECT_EQ(busy.claim("s", o), OrderStore::Claim::full);
}

// Issue 14, defect 7: a repeat waited in a 5 ms sleep loop on an I/O thread; now it is woken by
// the first request's outcome.
TEST(OrderStore, ARepeatWhileTheFirstIsPublishingGetsItsOutcome) {
  OrderStore store({});
  auto o = validate_order(good_order());
  ASSERT_EQ(store.claim("w", o), OrderStore::Claim::fresh);
  std::thread first([&] { store.accept("w", "2026-11-23T10:00:00.000Z"); });
  EXPECT_EQ(store.claim("w", o, std::chrono::steady_clock::now() + std::chrono::seconds(30)),
            OrderStore::Claim::same);
  first.join();
  ASSERT_EQ(store.claim("v", o), OrderStore::Claim::fresh);
  EXPECT_EQ(store.claim("v", o, std::chrono::steady_clock::now() + std::chrono::milliseconds(50)),
            OrderStore::Claim::pending);
}

TEST(FraudChecker, OneOrderPerNewCustomerDoesNotGrowItsWindowsPastKeep) {
  FraudChecker checker(rules(), 100);
  for (int i = 0; i < 1000; ++i)
    checker.check(order("o" + std::to_string(i), "c" + std::to_string(i), 10, 10), 1000 + i);
  EXPECT_LE(checker.customers(), 100u);
}

TEST(AuditLog, KeepsNoMoreThanItsByteBudgetOfLargeMessages) {
  AuditLog audit({}, 10000, 100 * 1024);
  const std::string big(10 * 1024, 'x');
  for (int i = 0; i < 100; ++i)
    ASSERT_TRUE(audit.append({"t.orders", 0, i, "k", big, {}, 0}));
  const auto kept = audit.latest("", 1000);
  EXPECT_LE(kept.size(), 10u);
  EXPECT_GE(kept.size(), 5u);
  EXPECT_EQ(kept.back()["offset"], 99);  // the newest stay
}

TEST(OrderStore, IdsAreIdempotentAndStatusesSurviveARestart) {
  const auto file = testing::suite_dir() / "orders-store" / "orders.jsonl";
  fs::remove_all(file.parent_path());
  auto o = validate_order(good_order());
  o["id"] = "s1";
  {
    OrderStore store(file);
    EXPECT_EQ(store.claim("s1", o), OrderStore::Claim::fresh);
    EXPECT_EQ(store.claim("s1", o), OrderStore::Claim::pending);
    EXPECT_FALSE(store.get("s1"));
    store.accept("s1", "2026-11-23T10:00:00.000Z");
    EXPECT_EQ(store.claim("s1", o), OrderStore::Claim::same);
    auto other = o;
    other["total"] = 26;
    EXPECT_EQ(store.claim("s1", other), OrderStore::Claim::conflict);
    EXPECT_EQ(store.get("s1")->at("status"), "received");
    store.settle("s1", "rejected", json::array({{{"rule", "maxAmount"}, {"message", "m"}}}), o);
    // A publish that failed leaves nothing behind.
    EXPECT_EQ(store.claim("s2", o), OrderStore::Claim::fresh);
    store.release("s2");
    EXPECT_FALSE(store.get("s2"));
    store.sync();
  }
  std::ofstream(file, std::ios::app) << R"({"id":"s3","stat)";  // a torn last line
  OrderStore again(file);
  const auto s1 = again.get("s1");
  ASSERT_TRUE(s1);
  EXPECT_EQ(s1->at("status"), "rejected");
  EXPECT_EQ(s1->at("reasons")[0]["rule"], "maxAmount");
  EXPECT_EQ(s1->at("receivedAt"), "2026-11-23T10:00:00.000Z");
  EXPECT_EQ(again.claim("s1", o), OrderStore::Claim::same);
  EXPECT_FALSE(again.get("s2"));
  EXPECT_FALSE(again.get("s3"));
}

TEST(OrderStore, AFinalStatusIsNotUndoneByALateReceived) {
  OrderStore store({});
  auto o = validate_order(good_order());
  o["id"] = "fast";
  ASSERT_EQ(store.claim("fast", o), OrderStore::Claim::fresh);
  store.settle("fast", "valid", json::array(), o);  // fraud answered before accept()
  store.accept("fast", "2026-11-23T10:00:00.000Z");
  EXPECT_EQ(store.get("fast")->at("status"), "valid");
}

kafka::InMessage message(const std::string& topic, int partition, std::int64_t offset) {
  return {topic, partition,        offset, "k", R"({"id":"e)" + std::to_string(offset) + R"("})",
          {},    1'700'000'000'000};
}

TEST(AuditLog, LogsEachOffsetOnceAcrossRestarts) {
  const auto file = testing::suite_dir() / "audit" / "audit.jsonl";
  fs::remove_all(file.parent_path());
  {
    AuditLog audit(file);
    EXPECT_TRUE(audit.append(message("demo.orders.orders", 0, 0)));
    EXPECT_TRUE(audit.append(message("demo.orders.orders", 0, 1)));
    EXPECT_TRUE(audit.append(message("demo.orders.orders-valid", 0, 0)));
    EXPECT_FALSE(audit.append(message("demo.orders.orders", 0, 1)));  // redelivered
    audit.sync();
  }
  AuditLog again(file);
  EXPECT_EQ(again.size(), 3U);
  EXPECT_FALSE(again.append(message("demo.orders.orders", 0, 0)));
  EXPECT_TRUE(again.append(message("demo.orders.orders", 1, 0)));  // another partition
  EXPECT_TRUE(again.append(message("demo.orders.orders", 0, 2)));
  const auto orders = again.latest("orders", 10);
  ASSERT_EQ(orders.size(), 4U);
  EXPECT_EQ(orders[0]["offset"], 0);
  EXPECT_EQ(orders[3]["offset"], 2);
  EXPECT_EQ(orders[3]["event"]["id"], "e2");
  EXPECT_EQ(orders[3]["time"], "2023-11-14T22:13:20.000Z");
  EXPECT_EQ(again.latest("", 2).size(), 2U);
  EXPECT_EQ(again.latest("demo.orders.orders-valid", 10).size(), 1U);
  EXPECT_TRUE(again.latest("nothing", 10).empty());
  again.sync();  // what the runtime does before committing the batch
  std::ifstream in(file);
  std::string line;
  int lines = 0;
  while (std::getline(in, line))
    ++lines;
  EXPECT_EQ(lines, 5);
}

}  // namespace
}  // namespace pipewright::workers::orders
