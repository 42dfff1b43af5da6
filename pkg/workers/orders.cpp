// The orders pipeline's workers: orders-api here (HTTP → Kafka, and the statuses the pipeline
// reports back), fraud and audit in orders_stages.cpp.

#include <chrono>
#include <memory>
#include <thread>

#include "pkg/http/work_pool.h"
#include "pkg/json/limited.h"
#include "pkg/log/log.h"
#include "pkg/workers/orders_docs_page.h"
#include "pkg/workers/orders_rules.h"
#include "pkg/workers/orders_store.h"
#include "pkg/workers/orders_workers.h"
#include "pkg/workers/workers.h"

namespace pipewright::workers {
namespace orders {
namespace {

using nlohmann::json;

constexpr std::int64_t kMiB = std::int64_t{1024} * 1024;

std::string with_base(std::string text, const std::string& base) {
  for (auto at = text.find("{{BASE}}"); at != std::string::npos; at = text.find("{{BASE}}", at))
    text.replace(at, 8, base);
  return text;
}

// The step's constant texts, computed once; shared, as Api is copied per request.
struct ApiTexts {
  std::string source;  // the step's (its events')
  Status received{"received"};
};

struct Api {
  runtime::Runtime& runtime;
  std::shared_ptr<OrderStore> store;
  bool notifies = false;  // the step has a `notifications` output: "order.received" goes there
  std::shared_ptr<const ApiTexts> texts;
};

// 202 {id, status: "received"}: the answer to an order and to every repeat of it.
http::Response accepted(const std::string& id, const std::string& base) {
  auto res = http::Response::json(202, {{"id", id}, {"status", "received"}});
  res.headers["Location"] = base + "/orders/" + id;
  return res;
}

// A repeat that arrives while the first request is still publishing waits for its outcome
// (up to 30 s; woken, not polling, on a pool thread), so concurrent retries get the same answer.
OrderStore::Claim claim(OrderStore& store, const std::string& id, const json& order) {
  return store.claim(id, order, std::chrono::steady_clock::now() + std::chrono::seconds(30));
}

// Answers through `responder`: at once when the order is refused or repeated, else from
// Kafka's delivery report (no thread waits for it).
void create(const Api& api, const std::map<std::string, std::string>& headers,
            const std::string& text, const std::shared_ptr<http::Responder>& responder) {
  // A CloudEvent (HTTP binding, either mode) carries the order as its data.
  std::optional<event::Decoded> ce;
  try {
    ce = event::from_http(headers, text);
  } catch (const event::EnvelopeError& e) {
    return responder->respond(http::Response::error(400, e.what(), e.field()));
  }
  std::string why;
  const auto body =
      ce ? std::optional<json>(ce->event.data) : pipewright::json::try_parse(text, &why);
  if (!body)
    return responder->respond(
        http::Response::error(400, "the body is not valid JSON: " + why, "body"));
  Order model;
  try {
    model = order_model(*body);
  } catch (const OrderError& e) {
    return responder->respond(http::Response::error(400, e.what(), e.field()));
  }
  const auto id = model.id ? *model.id : event::new_id();
  model.id = id;
  const auto order = to_json(model);
  const std::string base = api.runtime.wiring().base_path;
  switch (claim(*api.store, id, order)) {
    case OrderStore::Claim::same:
      return responder->respond(accepted(id, base));
    case OrderStore::Claim::conflict:
      return responder->respond(
          http::Response::error(409, "order " + id + " exists with other contents", "id"));
    case OrderStore::Claim::pending:
      return responder->respond(
          http::Response::error(409, "order " + id + " is being accepted; retry", "id"));
    case OrderStore::Claim::full:
      return responder->respond(http::Response::error(
          507, "orders-api holds as many orders as it may keep while they are processed; retry"));
    case OrderStore::Claim::fresh:
      break;
  }
  const auto received_at = event::now_rfc3339();
  auto data = order;
  data["receivedAt"] = received_at;
  // Keyed by customer: one customer's orders keep their order and reach one fraud replica,
  // which its per-customer window needs. The envelope id is the order id.
  const event::Envelope created{id, "pipewright.order.created", received_at, api.texts->source,
                                data};
  std::vector<kafka::OutMessage> out{
      api.runtime.message("orders", order["customer"].get<std::string>(), created)};
  if (api.notifies) {
    out.push_back(status_notification(api.runtime, api.texts->source, model, api.texts->received,
                                      {}, received_at));
  }
  api.runtime.publish_async(
      std::move(out), [api, id, received_at, base, responder,
                       customer = order["customer"]](const std::string& error) {
        if (!error.empty()) {
          api.store->release(id);
          log::error("order not queued", {{"id", id}, {"error", error}});
          responder->respond(http::Response::error(503, "the order could not be queued: " + error));
          return;
        }
        api.store->accept(id, received_at);
        log::debug("order received", {{"id", id}, {"customer", customer}});
        responder->respond(accepted(id, base));
      });
}

// A status from orders-valid / orders-rejected: {data: {id, status, reasons?, ...order}}.
std::vector<kafka::OutMessage> learn_status(OrderStore& store, const kafka::InMessage& m) {
  const auto e = runtime::read_event(m);
  if (!e.data.is_object()) throw runtime::PermanentError("data: must be a JSON object");
  const auto status = e.data.value("status", "");
  const auto id = e.data.value("id", "");
  if (id.empty() || (status != "valid" && status != "rejected")) {
    log::warn("not an order status; ignored", {{"topic", m.topic}, {"offset", m.offset}});
    return {};
  }
  auto order = e.data;
  order.erase("status");
  order.erase("reasons");
  store.settle(id, status, e.data.value("reasons", json::array()), order);
  return {};
}

void add_docs(runtime::Runtime& runtime) {
  const auto& base = runtime.wiring().base_path;
  const auto doc = json::parse(with_base(kOpenApi, base)).dump(2);
  const auto page = with_base(kDocsPage, base);
  const auto file = [](std::string type, std::string body) {
    return [type = std::move(type), body = std::move(body)](const http::Request&) {
      return http::Response{200, type, body, {{"Cache-Control", "no-cache"}}};
    };
  };
  runtime.route("GET", "/openapi.json", file("application/json", doc));
  runtime.route("GET", "/docs", file("text/html; charset=utf-8", page));
  runtime.route("GET", "/docs/docs.js", file("text/javascript; charset=utf-8", kDocsScript));
  runtime.route("GET", "/docs/docs.css", file("text/css; charset=utf-8", kDocsStyle));
  runtime.route("GET", "/", [base](const http::Request&) {
    return http::Response{302, "text/plain; charset=utf-8", "", {{"Location", base + "/docs"}}};
  });
}

}  // namespace

std::filesystem::path state_file(const runtime::Runtime& runtime, const std::string& name) {
  const auto& w = runtime.wiring();
  if (w.data_dir.empty()) return {};
  return w.data_dir / ".pipewright" / (w.pipeline + "." + w.step + "." + name);
}

kafka::OutMessage status_notification(const runtime::Runtime& runtime, const std::string& source,
                                      const Order& order, const Status& status,
                                      const std::vector<Reason>& reasons, const std::string& time) {
  const auto& id = order.id.value();
  // "<id>.<status>.notification" in one allocation.
  constexpr std::string_view kSuffix = ".notification";
  std::string event_id;
  event_id.reserve(id.size() + 1 + status.name.size() + kSuffix.size());
  event_id += id;
  event_id += '.';
  event_id += status.name;
  event_id += kSuffix;
  const event::AttributesView attributes{event_id, status.type, time, source};
  return runtime.message("notifications", id, attributes,
                         notification_data(order, status.name, reasons));
}

int run_api(runtime::Runtime& runtime) {
  const auto& config = runtime.config();
  runtime::check_keys(config, {"maxBodyBytes"});
  const auto max_body = runtime::config_int(config, "maxBodyBytes", kMiB, 1, 64 * kMiB);
  (void)runtime.wiring().output("orders");  // ConfigError when the step has no `orders` output
  runtime::RuntimeOptions options;
  options.max_body_bytes = static_cast<std::size_t>(max_body);
  runtime.set_options(options);
  // A POST is checked on a pool thread (a repeat may wait there for the first one's outcome),
  // never an I/O thread, so probes keep answering; it is answered from Kafka's delivery report,
  // so no thread waits for Kafka and threads no longer bound the orders in flight. A full pool
  // answers 503.
  // Declared before the routes use it and outliving run(): its last jobs finish before return.
  const auto pool = std::make_unique<http::WorkPool>(32, 256);

  const Api api{runtime, std::make_shared<OrderStore>(state_file(runtime, "orders.jsonl")),
                runtime.wiring().outputs.contains("notifications"),
                std::make_shared<const ApiTexts>(ApiTexts{runtime.wiring().source()})};
  // The docs first: the first matching route wins, and under the expose path /orders the page
  // (/orders/docs) would otherwise be taken for the order "docs" of GET /orders/{id}.
  add_docs(runtime);
  runtime.route("POST", "/orders", [api, pool = pool.get()](const http::Request& req) {
    return pool->run_deferred(req, [api, headers = req.headers, body = req.body](
                                       const std::shared_ptr<http::Responder>& responder) {
      create(api, headers, body, responder);
    });
  });
  runtime.route("GET", "/orders/{id}", [store = api.store](const http::Request& req) {
    const auto& id = req.params.at("id");
    if (auto order = store->get(id)) return http::Response::json(200, *order);
    return http::Response::error(404, "no order " + id, "id");
  });

  // Final statuses come back on the step's inputs (orders-valid, orders-rejected).
  runtime.set_before_commit([store = api.store] { store->sync(); });
  return runtime.run(
      [store = api.store](const kafka::InMessage& m) { return learn_status(*store, m); });
}

}  // namespace orders

std::vector<Kind> orders_workers() {
  return {
      {"orders-api", orders::run_api}, {"fraud", orders::run_fraud}, {"audit", orders::run_audit}};
}

}  // namespace pipewright::workers
