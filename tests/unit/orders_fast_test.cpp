// Fraud decides on an order model and writes its outputs as text (no document per order); these
// tests hold the fast parts to what they replaced, kept below as `before` (the code at 0778026):
// the same errors for every body, the same decisions for every sequence of orders, the same
// bytes as the dumped documents, the same receive times. The order read from the data's text
// (no document of it) is held to the document's path for every text, valid or not.

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <ctime>
#include <deque>
#include <random>
#include <unordered_map>

#include "pkg/event/envelope.h"
#include "pkg/json/limited.h"
#include "pkg/runtime/runtime.h"
#include "pkg/workers/orders_rules.h"
#include "pkg/workers/orders_workers.h"

namespace pipewright::workers::orders {
namespace {

using nlohmann::json;

// --- the code before: validate_order building a document, the checker on it ----------------
namespace before {

constexpr std::size_t kMaxItems = 1000;
constexpr std::int64_t kMaxQuantity = 1'000'000;
constexpr double kMaxMoney = 1e12;
constexpr double kCent = 0.005;

const json& require(const json& object, const std::string& key, const std::string& path) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) throw OrderError(path, path + " is required");
  return *it;
}

std::string text_field(const json& object, const std::string& key, const std::string& path,
                       std::size_t max) {
  const auto& v = require(object, key, path);
  if (!v.is_string()) throw OrderError(path, path + " must be a string");
  auto s = v.get<std::string>();
  if (s.find_first_not_of(" \t\r\n") == std::string::npos) {
    throw OrderError(path, path + " must not be empty");
  }
  if (s.size() > max) {
    throw OrderError(path, path + " must be at most " + std::to_string(max) + " characters");
  }
  return s;
}

double money_field(const json& object, const std::string& key, const std::string& path) {
  const auto& v = require(object, key, path);
  if (!v.is_number()) throw OrderError(path, path + " must be a number");
  const auto d = v.get<double>();
  if (!std::isfinite(d) || d < 0) throw OrderError(path, path + " must not be negative");
  if (d > kMaxMoney) throw OrderError(path, path + " is too large");
  return d;
}

json item(const json& in, const std::string& path) {
  if (!in.is_object()) throw OrderError(path, path + " must be an object");
  const auto sku = text_field(in, "sku", path + ".sku", 100);
  const auto& q = require(in, "quantity", path + ".quantity");
  const bool whole =
      q.is_number_integer() ||
      (q.is_number_float() && std::isfinite(q.get<double>()) &&
       std::trunc(q.get<double>()) == q.get<double>() && std::abs(q.get<double>()) < 1e15);
  if (!whole) throw OrderError(path + ".quantity", path + ".quantity must be a whole number");
  const auto quantity =
      q.is_number_integer() ? q.get<std::int64_t>() : static_cast<std::int64_t>(q.get<double>());
  if (quantity <= 0 || quantity > kMaxQuantity) {
    throw OrderError(path + ".quantity",
                     path + ".quantity must be from 1 to " + std::to_string(kMaxQuantity));
  }
  return {
      {"sku", sku}, {"quantity", quantity}, {"price", money_field(in, "price", path + ".price")}};
}

json recipients(const json& notify) {
  if (!notify.is_object()) throw OrderError("notify", "notify must be an object");
  json out = json::object();
  for (const auto* key : {"email", "telegram"}) {
    const auto it = notify.find(key);
    if (it == notify.end() || it->is_null()) continue;
    out[key] = text_field(notify, key, std::string("notify.") + key, 320);
  }
  return out;
}

json validate_order(const json& body) {
  if (!body.is_object()) throw OrderError("body", "the body must be a JSON object (the order)");
  json order = json::object();
  if (const auto id = body.find("id"); id != body.end() && !id->is_null()) {
    if (!id->is_string() || !valid_order_id(id->get<std::string>())) {
      throw OrderError("id", "id must be a string of 1 to 64 letters, digits, '.', '_', '-', ':'");
    }
    order["id"] = *id;
  }
  order["customer"] = text_field(body, "customer", "customer", 200);
  const auto& items = require(body, "items", "items");
  if (!items.is_array()) throw OrderError("items", "items must be a list");
  if (items.empty()) throw OrderError("items", "items must not be empty");
  if (items.size() > kMaxItems) {
    throw OrderError("items", "items must have at most " + std::to_string(kMaxItems) + " entries");
  }
  order["items"] = json::array();
  for (std::size_t i = 0; i < items.size(); ++i) {
    order["items"].push_back(item(items[i], "items[" + std::to_string(i) + "]"));
  }
  order["total"] = money_field(body, "total", "total");
  if (const auto n = body.find("notify"); n != body.end() && !n->is_null()) {
    order["notify"] = recipients(*n);
  }
  return order;
}

std::string amount_text(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

class FraudChecker {
 public:
  FraudChecker(FraudConfig config, std::size_t keep) : config_(std::move(config)), keep_(keep) {}
  using Decision = orders::FraudChecker::Decision;

  Decision check(const json& order, std::int64_t time_ms) {
    const auto& id = order.at("id").get_ref<const std::string&>();
    if (const auto it = decided_.find(id); it != decided_.end()) {
      auto again = it->second;
      again.repeated = true;
      return again;
    }
    const auto& customer = order.at("customer").get_ref<const std::string&>();
    const auto total = order.at("total").get<double>();
    Decision d;
    if (config_.blocked.contains(customer)) {
      d.reasons.push_back({"blockedCustomers", "customer " + customer + " is blocked"});
    }
    if (config_.max_amount && total > *config_.max_amount) {
      d.reasons.push_back({"maxAmount", "total " + amount_text(total) + " is over maxAmount " +
                                            amount_text(*config_.max_amount)});
    }
    if (config_.max_per_customer) {
      const auto n = orders_in_window(customer, time_ms) + 1;
      if (n > *config_.max_per_customer) {
        d.reasons.push_back({"maxOrdersPerCustomer",
                             "order " + std::to_string(n) + " of customer " + customer +
                                 " within " + std::to_string(config_.window.count() / 1000) +
                                 "s; the limit is " + std::to_string(*config_.max_per_customer)});
      }
    }
    const auto sum = items_sum(order);
    if (std::abs(total - sum) > kCent + 1e-9 * sum) {
      d.reasons.push_back(
          {"totalMismatch",
           "total " + amount_text(total) + " does not match the items' sum " + amount_text(sum)});
    }
    d.valid = d.reasons.empty();
    remember(id, customer, time_ms, d);
    return d;
  }
  std::size_t customers() const { return times_.size(); }

  void remember(const std::string& id, const std::string& customer, std::int64_t time_ms,
                const Decision& decision) {
    if (!decided_.emplace(id, decision).second) return;
    decided_order_.push_back({id, customer, time_ms});
    auto& times = times_[customer];
    times.insert(time_ms);
    const auto horizon = *times.rbegin() - 2 * config_.window.count();
    times.erase(times.begin(), times.lower_bound(horizon));
    if (decided_order_.size() > keep_) {
      const auto& old = decided_order_.front();
      decided_.erase(old.id);
      if (const auto it = times_.find(old.customer); it != times_.end()) {
        if (const auto t = it->second.find(old.time_ms); t != it->second.end()) it->second.erase(t);
        if (it->second.empty()) times_.erase(it);
      }
      decided_order_.pop_front();
    }
  }

 private:
  std::int64_t orders_in_window(const std::string& customer, std::int64_t time_ms) const {
    const auto it = times_.find(customer);
    if (it == times_.end()) return 0;
    const auto from = it->second.upper_bound(time_ms - config_.window.count());
    const auto to = it->second.upper_bound(time_ms);
    return static_cast<std::int64_t>(std::distance(from, to));
  }

  FraudConfig config_;
  std::size_t keep_;
  std::unordered_map<std::string, Decision> decided_;
  struct Decided {
    std::string id, customer;
    std::int64_t time_ms;
  };
  std::deque<Decided> decided_order_;
  std::unordered_map<std::string, std::multiset<std::int64_t>> times_;
};

std::optional<std::int64_t> parse_rfc3339_ms(const std::string& text) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, ms = 0;
  char z = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3d%c", &y, &mo, &d, &h, &mi, &s, &ms,
                  &z) != 8 ||
      z != 'Z') {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return static_cast<std::int64_t>(timegm(&tm)) * 1000 + ms;
}

// fraud's order_of on the event's data document: the order, its id (else the event's), its
// receivedAt (else the event's time) and receive time, as "<order> <receivedAt> <ms>".
std::string received(const json& data, const std::string& event_id, const std::string& event_time,
                     std::int64_t timestamp_ms) {
  auto order = validate_order(data);
  order["id"] = data.value("id", event_id);
  const auto received_at = data.value("receivedAt", event_time);
  const auto time = parse_rfc3339_ms(received_at).value_or(timestamp_ms);
  return order.dump() + " " + received_at + " " + std::to_string(time);
}

}  // namespace before

// --- random bodies: mostly orders, with every kind of fault the validation names ---------------

class Bodies {
 public:
  explicit Bodies(unsigned seed) : rng_(seed) {}

  json next() {
    json body = json::object();
    if (chance(70)) body["id"] = id();
    if (chance(97)) body["customer"] = text(chance(2) ? 210 : 12);
    json items = json::array();
    const int n = chance(3) ? 0 : 1 + pick(3);
    for (int i = 0; i < n; ++i)
      items.push_back(item());
    if (chance(97)) body["items"] = chance(2) ? json("x") : items;
    if (chance(97)) body["total"] = money();
    if (chance(40)) body["notify"] = notify();
    if (chance(10)) body["color"] = "blue";  // unknown: ignored
    if (chance(3)) return chance(50) ? json::array() : json("order");
    return body;
  }

  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  bool chance(int percent) { return pick(100) < percent; }

 private:
  json id() {
    switch (pick(30)) {
      case 0:
        return nullptr;
      case 1:
        return 12;
      case 2:
        return "../x";
      case 3:
        return std::string(65, 'a');
      default:
        return "o-" + std::to_string(pick(100000));
    }
  }
  json text(std::size_t length) {
    switch (pick(40)) {
      case 0:
        return 7;
      case 1:
        return nullptr;
      case 2:
        return " \t";
      case 3:
        return "";
      case 4:
        return "q\"uote\\back\n\x01 ç 日本 🚀";
      default: {
        std::string s;
        for (std::size_t i = 0; i < length; ++i)
          s += static_cast<char>('a' + pick(26));
        return s;
      }
    }
  }
  json money() {
    switch (pick(40)) {
      case 0:
        return "25";
      case 1:
        return -0.01;
      case 2:
        return 2e12;
      case 3:
        return nullptr;
      case 4:
        return 0;
      case 5:
        return 25;
      default:
        return std::round(std::uniform_real_distribution<double>(0, 30000)(rng_) * 100) / 100;
    }
  }
  json quantity() {
    switch (pick(40)) {
      case 0:
        return 1.5;
      case 1:
        return 2.0;
      case 2:
        return -1;
      case 3:
        return 0;
      case 4:
        return "2";
      case 5:
        return 1'000'001;
      case 6:
        return 1e15;
      case 7:
        return nullptr;
      default:
        return 1 + pick(5);
    }
  }
  json item() {
    if (chance(3)) return 3;
    json i = json::object();
    if (chance(97)) i["sku"] = text(chance(2) ? 101 : 5);
    if (chance(97)) i["quantity"] = quantity();
    if (chance(97)) i["price"] = money();
    return i;
  }
  json notify() {
    if (chance(5)) return "a@b.c";
    if (chance(5)) return nullptr;
    json n = json::object();
    if (chance(60)) n["email"] = chance(5) ? text(330) : json("a@b.c");
    if (chance(40)) n["telegram"] = chance(5) ? json(nullptr) : json("@someone");
    return n;
  }

  std::mt19937 rng_;
};

struct Outcome {
  std::string error;  // "field: message" of the OrderError, "" when valid
  json order;
};

template <typename Validate>
Outcome outcome(const Validate& validate, const json& body) {
  try {
    return {"", validate(body)};
  } catch (const OrderError& e) {
    return {e.field() + ": " + e.what(), nullptr};
  }
}

TEST(OrderModel, RefusesAndKeepsExactlyWhatTheDocumentValidationDid) {
  Bodies bodies(15);
  int valid = 0;
  for (int i = 0; i < 20000; ++i) {
    const auto body = bodies.next();
    const auto old = outcome(before::validate_order, body);
    const auto now = outcome([](const json& b) { return to_json(order_model(b)); }, body);
    ASSERT_EQ(now.error, old.error) << body.dump();
    ASSERT_EQ(now.order.dump(), old.order.dump()) << body.dump();
    ASSERT_EQ(outcome(validate_order, body).order.dump(), old.order.dump()) << body.dump();
    if (old.error.empty()) {
      ++valid;
      ASSERT_EQ(items_sum(order_model(body)), items_sum(old.order)) << body.dump();
    }
  }
  // Both kinds are well represented.
  EXPECT_GT(valid, 2000);
  EXPECT_LT(valid, 18000);
}

TEST(OrderModel, TheDecisionAndNotificationAreTheDumpsOfTheirDocuments) {
  Bodies bodies(16);
  const std::vector<Reason> two{{"maxAmount", "total 30000.00 is over maxAmount 1000.00"},
                                {"blockedCustomers", "customer q\"uote\\ ç is blocked"}};
  const std::vector<Reason> none;
  int checked = 0;
  for (int i = 0; i < 20000; ++i) {
    const auto body = bodies.next();
    json doc;
    try {
      doc = before::validate_order(body);
    } catch (const OrderError&) {
      continue;
    }
    auto order = order_model(body);
    if (!order.id) order.id = "ev-" + std::to_string(i);
    const std::string received_at = i % 7 == 0 ? "" : "2026-12-01T21:00:00.123Z";
    for (const auto* reasons : {static_cast<const std::vector<Reason>*>(nullptr), &none, &two}) {
      const std::string status = reasons == nullptr ? "valid" : "rejected";
      // What decide() built and dumped before.
      auto data = doc;
      data["id"] = *order.id;
      data["receivedAt"] = received_at;
      data["status"] = status;
      if (reasons != nullptr) data["reasons"] = to_json(*reasons);
      ASSERT_EQ(decision_data(order, received_at, status, reasons), data.dump()) << body.dump();

      const auto& listed = reasons == nullptr ? none : *reasons;
      json messages = json::array();
      for (const auto& r : listed)
        messages.push_back(r.message);
      const json notification = {{"customer", doc["customer"]},
                                 {"notify", doc.value("notify", json::object())},
                                 {"operation", "order." + status},
                                 {"order", *order.id},
                                 {"reasons", messages},
                                 {"total", doc["total"]}};
      ASSERT_EQ(notification_data(order, status, listed), notification.dump()) << body.dump();
    }
    ++checked;
  }
  EXPECT_GT(checked, 2000);
}

// Random streams of orders (few customers, times back and forth, redeliveries, a small keep so
// old orders are forgotten): every decision and the kept state as the document checker had them.
// The notification, its constant texts written once per step, is the message built per
// message before (source, type and id concatenated for each): the same topic, key, headers and
// value, byte for byte.
TEST(StatusNotification, IsTheMessageBuiltPerMessageBefore) {
  runtime::Wiring w;
  w.namespace_ = "demo";
  w.pipeline = "shop";
  w.step = "fraud";
  w.outputs = {{"notifications", "demo.shop.notifications"}};
  const runtime::Runtime runtime(w, json::object());
  const auto source = w.source();
  auto order = order_model(json{{"customer", "al\"ice"},
                                {"items", {{{"sku", "a"}, {"quantity", 2}, {"price", 10.5}}}},
                                {"total", 21},
                                {"notify", {{"email", "a@example.com"}}}});
  order.id = "order-\u00e9-1";
  const std::vector<Reason> reasons{{"maxAmount", "the total is over 20"},
                                    {"blocked", "the customer is \"blocked\""}};
  const std::string time = "2026-12-02T05:10:00.123Z";
  for (const std::string name : {"received", "valid", "rejected"}) {
    const auto& why = name == "rejected" ? reasons : std::vector<Reason>{};
    const auto got = status_notification(runtime, source, order, Status(name), why, time);
    const event::Envelope old{*order.id + "." + name + ".notification", "pipewright.order." + name,
                              time, w.source(), nullptr};
    const auto want =
        runtime.message("notifications", *order.id, old, notification_data(order, name, why));
    EXPECT_EQ(got.topic, "demo.shop.notifications");
    EXPECT_EQ(got.key, want.key);
    EXPECT_EQ(got.value, want.value);
    ASSERT_EQ(got.headers.size(), want.headers.size()) << name;
    for (std::size_t i = 0; i < got.headers.size(); ++i) {
      EXPECT_EQ(got.headers[i].key, want.headers[i].key) << name;
      EXPECT_EQ(got.headers[i].value, want.headers[i].value) << name;
    }
    const auto header = [&](const std::string& key) {
      for (const auto& h : got.headers)
        if (h.key == key) return h.value;
      return std::string("(none)");
    };
    EXPECT_EQ(header("ce_id"), *order.id + "." + name + ".notification");
    EXPECT_EQ(header("ce_type"), "pipewright.order." + name);
    EXPECT_EQ(header("ce_source"), "/pipewright/demo/shop/fraud");
  }
}

TEST(FraudChecker, DecidesEveryStreamAsTheDocumentCheckerDid) {
  for (unsigned seed = 1; seed <= 20; ++seed) {
    std::mt19937 rng(seed);
    const auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };
    FraudConfig config{
        1000.0, 1 + pick(4), std::chrono::milliseconds(1000 + pick(60000)), {"c0", "c3"}};
    if (seed % 4 == 0) config.max_amount.reset();
    if (seed % 5 == 0) config.max_per_customer.reset();
    const std::size_t keep = 50 + static_cast<std::size_t>(pick(200));
    before::FraudChecker old(config, keep);
    FraudChecker now(config, keep);
    std::int64_t clock = 1'790'000'000'000;
    for (int i = 0; i < 5000; ++i) {
      clock += pick(3000) - 800;
      const auto price = pick(10) == 0 ? 2000.0 : 10.0;
      const json order = {{"id", "o" + std::to_string(pick(3) == 0 ? pick(i + 1) : i)},
                          {"customer", "c" + std::to_string(pick(12))},
                          {"items", {{{"sku", "x"}, {"quantity", 1 + pick(3)}, {"price", price}}}},
                          {"total", pick(20) == 0 ? price + 1 : price * (1 + pick(3))}};
      const auto time = pick(4) == 0 ? clock - pick(120000) : clock;
      if (pick(50) == 0) {
        const FraudChecker::Decision replayed{pick(2) == 0, {{"maxAmount", "replayed"}}, false};
        old.remember(order["id"], order["customer"], time, replayed);
        now.remember(order["id"], order["customer"], time, replayed);
        continue;
      }
      auto model = order_model(order);
      model.id = order["id"].get<std::string>();
      const auto a = old.check(order, time);
      const auto b = now.check(model, time);
      ASSERT_EQ(b.valid, a.valid) << "seed " << seed << " order " << i;
      ASSERT_EQ(b.repeated, a.repeated) << "seed " << seed << " order " << i;
      ASSERT_EQ(to_json(b.reasons), to_json(a.reasons)) << "seed " << seed << " order " << i;
      ASSERT_EQ(now.customers(), old.customers()) << "seed " << seed << " order " << i;
    }
  }
}

TEST(OrderTimes, ThePositionalReadingIsTheGeneralOne) {
  std::mt19937 rng(3);
  const auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };
  const std::string shapes[] = {"2026-11-23T09:00:00.123Z", "1970-01-01T00:00:00.000Z",
                                "2024-02-29T23:59:59.999Z", "0000-01-01T00:00:00.000Z",
                                "9999-12-31T23:59:59.999Zjunk"};
  const std::string alphabet = "0123456789-T:.Z +x";
  int fast = 0;
  for (int i = 0; i < 200000; ++i) {
    auto text = shapes[static_cast<std::size_t>(pick(5))];
    // Change a few characters: digits (days past the month's end, month 13, second 60, ...),
    // separators, signs, spaces; sometimes cut or lengthen it.
    for (int k = pick(4); k > 0; --k) {
      text[static_cast<std::size_t>(pick(static_cast<int>(text.size())))] =
          alphabet[static_cast<std::size_t>(pick(pick(3) == 0 ? 18 : 10))];
    }
    if (pick(20) == 0) text.resize(static_cast<std::size_t>(pick(26)));
    const auto old = before::parse_rfc3339_ms(text);
    ASSERT_EQ(parse_rfc3339_ms(text), old) << text;
    if (old) ++fast;
  }
  EXPECT_GT(fast, 50000);
}

// --- the order read from the data's text against the document's path ---------------------------

const std::string kEventId = "ev-1";
const std::string kEventTime = "2026-12-01T21:00:00.250Z";
constexpr std::int64_t kTimestamp = 1'790'000'000'000;

std::string described(const ReceivedOrder& r) {
  return to_json(r.order).dump() + " " + r.received_at + " " + std::to_string(r.time_ms);
}

// What a path made of a text: the order, or the error it threw.
template <typename Read>
std::string outcome_of(const Read& read) {
  try {
    return read();
  } catch (const OrderError& e) {
    return "OrderError " + e.field() + ": " + e.what();
  } catch (const json::exception& e) {
    return std::string("json ") + e.what();
  }
}

// The old order_of, today's on a document, and the text path ("unsure" for its nullopt).
std::string by_before(const json& data, const std::string& event_id) {
  return outcome_of([&] { return before::received(data, event_id, kEventTime, kTimestamp); });
}
std::string by_document(const json& data, const std::string& event_id) {
  return outcome_of(
      [&] { return described(received_order(data, event_id, kEventTime, kTimestamp)); });
}
std::string by_text(std::string_view text, const std::string& event_id) {
  return outcome_of([&] {
    const auto r = received_order_text(text, event_id, kEventTime, kTimestamp);
    return r ? described(*r) : std::string("unsure");
  });
}

// The text path answers as the document's does, or leaves it (nullopt) only where it may: no
// JSON (or too deep for a document), an id that is null, a receivedAt that is no string.
// Returns whether it answered.
bool reads_as_the_document(const std::string& text, const std::string& event_id = kEventId) {
  const auto fast = by_text(text, event_id);
  std::optional<json> data;
  try {
    data = pipewright::json::parse(text);
  } catch (const pipewright::json::ParseError&) {
    EXPECT_EQ(fast, "unsure") << text.substr(0, 2000);
    return false;
  }
  const auto slow = by_document(*data, event_id);
  EXPECT_EQ(slow, by_before(*data, event_id)) << text.substr(0, 2000);
  if (fast == "unsure") {
    const bool may = data->is_object() &&
                     ((data->contains("id") && data->at("id").is_null()) ||
                      (data->contains("receivedAt") && !data->at("receivedAt").is_string()));
    EXPECT_TRUE(may) << "left to the document: " << text.substr(0, 2000);
    return false;
  }
  EXPECT_EQ(fast, slow) << text.substr(0, 2000);
  return true;
}

// Texts of a body: its dump, and the same with whitespace, escapes, a repeated key (before or
// after the one it repeats: the last one counts) or a few bytes changed.
class Texts {
 public:
  explicit Texts(unsigned seed) : rng_(seed) {}

  std::string of(const json& body) {
    switch (pick(8)) {
      case 0:
        return body.dump(pick(3));
      case 1:
        return escaped(body.dump());
      case 2:
      case 3:
        return repeated(body.dump());
      case 4:
        return changed(body.dump());
      default:
        return body.dump();
    }
  }

  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }

  // A value for a key of the order (or one it ignores), often of the wrong kind.
  std::string value() {
    static const std::vector<std::string> values = {"null",
                                                    "true",
                                                    "1",
                                                    "-0",
                                                    "1e3",
                                                    "2.0",
                                                    "\"\"",
                                                    "\"x\"",
                                                    "\"a@b.c\"",
                                                    "[]",
                                                    "{}",
                                                    "[{\"sku\":\"a\",\"quantity\":1,\"price\":1}]",
                                                    "{\"email\":\"e@x\"}",
                                                    "\"2026-11-23T09:00:00.123Z\"",
                                                    "18446744073709551615",
                                                    "-9223372036854775809",
                                                    "[[[{\"a\":[1,{\"b\":null}]}]]]",
                                                    "\"o-\\u0031\""};
    return values[static_cast<std::size_t>(pick(static_cast<int>(values.size())))];
  }
  std::string key() {
    static const std::vector<std::string> keys = {
        "id",    "customer", "items", "total",    "notify", "receivedAt", "sku",
        "price", "quantity", "email", "telegram", "color",  "i\\u0064"};
    return keys[static_cast<std::size_t>(pick(static_cast<int>(keys.size())))];
  }

 private:
  // Some letters as \u escapes (in keys too: "qu\u0061ntity" is the key "quantity").
  std::string escaped(const std::string& text) {
    std::string out;
    for (const char c : text) {
      if ((c == 'a' || c == 'e' || c == 'd') && pick(2) == 0) {
        out += c == 'a' ? "\\u0061" : c == 'e' ? "\\u0065" : "\\u0064";
      } else {
        out += c;
      }
    }
    return out;
  }
  // A member "key":value added at the start or the end of one of the text's objects.
  std::string repeated(std::string text) {
    std::vector<std::size_t> opens, closes;
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '{') opens.push_back(i);
      if (text[i] == '}') closes.push_back(i);
    }
    if (opens.empty()) return text;
    const auto member = "\"" + key() + "\":" + value();
    if (pick(2) == 0) {
      const auto at = opens[static_cast<std::size_t>(pick(static_cast<int>(opens.size())))];
      const bool empty = text[at + 1] == '}';
      text.insert(at + 1, empty ? member : member + ",");
    } else {
      const auto at = closes[static_cast<std::size_t>(pick(static_cast<int>(closes.size())))];
      const bool empty = text[at - 1] == '{';
      text.insert(at, empty ? member : "," + member);
    }
    return text;
  }
  // A few bytes inserted, removed or replaced: mostly no JSON, sometimes another order.
  std::string changed(std::string text) {
    static const std::string alphabet = "{}[]\":,0123456789.-+eE \\utnrfals\x01\xc3\xa7";
    for (int k = 1 + pick(3); k > 0 && !text.empty(); --k) {
      const auto at = static_cast<std::size_t>(pick(static_cast<int>(text.size())));
      const char c = alphabet[static_cast<std::size_t>(pick(static_cast<int>(alphabet.size())))];
      switch (pick(3)) {
        case 0:
          text.insert(at, 1, c);
          break;
        case 1:
          text.erase(at, 1);
          break;
        default:
          text[at] = c;
      }
    }
    return text;
  }

  std::mt19937 rng_;
};

TEST(OrderText, ReadsEveryTextAsTheDocumentPathDoes) {
  Bodies bodies(17);
  Texts texts(18);
  int answered = 0, valid = 0;
  for (int i = 0; i < 20000; ++i) {
    auto body = bodies.next();
    // receivedAt, which fraud reads beside the order: a time, another text, or of a wrong kind.
    if (body.is_object() && bodies.chance(60)) {
      switch (bodies.pick(8)) {
        case 0:
          body["receivedAt"] = nullptr;
          break;
        case 1:
          body["receivedAt"] = 5;
          break;
        case 2:
          body["receivedAt"] = "yesterday";
          break;
        default:
          body["receivedAt"] = "2026-11-23T09:00:0" + std::to_string(bodies.pick(10)) + ".123Z";
      }
    }
    const auto text = texts.of(body);
    // An event id that is not UTF-8 is refused when the order has none of its own.
    const auto event_id = bodies.chance(5) ? std::string("ev-\xff") : kEventId;
    if (reads_as_the_document(text, event_id)) {
      ++answered;
      if (by_text(text, event_id).starts_with("{")) ++valid;
    }
  }
  // Most texts are answered, valid orders and refused ones alike.
  EXPECT_GT(answered, 12000);
  EXPECT_GT(valid, 2000);
  EXPECT_LT(valid, answered - 2000);
}

TEST(OrderText, ReadsTheHardCasesAsTheDocumentPathDoes) {
  const std::string item = R"({"sku":"a","quantity":2,"price":10.5})";
  const auto order = [&](const std::string& members) {
    return R"({"customer":"c","items":[)" + item + R"(],"total":21)" + members + "}";
  };
  std::vector<std::string> cases = {
      order(""),
      order(R"(,"id":"o-1","receivedAt":"2026-11-23T09:00:00.123Z")"),
      // Repeated keys: the last one counts, in the body, the items and notify.
      order(R"(,"total":"x")"),
      order(R"(,"customer":"d","customer":"e")"),
      R"({"total":"x","customer":"c","items":[)" + item + R"(],"total":21})",
      order(R"(,"items":5)"),
      order(R"(,"items":[{"sku":"b","quantity":1,"price":21}])"),
      R"({"items":[{"sku":"a","sku":7,"quantity":2,"price":10.5}],"customer":"c","total":21})",
      R"({"items":[{"sku":7,"sku":"a","quantity":2,"price":10.5,"price":"p"}],"customer":"c","total":21})",
      order(R"(,"notify":{"email":"a@b.c"},"notify":{"telegram":"@t"})"),
      order(R"(,"notify":{"email":"a@b.c","email":null})"),
      order(R"(,"notify":{"email":"a@b.c"},"notify":null)"),
      order(R"(,"notify":{"email":"a@b.c"},"notify":3)"),
      order(R"(,"id":null,"id":"o-2")"),
      order(R"(,"id":"o-2","id":null)"),
      order(R"(,"receivedAt":{},"receivedAt":"2026-11-23T09:00:00.123Z")"),
      order(R"(,"receivedAt":"2026-11-23T09:00:00.123Z","receivedAt":[])"),
      // Escapes: in values and keys, surrogate pairs, a lone surrogate (no JSON).
      order(R"(,"\u0069d":"o-\u0033")"),
      R"({"cust\u006fmer":"\u00e7\ud83d\ude80\u65e5","items":[)" + item + R"(],"total":21})",
      R"({"customer":"\ud800","items":[)" + item + R"(],"total":21})",
      R"({"customer":"a\u0000b","items":[)" + item + R"(],"total":21})",
      "{\"customer\":\"\xff\",\"items\":[" + item + "],\"total\":21}",
      // Numbers: unsigned, past int64, -0, exponents, too large for a double (no JSON).
      R"({"customer":"c","items":[{"sku":"a","quantity":18446744073709551615,"price":1}],"total":1})",
      R"({"customer":"c","items":[{"sku":"a","quantity":9223372036854775808,"price":1}],"total":1})",
      R"({"customer":"c","items":[{"sku":"a","quantity":-9223372036854775809,"price":1}],"total":1})",
      R"({"customer":"c","items":[{"sku":"a","quantity":1e3,"price":-0}],"total":-0.0})",
      R"({"customer":"c","items":[{"sku":"a","quantity":2.0,"price":1E1}],"total":2e1})",
      R"({"customer":"c","items":[{"sku":"a","quantity":1e15,"price":1}],"total":1})",
      R"({"customer":"c","items":[{"sku":"a","quantity":1,"price":1e400}],"total":1})",
      R"({"customer":"c","items":[{"sku":"a","quantity":1,"price":1}],"total":1000000000000.0001})",
      R"({"customer":"c","items":[{"sku":"a","quantity":1,"price":1}],"total":1e12})",
      // What the plain reader takes and what it leaves to nlohmann's parser: short escapes,
      // literals, integers of 18 and 19 digits, tiny and negative numbers, whitespace.
      R"({"customer":"t\tb\/\"\\","items":[{"sku":"a\nb","quantity":2,"price":10.5}],"total":21})",
      order(R"(,"x":[true,false,null,{"y":[]}],"notify":{"email":"a@b.c","telegram":null})"),
      R"({"customer":"c","items":[{"sku":"a","quantity":123456789012345678,"price":1}],"total":1})",
      R"({"customer":"c","items":[{"sku":"a","quantity":1234567890123456789,"price":1}],"total":1})",
      R"({"customer":"c","items":[{"sku":"a","quantity":-3,"price":5e-324}],"total":1e-400})",
      R"({"customer":"c","items":[{"sku":"a","quantity":1,"price":0.1}],"total":-1})",
      R"({"customer":"c", "items":[{"sku":"a","quantity":1,"price":1}],"total":1})",
      R"({"customer":"c","items":[{"sku":"a","quantity":01,"price":1}],"total":1})",
      R"({"customer":"c","items":[{"sku":"a","quantity":1.,"price":1}],"total":1})",
      R"({"customer":"c","items":[{"sku":"a","quantity":1,"price":1}],"total":1,})",
      R"({"customer":"c","items":[{"sku":"a","quantity":1,"price":1}],"total":tru})",
      // Not an order, not JSON, trailing bytes.
      "[]",
      "null",
      "\"order\"",
      "7",
      "",
      " ",
      "{",
      "{}",
      "{\"id\":}",
      order("") + " x",
      order("") + "{}",
      order(R"(,"items":[1,[2],{"x":1},null])"),
  };
  // Items: none, the most there may be, one too many (all refused before any is read).
  std::string many;
  for (int i = 0; i < 1001; ++i)
    many += (i > 0 ? "," : "") + item;
  cases.push_back(R"({"customer":"c","items":[)" + many + R"(],"total":1})");
  cases.push_back(R"({"customer":"c","items":[)" + many.substr(item.size() + 1) +
                  R"(],"total":10500})");
  cases.push_back(R"({"customer":"c","items":[)" + many + R"(,{"sku":1}],"total":1})");
  // Huge strings.
  cases.push_back(order(R"(,"customer":")" + std::string(1 << 20, 'x') + "\""));
  cases.push_back(order(R"(,"color":")" + std::string(1 << 20, 'x') + "\""));
  // Nesting: at the limit of a document, past it, and 100,000 deep (no stack overflow).
  for (const int depth : {30, 63, 64, 65, 100000}) {
    const auto nested = std::string(static_cast<std::size_t>(depth), '[') +
                        std::string(static_cast<std::size_t>(depth), ']');
    cases.push_back(nested);
    cases.push_back(order(R"(,"color":)" + nested));
    cases.push_back(R"({"customer":"c","items":[)" + item + "," + nested + R"(],"total":21})");
    cases.push_back(order(R"(,"notify":{"email":)" + nested + "}"));
    cases.emplace_back(static_cast<std::size_t>(depth), '[');
  }
  int answered = 0;
  for (const auto& text : cases) {
    answered += reads_as_the_document(text) ? 1 : 0;
    answered += reads_as_the_document(text, "ev-\xff") ? 1 : 0;
  }
  EXPECT_GT(answered, 80);
}

// The data as fraud gets it, in each mode a message may carry it: the text from_kafka_text
// keeps, read without a document, is the order the decoded event's document gives.
TEST(OrderText, ReadsTheDataOfEveryEventModeAsTheDecodedEvent) {
  Bodies bodies(19);
  int answered = 0;
  for (int i = 0; i < 3000; ++i) {
    const auto data = bodies.next();
    const json envelope = {{"id", "ev-" + std::to_string(i)},
                           {"type", "pipewright.order.created"},
                           {"time", kEventTime},
                           {"source", "/orders/api"},
                           {"data", data}};
    auto structured = envelope;
    structured["specversion"] = "1.0";
    structured["datacontenttype"] = "application/json";
    const std::vector<std::pair<std::string, event::Headers>> messages = {
        {envelope.dump(), {}},
        {structured.dump(), {{"content-type", "application/cloudevents+json"}}},
        {data.dump(),
         {{"ce_specversion", "1.0"},
          {"ce_id", "ev-" + std::to_string(i)},
          {"ce_source", "/orders/api"},
          {"ce_type", "pipewright.order.created"},
          {"ce_time", kEventTime},
          {"content-type", "application/json"}}}};
    for (const auto& [value, headers] : messages) {
      const auto text = event::from_kafka_text(value, headers);
      if (!text) continue;  // not sure of the text (some escapes): fraud decodes the event
      const auto decoded = event::from_kafka(value, headers).event;
      const auto fast = outcome_of([&] {
        const auto r = received_order_text(text->data, text->event.id, text->event.time, 7);
        return r ? described(*r) : std::string("unsure");
      });
      const auto slow = outcome_of(
          [&] { return described(received_order(decoded.data, decoded.id, decoded.time, 7)); });
      if (fast == "unsure") continue;
      ASSERT_EQ(fast, slow) << value;
      ++answered;
    }
  }
  EXPECT_GT(answered, 8000);
}

// Fraud reads the data unchecked (event::DataText::unchecked): whatever form its text has
// (indented, escaped, repeated keys, changed values, cut short: no JSON), in a legacy envelope
// or as a binary-mode value, an order read from it is what the decoded event gives, and an
// error the same error; a message whose data is no JSON is left to the decoded event, which
// refuses it.
TEST(OrderText, ReadsUncheckedDataAsTheDecodedEvent) {
  Bodies bodies(23);
  Texts texts(24);
  int answered = 0, cut = 0;
  for (int i = 0; i < 4000; ++i) {
    auto data = texts.of(bodies.next());
    if (i % 8 == 0) data.resize(data.size() / 2);
    const std::string id = "ev-" + std::to_string(i);
    const std::vector<std::pair<std::string, event::Headers>> messages = {
        {R"({"data":)" + data + R"(,"id":")" + id + R"(","source":"/orders/api","time":")" +
             kEventTime + R"(","type":"pipewright.order.created"})",
         {}},
        {data,
         {{"ce_specversion", "1.0"},
          {"ce_id", id},
          {"ce_source", "/orders/api"},
          {"ce_type", "pipewright.order.created"},
          {"ce_time", kEventTime},
          {"content-type", "application/json"}}}};
    for (const auto& [value, headers] : messages) {
      std::string slow = "refused";
      try {
        const auto decoded = event::from_kafka(value, headers).event;
        slow = outcome_of(
            [&] { return described(received_order(decoded.data, decoded.id, decoded.time, 7)); });
      } catch (const event::EnvelopeError&) {
      }
      const auto text = event::from_kafka_text(value, headers, event::DataText::unchecked);
      if (!text) continue;  // the envelope is not canonical: fraud decodes the event
      if (const auto checked = event::from_kafka_text(value, headers)) {
        EXPECT_EQ(checked->data, text->data) << value;
      }
      const auto fast = outcome_of([&] {
        const auto r = received_order_text(text->data, text->event.id, text->event.time, 7);
        return r ? described(*r) : std::string("unsure");
      });
      if (slow == "refused") {
        ASSERT_EQ(fast, "unsure") << value;
        ++cut;
        continue;
      }
      if (fast == "unsure") continue;
      ASSERT_EQ(fast, slow) << value;
      ++answered;
    }
  }
  EXPECT_GT(answered, 5000);
  EXPECT_GT(cut, 500);
}

// The checker's table against std::unordered_map: random makes and erases over few keys (long
// probe runs that wrap around the slots, erased entries' numbers given again), every key looked
// up after each step, values kept with their keys.
TEST(StringTable, FindsWhatAMapHoldsThroughMakesAndErases) {
  for (unsigned seed = 1; seed <= 10; ++seed) {
    std::mt19937 rng(seed);
    const auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };
    StringTable<int> table;
    std::unordered_map<std::string, std::pair<StringTable<int>::Id, int>> oracle;
    const int keys = 5 + pick(300);
    for (int step = 0; step < 4000; ++step) {
      const auto key = "k" + std::to_string(pick(keys));
      const auto it = oracle.find(key);
      if (pick(3) == 0 && it != oracle.end()) {
        table.erase(it->second.first);
        oracle.erase(it);
      } else {
        const auto [id, fresh] = table.try_emplace(key);
        ASSERT_EQ(fresh, it == oracle.end()) << key;
        if (fresh) {
          table[id].value = step;
          oracle[key] = {id, step};
        } else {
          ASSERT_EQ(id, it->second.first) << key;
        }
      }
      ASSERT_EQ(table.size(), oracle.size());
      for (int k = 0; k < keys; ++k) {
        const auto name = "k" + std::to_string(k);
        const auto found = table.find(name);
        const auto expected = oracle.find(name);
        if (expected == oracle.end()) {
          ASSERT_EQ(found, StringTable<int>::kNone) << "seed " << seed << " step " << step << name;
        } else {
          ASSERT_EQ(found, expected->second.first) << "seed " << seed << " step " << step << name;
          ASSERT_EQ(table[found].key, name);
          ASSERT_EQ(table[found].value, expected->second.second);
        }
      }
    }
  }
}

}  // namespace
}  // namespace pipewright::workers::orders
