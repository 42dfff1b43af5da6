#pragma once
// The operator's Prometheus metrics (SPEC section 6), and a kube::Client decorator that counts
// every write by verb: the number behind "zero writes in steady state".

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "pkg/kube/client.h"

namespace pipewright::controller {

class Metrics {
 public:
  Metrics();
  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

  void reconciled(const std::string& kind, bool ok, double seconds);
  void queue_depth(std::size_t depth);
  void managed(const std::string& kind, double count);
  void api_write(const std::string& verb);
  double api_writes() const;  // all verbs, for tests and logs
  // The gauges a resource's status decides (alerts read them): ready, a WeightedService served
  // by its backups only, each step's dead-letter depth. `status` null: the resource is gone.
  void resource_status(const std::string& kind, const std::string& ns, const std::string& name,
                       const nlohmann::json* status);

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& reconcile_total_;
  prometheus::Family<prometheus::Histogram>& reconcile_seconds_;
  prometheus::Gauge& queue_depth_;
  prometheus::Family<prometheus::Gauge>& managed_;
  prometheus::Family<prometheus::Counter>& writes_;
  prometheus::Family<prometheus::Gauge>& ready_;
  prometheus::Family<prometheus::Gauge>& on_backup_;
  prometheus::Family<prometheus::Gauge>& dead_letters_;
  std::mutex resources_mu_;
  // "kind/ns/name" -> the gauges it set, removed with it (and step gauges of dropped steps).
  std::map<std::string,
           std::vector<std::pair<prometheus::Family<prometheus::Gauge>*, prometheus::Gauge*>>>
      resource_gauges_;
};

// Forwards to `inner`, counting create/update/update_status/apply/merge_patch/remove.
std::unique_ptr<kube::Client> counting_client(kube::Client& inner, Metrics& metrics);

}  // namespace pipewright::controller
