#include "pkg/controller/operator.h"

#include <prometheus/exposer.h>
#include <algorithm>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "pkg/controller/admins.h"
#include "pkg/http/server.h"
#include "pkg/log/log.h"

namespace pipewright::controller {

namespace {

// Kafka clusters the operator keeps a client open for; more are reopened when needed.
constexpr std::size_t kAdminClients = 8;
constexpr std::chrono::minutes kAdminIdle{10};
constexpr std::chrono::seconds kLagReadTimeout{5};

// prometheus-cpp (civetweb) takes "port" for every interface and "host:port" otherwise.
std::string civetweb_address(const std::string& bind) {
  return !bind.empty() && bind[0] == ':' ? bind.substr(1) : bind;
}

}  // namespace

int run_operator(const OperatorOptions& options, const std::atomic<bool>& stop) {
  Metrics metrics;
  std::unique_ptr<prometheus::Exposer> exposer;
  try {
    exposer = std::make_unique<prometheus::Exposer>(civetweb_address(options.metrics_bind));
  } catch (const std::exception& e) {
    log::error("metrics server did not start",
               {{"bind", options.metrics_bind}, {"error", e.what()}});
    return 1;
  }
  exposer->RegisterCollectable(metrics.registry());

  auto raw_client = kube::make_client(options.kube);
  auto client = counting_client(*raw_client, metrics);

  // Bounded: bootstrap strings and Secret names come from tenants' specs (see admins.h).
  AdminCache admins(kAdminClients, kAdminIdle,
                    [](const std::string& bootstrap) { return kafka::make_admin(bootstrap); });
  // The librdkafka settings of a Pipeline's Kafka (its bootstrap and spec.kafka.secretRef) and
  // the key its clients are kept under.
  const auto settings = [&](const std::string& bootstrap, const std::string& ns,
                            const std::string& secret) {
    std::pair<std::string, std::map<std::string, std::string>> out{
        bootstrap, {{"bootstrap.servers", bootstrap}}};
    if (secret.empty()) return out;
    // The same settings the workers get from the mounted Secret (one librdkafka property per
    // key), read when its resourceVersion changes: a rotated password takes effect, and the
    // client of the old version is evicted like any other.
    const auto object =
        client->get(kube::Resource{"", "v1", "secrets", "Secret", true}, ns, secret);
    if (!object)
      throw std::runtime_error("spec.kafka.secretRef: Secret " + ns + "/" + secret + " not found");
    const auto version =
        object->value("metadata", nlohmann::json::object()).value("resourceVersion", "");
    out.first = bootstrap + "\n" + ns + "/" + secret + "\n" + version;
    // Kept in a variable: a loop over a temporary's items() reads freed memory.
    const auto data = object->value("data", nlohmann::json::object());
    for (const auto& [key, value] : data.items()) {
      if (value.is_string()) out.second[key] = kube::base64_decode(value.get<std::string>());
    }
    out.second["bootstrap.servers"] = bootstrap;
    return out;
  };
  AdminFor admin_for = [&](const std::string& bootstrap, const std::string& ns,
                           const std::string& secret) -> std::shared_ptr<kafka::TopicAdmin> {
    const auto conn = settings(bootstrap, ns, secret);  // no structured binding: clang 14
    return admins.get(conn.first,
                      [&](const std::string&) { return kafka::make_admin(conn.second); });
  };
  // Lag reads are bounded (kLagReadTimeout per call), so a slow cluster delays a reconcile of
  // its own Pipelines by that much at most, once per lag interval.
  ClientCache<kafka::OffsetReader> readers(kAdminClients, kAdminIdle, [](const std::string& b) {
    return kafka::make_offset_reader({{"bootstrap.servers", b}}, kLagReadTimeout);
  });
  OffsetReaderFor offsets_for;
  if (options.manager.lag_interval.count() > 0) {
    offsets_for = [&](const std::string& bootstrap, const std::string& ns,
                      const std::string& secret) -> std::shared_ptr<kafka::OffsetReader> {
      const auto conn = settings(bootstrap, ns, secret);
      return readers.get(conn.first, [&](const std::string&) {
        return kafka::make_offset_reader(conn.second, kLagReadTimeout);
      });
    };
  }

  Manager manager(*client, metrics, options.manager, admin_for, offsets_for);
  std::atomic<bool> leading{!options.leader_elect};
  std::unique_ptr<http::Server> health;
  try {
    health = std::make_unique<http::Server>(options.health_bind, [&](const http::Request& req) {
      if (req.target == "/healthz") return http::Response{200, "text/plain", "ok", {}};
      if (req.target == "/readyz") {
        return manager.synced() ? http::Response{200, "text/plain", "ok", {}}
                                : http::Response{503, "text/plain", "informers not synced", {}};
      }
      return http::Response{404, "text/plain", "not found", {}};
    });
  } catch (const std::exception& e) {
    log::error("probe server did not start", {{"bind", options.health_bind}, {"error", e.what()}});
    return 1;
  }
  log::info("operator starting",
            {{"metrics", options.metrics_bind},
             {"health", options.health_bind},
             {"leader_elect", options.leader_elect},
             {"namespace", options.manager.ns.empty() ? "*" : options.manager.ns}});
  manager.start_informers();

  int code = 0;
  std::unique_ptr<kube::Client> lease_client;
  std::unique_ptr<LeaderElector> elector;
  if (options.leader_elect) {
    // A client of its own: renewing the lease is a write every retry period that the writes
    // metric must not count, and a lease call must fail well inside the renew deadline rather
    // than hang for a request's usual 30 s while another replica takes over.
    lease_client = kube::make_client(
        options.kube, std::max(std::chrono::seconds(1), options.leader.renew_deadline / 3));
    elector = std::make_unique<LeaderElector>(*lease_client, options.leader);
    if (!elector->acquire(stop)) {
      manager.stop_informers();
      return 0;
    }
  }
  std::atomic<bool> stop_workers{false};
  std::thread workers([&] { manager.run(stop_workers); });
  if (elector) {
    if (!elector->hold(stop)) code = 1;  // lost: stop reconciling at once, exit, restart
  } else {
    while (!stop.load())
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  stop_workers = true;
  workers.join();
  manager.stop_informers();
  if (elector && code == 0) elector->release();
  log::info("operator stopped", {{"api_writes", metrics.api_writes()}});
  return code;
}

}  // namespace pipewright::controller
