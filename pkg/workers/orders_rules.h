#pragma once
// The orders pipeline's pure parts: what a valid order is (orders-api refuses the rest with the
// field's path), and the fraud rules (amount limit, orders per customer per window, blocked
// customers, totals that do not match their items). No Kafka, no HTTP: unit-tested alone.

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "pkg/workers/orders_table.h"

namespace pipewright::workers::orders {

// An order that does not hold together; `field` is its path, e.g. "items[1].quantity".
class OrderError : public std::invalid_argument {
 public:
  OrderError(std::string field, const std::string& message)
      : std::invalid_argument(message), field_(std::move(field)) {}
  const std::string& field() const { return field_; }

 private:
  std::string field_;
};

// The order as a client sends it: {"id"?, "customer", "items": [{"sku", "quantity", "price"}],
// "total", "notify"?: {"email"?, "telegram"?}}, with only those fields (an absent id stays
// absent). The model fraud decides on without a second document; to_json() is the document
// orders-api stores and publishes.
struct Order {
  struct Item {
    std::string sku;
    std::int64_t quantity = 0;
    double price = 0;
  };
  struct Notify {
    std::optional<std::string> email, telegram;
  };
  std::optional<std::string> id;
  std::string customer;
  std::vector<Item> items;
  double total = 0;
  std::optional<Notify> notify;  // present (maybe empty) when the body had a notify object
};

// Throws OrderError naming the first field that is missing, of the wrong type or out of range.
// Fields it does not know are ignored (not passed on).
Order order_model(const nlohmann::json& body);
nlohmann::json to_json(const Order& order);
// to_json(order_model(body)): the validated order as a document.
nlohmann::json validate_order(const nlohmann::json& body);

// An order as fraud receives it in an event: the event's data as the order (order_model), its
// id the data's "id" or else the event's id, received_at the data's "receivedAt" or else the
// event's time, and time_ms that time in epoch ms (else the message's timestamp).
struct ReceivedOrder {
  Order order;  // id set
  std::string received_at;
  std::int64_t time_ms = 0;
};
// Throws OrderError for data that is no order, and nlohmann's type_error for an "id" or
// "receivedAt" that is there but no string (null included), or an event id that is not valid
// UTF-8 (the decision's text could not be written).
ReceivedOrder received_order(const nlohmann::json& data, const std::string& event_id,
                             const std::string& event_time, std::int64_t timestamp_ms);
// The same from the data's JSON text, read without a document (nlohmann's SAX parser: the same
// lexer, so the same strings and numbers; a repeated key's last value wins, as in a document):
// the same order, or the same OrderError. nullopt when it does not answer for
// received_order(parse(data)): text that is not JSON or is nested deeper than
// pipewright::json::kMaxDepth, or an "id" or "receivedAt" that received_order throws
// type_error for. The caller then parses the data.
std::optional<ReceivedOrder> received_order_text(std::string_view data, const std::string& event_id,
                                                 const std::string& event_time,
                                                 std::int64_t timestamp_ms);

// Ids a client may choose: 1 to 64 of A-Z a-z 0-9 . _ - :
bool valid_order_id(const std::string& id);

// sum(quantity * price) of the items of a validated order.
double items_sum(const Order& order);
double items_sum(const nlohmann::json& order);

struct Reason {
  std::string rule;  // the config key that made the rule: maxAmount, maxOrdersPerCustomer, ...
  std::string message;
};
nlohmann::json to_json(const std::vector<Reason>& reasons);

// JSON text written without building a document, byte for byte as nlohmann's dump() writes the
// same values (the caller writes an object's keys sorted, as a dumped object has them). For the
// outputs fraud writes per order.
void append_json_string(std::string& out, std::string_view text);  // valid UTF-8, from JSON
void append_json_number(std::string& out, double value);
void append_json(std::string& out, const nlohmann::json& value);
// to_json(order)["notify"] as dump() writes it ({} when the order has none).
void append_json_notify(std::string& out, const Order& order);

// The decision fraud publishes as its event's data: to_json(order) with "id", "receivedAt",
// "status" and, unless `reasons` is null (a valid order), "reasons": to_json(*reasons), written
// as dump() writes that document (keys sorted), without building it. `order.id` must be set.
std::string decision_data(const Order& order, const std::string& received_at,
                          const std::string& status, const std::vector<Reason>* reasons);
// The status notification's data notify renders: {customer, notify, operation: "order.<status>",
// order: id, reasons: [message], total}, written as dump() writes it. `order.id` must be set.
std::string notification_data(const Order& order, const std::string& status,
                              const std::vector<Reason>& reasons);

struct FraudConfig {
  std::optional<double> max_amount;              // off when absent
  std::optional<std::int64_t> max_per_customer;  // off when absent
  std::chrono::milliseconds window{60000};       // for max_per_customer
  std::set<std::string> blocked;                 // customers
};

// From a step's config; throws runtime::ConfigError naming the key (unknown keys included).
FraudConfig fraud_config(const nlohmann::json& config);

// The fraud rules with the per-customer window. Deterministic under redelivery: an order id
// seen before gets the decision it got then, and the window counts orders by their own time
// (when orders-api received them), not by when they arrive here.
class FraudChecker {
 public:
  explicit FraudChecker(FraudConfig config, std::size_t keep = 1000000);

  struct Decision {
    bool valid = true;
    std::vector<Reason> reasons;
    bool repeated = false;  // this order id was decided before
  };
  // `order` validated, with its id set; `time_ms` its receive time (epoch ms).
  Decision check(const Order& order, std::int64_t time_ms);
  // The same for a validated order document with "id" (tests, fuzzing).
  Decision check(const nlohmann::json& order, std::int64_t time_ms);

  // Customers whose order times are kept (at most `keep`, however many customers come).
  std::size_t customers() const { return with_times_; }

  // For replaying a durable log at start: records a past decision without checking.
  void remember(const std::string& id, const std::string& customer, std::int64_t time_ms,
                const Decision& decision);

 private:
  struct Customer {
    std::multiset<std::int64_t> times;  // receive times (epoch ms) of its orders, in reach
    std::size_t kept = 0;               // its orders in decided_order_: kept while there are
  };
  using Decided = StringTable<Decision>;
  using Customers = StringTable<Customer>;
  // Records `time_ms` in `customer`'s times (looked up once by the caller) for `order`, just
  // entered in decided_, and forgets the oldest order past `keep`.
  void record(Decided::Id order, Customers::Id customer, std::int64_t time_ms);
  // Takes back an order entered in decided_ that could not be recorded.
  void undo(Decided::Id order, const std::string& customer);

  FraudConfig config_;
  std::size_t keep_;
  Decided decided_;
  // Oldest first, at most `keep`: forgetting one also takes its time out of its customer's
  // window, so customers_ stays within `keep` as well. The entries of the tables, not copies of
  // the id and customer.
  struct Kept {
    Decided::Id order;
    Customers::Id customer;
    std::int64_t time_ms;
  };
  std::deque<Kept> decided_order_;
  // customer -> its receive times, ascending as they come; one with no time left counts as
  // forgotten (customers()) and goes when its last kept order does.
  Customers customers_;
  std::size_t with_times_ = 0;  // customers_ with a time
};

// "2026-11-23T09:00:00.123Z" -> epoch ms; nullopt when it is not such a time.
std::optional<std::int64_t> parse_rfc3339_ms(const std::string& text);

}  // namespace pipewright::workers::orders
