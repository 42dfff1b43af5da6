#pragma once
// Wires informers, the work queue and the reconciler: every Pipeline and WeightedService event
// enqueues its key; every event of an owned child enqueues its owner; a periodic resync catches
// what no watch reports (a Kafka topic deleted by hand).

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "pkg/controller/metrics.h"
#include "pkg/controller/reconciler.h"
#include "pkg/controller/workqueue.h"
#include "pkg/kube/informer.h"

namespace pipewright::controller {

struct ManagerOptions {
  std::string ns;  // empty: every namespace; "a,b": only those (one set of informers each)
  plan::RenderOptions render;
  int workers = 2;
  std::chrono::seconds resync{300};
  // How often each Pipeline's consumer lag and dead letters are read from Kafka (with a reader).
  std::chrono::milliseconds lag_interval{std::chrono::seconds(30)};
};

class Manager final : public Cache {
 public:
  // Without `offsets`, status shows no lag or dead letters.
  Manager(kube::Client& client, Metrics& metrics, ManagerOptions options, AdminFor admin,
          OffsetReaderFor offsets = {});
  ~Manager() override;

  // Starts the informers (all replicas do, so a new leader starts warm).
  void start_informers();
  bool synced() const;
  // Reconciles until `stop` (call once this replica leads).
  void run(const std::atomic<bool>& stop);
  void stop_informers();

  std::optional<nlohmann::json> get(const kube::Resource& r, const std::string& ns,
                                    const std::string& name) const override;
  std::vector<nlohmann::json> list(const kube::Resource& r, const std::string& ns) const override;
  std::vector<nlohmann::json> list_labeled(const kube::Resource& r, const std::string& ns,
                                           const std::string& key,
                                           const std::string& value) const override;
  void each(const kube::Resource& r, const std::string& ns,
            const std::function<void(const nlohmann::json&)>& each) const override;

 private:
  void enqueue_owner(const nlohmann::json& child);
  void enqueue_all();
  void work(const std::atomic<bool>& stop);
  // The informers of r's kind that hold namespace `ns` (empty: every watched namespace).
  std::vector<const kube::Informer*> informers_for(const kube::Resource& r,
                                                   const std::string& ns) const;

  kube::Client& client_;
  Metrics& metrics_;
  ManagerOptions options_;
  WorkQueue queue_;
  Reconciler reconciler_;
  std::vector<std::unique_ptr<kube::Informer>> informers_;
  std::vector<std::string> informer_ns_;  // the namespace each informer watches ("": all)
};

}  // namespace pipewright::controller
