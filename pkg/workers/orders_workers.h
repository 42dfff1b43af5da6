#pragma once
// The orders pipeline's three workers, each a function of the shared runtime (orders.cpp lists
// them): orders-api (orders.cpp), fraud and audit (orders_stages.cpp).

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "pkg/runtime/runtime.h"
#include "pkg/workers/orders_rules.h"

namespace pipewright::workers::orders {

int run_api(runtime::Runtime& runtime);
int run_fraud(runtime::Runtime& runtime);
int run_audit(runtime::Runtime& runtime);

// "<data dir>/.pipewright/<pipeline>.<step>.<name>" when the step has storage, else empty
// (state in memory only).
std::filesystem::path state_file(const runtime::Runtime& runtime, const std::string& name);

// A status's texts, written once per step rather than per message: its name ("received",
// "valid", "rejected") and its events' type ("pipewright.order.<name>").
struct Status {
  explicit Status(std::string name_) : name(std::move(name_)), type("pipewright.order." + name) {}
  std::string name;
  std::string type;
};

// The status notification notify renders ("order.received", "order.valid", "order.rejected"
// templates), as the message to the step's `notifications` output: {operation, order,
// customer, total, reasons: [text], notify} (notification_data), at `time`, from `source` (the
// step's, runtime.wiring().source(), computed once per step). Its id follows from the order's
// (`order.id`, set), so a repeat is one notification.
kafka::OutMessage status_notification(const runtime::Runtime& runtime, const std::string& source,
                                      const Order& order, const Status& status,
                                      const std::vector<Reason>& reasons, const std::string& time);

}  // namespace pipewright::workers::orders
