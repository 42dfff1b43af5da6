// POST /orders bodies as orders-api reads them (JSON, then orders::validate_order), and the
// validated order as the fraud stage reads it again (validate_order, items_sum, FraudChecker).
// The documented failure is OrderError naming the field. Fraud's decision and notification,
// written as text from the order's model, must be the dumps of their documents.

#include <cmath>
#include <string>

#include "pkg/workers/orders_rules.h"
#include "tests/fuzz/fuzz.h"

PW_FUZZ_TARGET(orders_body) {
  namespace orders = pipewright::workers::orders;
  using nlohmann::json;
  const auto body = json::parse(pipewright::fuzz::as_text(data, size), nullptr, false);
  if (body.is_discarded()) return;  // 400 "the body is not valid JSON"
  json order;
  try {
    order = orders::validate_order(body);
  } catch (const orders::OrderError& e) {
    pipewright::fuzz::check(!e.field().empty(), "an OrderError without a field");
    return;
  }
  if (!order.contains("id")) order["id"] = "fuzz-order";
  order["receivedAt"] = "2026-11-23T09:00:00.123Z";
  // What fraud receives: the same order, through a dump (the envelope) and a parse.
  const auto again = json::parse(order.dump());
  json revalidated;
  try {
    revalidated = orders::validate_order(again);
  } catch (const orders::OrderError&) {
    pipewright::fuzz::check(false, "fraud refuses an order orders-api accepted");
  }
  pipewright::fuzz::check(revalidated["items"] == order["items"], "validation changed the items");
  (void)orders::items_sum(revalidated);
  static orders::FraudChecker checker(
      orders::FraudConfig{1000.0, 3, std::chrono::seconds(60), {"x"}}, 1000);
  revalidated["id"] = order["id"];
  const auto d = checker.check(revalidated, 1'790'000'000'000);
  // Fraud writes its decision and notification as text from the model: the bytes must be the
  // dumps of the documents they stand for.
  auto model = orders::order_model(again);
  model.id = order["id"].get<std::string>();
  auto decision = revalidated;
  decision["receivedAt"] = order["receivedAt"];
  decision["status"] = d.valid ? "valid" : "rejected";
  if (!d.valid) decision["reasons"] = orders::to_json(d.reasons);
  pipewright::fuzz::check(orders::decision_data(model, order["receivedAt"], decision["status"],
                                                d.valid ? nullptr : &d.reasons) == decision.dump(),
                          "the decision's text is not the dump of its document");
  json messages = json::array();
  for (const auto& r : d.reasons)
    messages.push_back(r.message);
  const json notification = {{"customer", decision["customer"]},
                             {"notify", decision.value("notify", json::object())},
                             {"operation", "order." + decision["status"].get<std::string>()},
                             {"order", model.id.value()},
                             {"reasons", messages},
                             {"total", decision["total"]}};
  pipewright::fuzz::check(
      orders::notification_data(model, decision["status"], d.reasons) == notification.dump(),
      "the notification's text is not the dump of its document");
}
