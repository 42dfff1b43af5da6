// The orders pipeline's Kafka stages: fraud (orders → orders-valid / orders-rejected, plus a
// status notification) and audit (every message of its inputs → a durable JSON-lines log).

#include <charconv>
#include <chrono>
#include <memory>
#include <optional>
#include <utility>

#include "pkg/log/log.h"
#include "pkg/units/rfc3339.h"
#include "pkg/workers/orders_rules.h"
#include "pkg/workers/orders_store.h"
#include "pkg/workers/orders_workers.h"

namespace pipewright::workers::orders {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

FraudChecker::Decision decision_from(const json& line) {
  FraudChecker::Decision d;
  d.valid = line.value("valid", true);
  for (const auto& r : line.value("reasons", json::array()))
    d.reasons.push_back({r.value("rule", ""), r.value("message", "")});
  return d;
}

// The order of an orders message, with its id set, its receivedAt and receive time (epoch ms):
// read from the data's text when the event's attributes can be decoded without a document of
// the data (most messages), else from the decoded event, which also says why it is none. The
// text is not checked first: received_order_text reads any text as the document's path does
// and leaves what is no JSON to it.
ReceivedOrder order_of(const kafka::InMessage& m) {
  try {
    if (const auto text = runtime::read_event_text(m, event::DataText::unchecked)) {
      const auto& e = text->event;
      if (auto r = received_order_text(text->data, e.id, e.time, m.timestamp_ms))
        return std::move(*r);
    }
    const auto e = runtime::read_event(m);
    return received_order(e.data, e.id, e.time, m.timestamp_ms);
  } catch (const OrderError& ex) {
    throw runtime::PermanentError("not an order: data." + ex.field() + ": " + ex.what());
  }
}

// Now as event::now_rfc3339() writes it, formatted once per millisecond (dozens of orders are
// decided in one): the same text, without a gmtime and two snprintf per order.
class DecisionClock {
 public:
  const std::string& now() {
    const auto ms = std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now());
    if (ms != ms_ || text_.empty()) {
      ms_ = ms;
      text_ = units::rfc3339(ms);
    }
    return text_;
  }

 private:
  std::chrono::sys_time<std::chrono::milliseconds> ms_{};
  std::string text_;
};

// A decision's status and the output it goes to ("orders-<status>"), written once per step.
struct Outcome {
  explicit Outcome(const std::string& name) : status(name), output("orders-" + name) {}
  Status status;
  std::string output;
};

struct Fraud {
  runtime::Runtime& runtime;
  std::shared_ptr<FraudChecker> checker;
  std::shared_ptr<JsonLines> decisions;  // durable with storage: the same answer after a restart
  bool notifies = false;
  std::shared_ptr<DecisionClock> clock;  // the handler's thread only
  std::string source;                    // the decisions' (the step's), written once
  Outcome valid{"valid"};
  Outcome rejected{"rejected"};
};

// The decision log's line {customer, id, reasons: [{message, rule}], time, valid}, written as
// text (keys sorted, as a dumped document has them): one per order, no document built.
std::string decision_line(const std::string& id, const std::string& customer, std::int64_t time,
                          const FraudChecker::Decision& d) {
  std::string line;
  line.reserve(128);
  line += "{\"customer\":";
  append_json_string(line, customer);
  line += ",\"id\":";
  append_json_string(line, id);
  line += ",\"reasons\":[";
  for (std::size_t i = 0; i < d.reasons.size(); ++i) {
    if (i > 0) line += ',';
    line += "{\"message\":";
    append_json_string(line, d.reasons[i].message);
    line += ",\"rule\":";
    append_json_string(line, d.reasons[i].rule);
    line += '}';
  }
  line += "],\"time\":";
  line += std::to_string(time);
  line += d.valid ? ",\"valid\":true}" : ",\"valid\":false}";
  return line;
}

std::vector<kafka::OutMessage> decide(const Fraud& f, const kafka::InMessage& m) {
  const auto [order, received_at, time] = order_of(m);
  const auto& id = *order.id;
  const auto d = f.checker->check(order, time);
  if (!d.repeated) f.decisions->append_text(decision_line(id, order.customer, time, d));
  const auto& outcome = d.valid ? f.valid : f.rejected;
  const auto& status = outcome.status;
  const auto& now = f.clock->now();  // one time for the decision and its notification
  std::vector<kafka::OutMessage> messages;
  messages.reserve(2);
  // The decision's data is the order's document with its status (and reasons when rejected),
  // written as text: no document built per order. Its id "<id>.<status>" in one allocation.
  std::string decision_id;
  decision_id.reserve(id.size() + 1 + status.name.size());
  decision_id += id;
  decision_id += '.';
  decision_id += status.name;
  const event::AttributesView decision{decision_id, status.type, now, f.source};
  messages.push_back(f.runtime.message(
      outcome.output, id, decision,
      decision_data(order, received_at, status.name, d.valid ? nullptr : &d.reasons)));
  if (f.notifies)
    messages.push_back(status_notification(f.runtime, f.source, order, status, d.reasons, now));
  return messages;
}

fs::path audit_path(const runtime::Runtime& runtime) {
  fs::path configured = runtime::config_string(runtime.config(), "logPath", "audit.jsonl");
  if (configured.is_absolute()) return configured;
  const auto& dir = runtime.wiring().data_dir;
  return (dir.empty() ? fs::path("/data") : dir) / configured;
}

http::Response events(const AuditLog& audit, const http::Request& req) {
  std::size_t limit = 100;
  if (const auto text = req.query("limit")) {
    const auto* end = text->data() + text->size();
    const auto [ptr, ec] = std::from_chars(text->data(), end, limit);
    if (ec != std::errc() || ptr != end || limit < 1 || limit > 10000) {
      return http::Response::error(400, "limit must be a whole number from 1 to 10000", "limit");
    }
  }
  const auto entries = audit.latest(req.query("topic").value_or(""), limit);
  return http::Response::json(200, {{"count", entries.size()}, {"events", entries}});
}

}  // namespace

int run_fraud(runtime::Runtime& runtime) {
  auto checker = std::make_shared<FraudChecker>(fraud_config(runtime.config()));
  (void)runtime.wiring().output("orders-valid");  // ConfigError naming a missing output
  (void)runtime.wiring().output("orders-rejected");
  if (runtime.wiring().inputs.empty()) throw runtime::ConfigError("the fraud step needs an input");
  auto decisions = std::make_shared<JsonLines>(
      state_file(runtime, "decisions.jsonl"),
      [&](const json& line) {
        checker->remember(line.value("id", ""), line.value("customer", ""),
                          line.value("time", std::int64_t{0}), decision_from(line));
      },
      false);  // buffered until the batch's sync; a lost batch is redelivered and decided alike
  const Fraud fraud{runtime,
                    checker,
                    decisions,
                    runtime.wiring().outputs.contains("notifications"),
                    std::make_shared<DecisionClock>(),
                    runtime.wiring().source()};
  runtime.set_before_commit([decisions] { decisions->sync(); });
  runtime::RuntimeOptions options;
  // Each commit first fsyncs the decision log, on the loop's thread (1-20 ms on a shared disk):
  // once a second, not every 100 ms, keeps that stall off the throughput. Outputs go out as
  // soon as decided; only the commit (what a restart re-reads and decides alike) is later.
  options.commit_interval = std::chrono::milliseconds(1000);
  runtime.set_options(options);
  return runtime.run([fraud](const kafka::InMessage& m) { return decide(fraud, m); });
}

int run_audit(runtime::Runtime& runtime) {
  runtime::check_keys(runtime.config(), {"logPath"});
  const auto path = audit_path(runtime);
  auto audit = std::make_shared<AuditLog>(path);
  log::info("audit log open", {{"path", path.string()}, {"entries", audit->size()}});
  runtime.route("GET", "/events",
                [audit](const http::Request& req) { return events(*audit, req); });
  runtime.set_before_commit([audit] { audit->sync(); });
  return runtime.run([audit](const kafka::InMessage& m) {
    audit->append(m);
    return std::vector<kafka::OutMessage>{};
  });
}

}  // namespace pipewright::workers::orders
