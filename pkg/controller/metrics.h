#pragma once
// The operator's Prometheus metrics (SPEC section 6), and a kube::Client decorator that counts
// every write by verb: the number behind "zero writes in steady state".

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <memory>
#include <string>

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

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& reconcile_total_;
  prometheus::Family<prometheus::Histogram>& reconcile_seconds_;
  prometheus::Gauge& queue_depth_;
  prometheus::Family<prometheus::Gauge>& managed_;
  prometheus::Family<prometheus::Counter>& writes_;
};

// Forwards to `inner`, counting create/update/update_status/apply/merge_patch/remove.
std::unique_ptr<kube::Client> counting_client(kube::Client& inner, Metrics& metrics);

}  // namespace pipewright::controller
