#include "pkg/controller/metrics.h"

namespace pipewright::controller {

using nlohmann::json;

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      reconcile_total_(prometheus::BuildCounter()
                           .Name("pipewright_reconcile_total")
                           .Help("Reconciles by resource kind and result (success, error)")
                           .Register(*registry_)),
      reconcile_seconds_(prometheus::BuildHistogram()
                             .Name("pipewright_reconcile_duration_seconds")
                             .Help("Time one reconcile took")
                             .Register(*registry_)),
      queue_depth_(prometheus::BuildGauge()
                       .Name("pipewright_workqueue_depth")
                       .Help("Keys waiting in the work queue")
                       .Register(*registry_)
                       .Add({})),
      managed_(prometheus::BuildGauge()
                   .Name("pipewright_managed_resources")
                   .Help("Pipelines and WeightedServices the operator manages, by kind")
                   .Register(*registry_)),
      writes_(prometheus::BuildCounter()
                  .Name("pipewright_api_writes_total")
                  .Help("Writes to the Kubernetes API by verb; zero while nothing changes")
                  .Register(*registry_)) {}

void Metrics::reconciled(const std::string& kind, bool ok, double seconds) {
  reconcile_total_.Add({{"kind", kind}, {"result", ok ? "success" : "error"}}).Increment();
  static const prometheus::Histogram::BucketBoundaries buckets = {0.001, 0.005, 0.01, 0.05, 0.1,
                                                                  0.5,   1,     5,    10};
  reconcile_seconds_.Add({{"kind", kind}}, buckets).Observe(seconds);
}

void Metrics::queue_depth(std::size_t depth) {
  queue_depth_.Set(static_cast<double>(depth));
}

void Metrics::managed(const std::string& kind, double count) {
  managed_.Add({{"kind", kind}}).Set(count);
}

void Metrics::api_write(const std::string& verb) {
  writes_.Add({{"verb", verb}}).Increment();
}

double Metrics::api_writes() const {
  double total = 0;
  for (const auto& family : registry_->Collect()) {
    if (family.name != "pipewright_api_writes_total") continue;
    for (const auto& m : family.metric)
      total += m.counter.value;
  }
  return total;
}

namespace {

class CountingClient final : public kube::Client {
 public:
  CountingClient(kube::Client& inner, Metrics& metrics) : inner_(inner), metrics_(metrics) {}

  kube::ListResult list(const kube::Resource& r, const std::string& ns, const std::string& selector,
                        int page_size) override {
    return inner_.list(r, ns, selector, page_size);
  }
  std::optional<json> get(const kube::Resource& r, const std::string& ns,
                          const std::string& name) override {
    return inner_.get(r, ns, name);
  }
  json create(const kube::Resource& r, const json& object) override {
    metrics_.api_write("create");
    return inner_.create(r, object);
  }
  json update(const kube::Resource& r, const json& object) override {
    metrics_.api_write("update");
    return inner_.update(r, object);
  }
  json update_status(const kube::Resource& r, const json& object) override {
    metrics_.api_write("update_status");
    return inner_.update_status(r, object);
  }
  json apply(const kube::Resource& r, const json& object, bool force) override {
    metrics_.api_write("apply");
    return inner_.apply(r, object, force);
  }
  json merge_patch(const kube::Resource& r, const std::string& ns, const std::string& name,
                   const json& patch, const std::string& subresource) override {
    metrics_.api_write(subresource.empty() ? "patch" : "patch_" + subresource);
    return inner_.merge_patch(r, ns, name, patch, subresource);
  }
  bool remove(const kube::Resource& r, const std::string& ns, const std::string& name,
              const std::string& propagation) override {
    metrics_.api_write("delete");
    return inner_.remove(r, ns, name, propagation);
  }
  void watch(const kube::Resource& r, const std::string& ns, const std::string& rv,
             const std::function<bool(const kube::WatchEvent&)>& on_event,
             const std::atomic<bool>& stop, const std::string& label_selector = {}) override {
    inner_.watch(r, ns, rv, on_event, stop, label_selector);
  }

 private:
  kube::Client& inner_;
  Metrics& metrics_;
};

}  // namespace

std::unique_ptr<kube::Client> counting_client(kube::Client& inner, Metrics& metrics) {
  return std::make_unique<CountingClient>(inner, metrics);
}

}  // namespace pipewright::controller
