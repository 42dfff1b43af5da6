#include "pkg/controller/manager.h"

#include <algorithm>
#include <iterator>

#include "pkg/log/log.h"

namespace pipewright::controller {

using nlohmann::json;

namespace {

std::string key(const std::string& kind, const json& object) {
  const auto& md = object["metadata"];
  return kind + "/" + md.value("namespace", "") + "/" + md.value("name", "");
}

}  // namespace

Manager::Manager(kube::Client& client, Metrics& metrics, ManagerOptions options, AdminFor admin,
                 OffsetReaderFor offsets)
    : client_(client),
      metrics_(metrics),
      options_(std::move(options)),
      reconciler_(client, *this, std::move(admin), options_.render) {
  if (offsets)
    reconciler_.watch_lag(std::make_unique<LagMonitor>(std::move(offsets), options_.lag_interval));
  reconciler_.on_status(
      [this](const kube::Resource& r, const std::string& ns, const std::string& name,
             const json* status) { metrics_.resource_status(r.kind, ns, name, status); });
  const auto owner = [this](const kube::Resource& r) {
    return [this, kind = r.kind](kube::Change, const json& object) {
      queue_.add(key(kind, object));
      metrics_.queue_depth(queue_.depth());
    };
  };
  // One set of informers per watched namespace (the operator's RBAC may be Roles in each of
  // them only, so a cluster-wide watch would be refused).
  std::vector<std::string> namespaces;
  for (std::size_t at = 0; at <= options_.ns.size();) {
    const auto end = std::min(options_.ns.find(',', at), options_.ns.size());
    const auto ns = options_.ns.substr(at, end - at);
    if (!ns.empty() && std::find(namespaces.begin(), namespaces.end(), ns) == namespaces.end())
      namespaces.push_back(ns);
    at = end + 1;
  }
  if (namespaces.empty()) namespaces.emplace_back();  // every namespace
  for (const auto& ns : namespaces) {
    const auto watch = [&](const kube::Resource& r, kube::Informer::Handler handler,
                           const std::string& selector) {
      informers_.push_back(
          std::make_unique<kube::Informer>(client_, r, ns, std::move(handler), selector));
      informer_ns_.push_back(ns);
    };
    watch(kube::resources::pipelines, owner(kube::resources::pipelines), "");
    watch(kube::resources::weighted_services, owner(kube::resources::weighted_services), "");
    // Only our children: caching every ConfigMap and Deployment of a cluster would cost memory
    // for nothing.
    for (const auto* r : Reconciler::child_kinds()) {
      watch(
          *r, [this](kube::Change, const json& child) { enqueue_owner(child); },
          std::string(plan::kManagedBy) + "=pipewright");
    }
  }
}

Manager::~Manager() {
  stop_informers();
}

void Manager::start_informers() {
  for (auto& i : informers_)
    i->start();
}

void Manager::stop_informers() {
  queue_.shutdown();
  for (auto& i : informers_)
    i->stop();
}

bool Manager::synced() const {
  for (const auto& i : informers_) {
    if (!i->synced()) return false;
  }
  return true;
}

std::vector<const kube::Informer*> Manager::informers_for(const kube::Resource& r,
                                                          const std::string& ns) const {
  std::vector<const kube::Informer*> out;
  for (std::size_t i = 0; i < informers_.size(); ++i) {
    if (informers_[i]->resource().kind != r.kind) continue;
    if (ns.empty() || informer_ns_[i].empty() || informer_ns_[i] == ns)
      out.push_back(informers_[i].get());
  }
  return out;
}

std::optional<json> Manager::get(const kube::Resource& r, const std::string& ns,
                                 const std::string& name) const {
  for (const auto* i : informers_for(r, ns))
    if (auto object = i->get(ns, name)) return object;
  return std::nullopt;
}

std::vector<json> Manager::list(const kube::Resource& r, const std::string& ns) const {
  std::vector<json> out;
  for (const auto* i : informers_for(r, ns)) {
    auto part = i->list(ns);
    out.insert(out.end(), std::make_move_iterator(part.begin()),
               std::make_move_iterator(part.end()));
  }
  return out;
}

std::vector<json> Manager::list_labeled(const kube::Resource& r, const std::string& ns,
                                        const std::string& key, const std::string& value) const {
  std::vector<json> out;
  for (const auto* i : informers_for(r, ns)) {
    auto part = i->list_labeled(ns, key, value);
    out.insert(out.end(), std::make_move_iterator(part.begin()),
               std::make_move_iterator(part.end()));
  }
  return out;
}

void Manager::each(const kube::Resource& r, const std::string& ns,
                   const std::function<void(const json&)>& each) const {
  for (const auto* i : informers_for(r, ns))
    i->each(ns, each);
}

void Manager::enqueue_owner(const json& child) {
  const auto& md = child["metadata"];
  for (const auto& ref : md.value("ownerReferences", json::array())) {
    if (!ref.value("controller", false) ||
        ref.value("apiVersion", "") != "pipewright.io/v1alpha1") {
      continue;
    }
    queue_.add(ref.value("kind", "") + "/" + md.value("namespace", "") + "/" +
               ref.value("name", ""));
  }
  metrics_.queue_depth(queue_.depth());
}

void Manager::enqueue_all() {
  for (const auto* r : {&kube::resources::pipelines, &kube::resources::weighted_services}) {
    const auto all = list(*r, "");  // every watched namespace
    metrics_.managed(r->kind, static_cast<double>(all.size()));
    for (const auto& object : all)
      queue_.add(key(r->kind, object));
  }
  metrics_.queue_depth(queue_.depth());
}

void Manager::work(const std::atomic<bool>& stop) {
  while (!stop.load()) {
    const auto item = queue_.get(std::chrono::milliseconds(500));
    if (!item) continue;
    const auto first = item->find('/');
    const auto second = item->find('/', first + 1);
    const std::string kind = item->substr(0, first);
    const std::string ns = item->substr(first + 1, second - first - 1);
    const std::string name = item->substr(second + 1);
    const auto start = std::chrono::steady_clock::now();
    Outcome outcome;
    try {
      outcome = kind == kube::resources::pipelines.kind ? reconciler_.pipeline(ns, name)
                                                        : reconciler_.weighted_service(ns, name);
    } catch (const std::exception& e) {
      outcome = {false, std::nullopt, e.what()};
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    metrics_.reconciled(kind, outcome.ok, seconds);
    if (outcome.ok) {
      queue_.forget(*item);
      if (outcome.after) queue_.add_after(*item, *outcome.after);
    } else {
      log::warn(
          "reconcile failed; retrying with backoff",
          {{"key", *item}, {"error", outcome.error}, {"failures", queue_.failures(*item) + 1}});
      queue_.add_rate_limited(*item);
    }
    queue_.done(*item);
    metrics_.queue_depth(queue_.depth());
  }
}

void Manager::run(const std::atomic<bool>& stop) {
  // Reconciling against half-filled caches would re-apply every child and report every
  // Pipeline not ready: wait until every informer has listed.
  while (!stop.load() && !synced())
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  enqueue_all();
  std::vector<std::thread> workers;
  for (int i = 0; i < options_.workers; ++i)
    workers.emplace_back([this, &stop] { work(stop); });
  auto next_resync = std::chrono::steady_clock::now() + options_.resync;
  while (!stop.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (std::chrono::steady_clock::now() >= next_resync) {
      enqueue_all();
      next_resync = std::chrono::steady_clock::now() + options_.resync;
    }
  }
  queue_.shutdown();
  for (auto& w : workers)
    w.join();
}

}  // namespace pipewright::controller
