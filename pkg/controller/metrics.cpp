#include "pkg/controller/metrics.h"

#include <algorithm>

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
                  .Register(*registry_)),
      ready_(prometheus::BuildGauge()
                 .Name("pipewright_resource_ready")
                 .Help("1 when the resource's Ready condition is True, else 0")
                 .Register(*registry_)),
      on_backup_(prometheus::BuildGauge()
                     .Name("pipewright_weightedservice_on_backup")
                     .Help("1 when no weighted backend of the WeightedService is ready and a "
                           "backup serves")
                     .Register(*registry_)),
      dead_letters_(prometheus::BuildGauge()
                        .Name("pipewright_dead_letter_messages")
                        .Help("Messages in a step's dead-letter topics (their depth), as read "
                              "from Kafka by the operator")
                        .Register(*registry_)) {}

void Metrics::resource_status(const std::string& kind, const std::string& ns,
                              const std::string& name, const json* status) {
  const std::lock_guard lock(resources_mu_);
  const std::string key = kind + "/" + ns + "/" + name;
  auto& before = resource_gauges_[key];
  std::vector<std::pair<prometheus::Family<prometheus::Gauge>*, prometheus::Gauge*>> gauges;
  // Gauges it no longer sets go (a removed step, a deleted resource); the others stay in
  // place, so no scrape sees a series missing between two updates.
  const auto finish = [&] {
    for (const auto& old : before) {
      if (std::find(gauges.begin(), gauges.end(), old) == gauges.end())
        old.first->Remove(old.second);
    }
    if (gauges.empty()) {
      resource_gauges_.erase(key);
    } else {
      before = std::move(gauges);
    }
  };
  if (status == nullptr || !status->is_object()) {
    finish();
    return;
  }
  const auto set = [&](prometheus::Family<prometheus::Gauge>& family,
                       const std::map<std::string, std::string>& labels, double value) {
    auto& gauge = family.Add(labels);
    gauge.Set(value);
    gauges.emplace_back(&family, &gauge);
  };
  bool ready = false;
  for (const auto& c : status->value("conditions", json::array())) {
    if (c.value("type", "") == "Ready") ready = c.value("status", "") == "True";
  }
  set(ready_, {{"kind", kind}, {"namespace", ns}, {"name", name}}, ready ? 1 : 0);
  if (kind == "WeightedService") {
    bool weighted = false, backup = false;
    for (const auto& b : status->value("backends", json::array())) {
      if (!b.value("ready", false)) continue;
      (b.value("backup", false) ? backup : weighted) = true;
    }
    set(on_backup_, {{"namespace", ns}, {"name", name}}, !weighted && backup ? 1 : 0);
  }
  for (const auto& step : status->value("steps", json::array())) {
    if (!step.is_object() || !step.contains("deadLetters") || !step["deadLetters"].is_number())
      continue;
    set(dead_letters_, {{"namespace", ns}, {"pipeline", name}, {"step", step.value("name", "")}},
        step["deadLetters"].get<double>());
  }
  finish();
}

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
