// The pure parts of pkg/kube: where each resource lives on the API server, and the informer's
// bookkeeping (relist difference, replayed events, backoff, prompt stop) against a scripted
// Client, where timing and 410s can be dictated exactly. tests/integration/kube_client_test.cpp
// runs the same code against a real kube-apiserver.

#include <gtest/gtest.h>
#include <deque>
#include <mutex>
#include <thread>

#include "pkg/kube/client.h"
#include "pkg/kube/informer.h"
#include "pkg/kube/rest.h"
#include "pkg/proc/net.h"

namespace pipewright {
namespace {

using kube::Change;
using kube::WatchEvent;
using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(KubeResource, PathsAndApiVersions) {
  namespace r = kube::resources;
  EXPECT_EQ(r::config_maps.path("demo", "x"), "/api/v1/namespaces/demo/configmaps/x");
  EXPECT_EQ(r::config_maps.path(), "/api/v1/configmaps");
  EXPECT_EQ(r::deployments.path("demo"), "/apis/apps/v1/namespaces/demo/deployments");
  EXPECT_EQ(r::replica_sets.path("demo"), "/apis/apps/v1/namespaces/demo/replicasets");
  EXPECT_EQ(r::pipelines.path("demo", "images"),
            "/apis/pipewright.io/v1alpha1/namespaces/demo/pipelines/images");
  EXPECT_EQ(r::weighted_services.path("demo"),
            "/apis/pipewright.io/v1alpha1/namespaces/demo/weightedservices");
  EXPECT_EQ(r::ingresses.path("demo"), "/apis/networking.k8s.io/v1/namespaces/demo/ingresses");
  EXPECT_EQ(r::http_routes.path("demo"),
            "/apis/gateway.networking.k8s.io/v1/namespaces/demo/httproutes");
  EXPECT_EQ(r::leases.path("kube-system", "l"),
            "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/l");
  EXPECT_EQ(r::services.path("demo"), "/api/v1/namespaces/demo/services");
  EXPECT_EQ(r::persistent_volume_claims.path("demo"),
            "/api/v1/namespaces/demo/persistentvolumeclaims");
  EXPECT_EQ(r::events.path("demo"), "/api/v1/namespaces/demo/events");
  // Cluster-scoped: a namespace given by mistake does not leak into the path.
  EXPECT_EQ(r::namespaces.path("ignored", "demo"), "/api/v1/namespaces/demo");
  EXPECT_FALSE(r::namespaces.namespaced);

  EXPECT_EQ(r::config_maps.api_version(), "v1");
  EXPECT_EQ(r::deployments.api_version(), "apps/v1");
  EXPECT_EQ(r::pipelines.api_version(), "pipewright.io/v1alpha1");
  EXPECT_EQ(r::pipelines.kind, "Pipeline");
  EXPECT_EQ(r::weighted_services.kind, "WeightedService");
  EXPECT_EQ(r::http_routes.kind, "HTTPRoute");
}

json object(const std::string& name, const std::string& rv, const std::string& uid = {}) {
  return {{"metadata",
           {{"namespace", "demo"},
            {"name", name},
            {"resourceVersion", rv},
            {"uid", uid.empty() ? "uid-" + name : uid}}}};
}

// A Client whose list answers and watch behaviours are queued by the test. A watch with nothing
// queued behaves like a quiet stream: it returns when `stop` becomes true.
class ScriptedClient : public kube::Client {
 public:
  using Watch = std::function<void(const std::function<bool(const WatchEvent&)>&)>;

  void push_list(kube::ListResult list) {
    const std::lock_guard lock(mu_);
    lists_.push_back(std::move(list));
  }
  void push_watch(Watch watch) {
    const std::lock_guard lock(mu_);
    watches_.push_back(std::move(watch));
  }
  std::vector<std::string> watched_from() {
    const std::lock_guard lock(mu_);
    return watched_from_;
  }
  int calls() {
    const std::lock_guard lock(mu_);
    return calls_;
  }

  kube::ListResult list(const kube::Resource&, const std::string&, const std::string&,
                        int) override {
    const std::lock_guard lock(mu_);
    ++calls_;
    if (lists_.empty()) throw kube::TransportError("no list scripted");
    auto out = lists_.front();
    if (lists_.size() > 1) lists_.pop_front();
    return out;
  }
  void watch(const kube::Resource&, const std::string&, const std::string& resource_version,
             const std::function<bool(const WatchEvent&)>& on_event, const std::atomic<bool>& stop,
             const std::string& = {}) override {
    Watch next;
    {
      const std::lock_guard lock(mu_);
      ++calls_;
      watched_from_.push_back(resource_version);
      if (!watches_.empty()) {
        next = std::move(watches_.front());
        watches_.pop_front();
      }
    }
    if (next) return next(on_event);
    proc::poll_until(
        seconds(60), [&] { return stop.load(); }, milliseconds(5));
  }

  std::optional<json> get(const kube::Resource&, const std::string&, const std::string&) override {
    return std::nullopt;
  }
  json create(const kube::Resource&, const json& o) override { return o; }
  json update(const kube::Resource&, const json& o) override { return o; }
  json update_status(const kube::Resource&, const json& o) override { return o; }
  json apply(const kube::Resource&, const json& o, bool) override { return o; }
  json merge_patch(const kube::Resource&, const std::string&, const std::string&, const json& p,
                   const std::string&) override {
    return p;
  }
  bool remove(const kube::Resource&, const std::string&, const std::string&,
              const std::string&) override {
    return false;
  }

 private:
  std::mutex mu_;
  std::deque<kube::ListResult> lists_;
  std::deque<Watch> watches_;
  std::vector<std::string> watched_from_;
  int calls_ = 0;
};

// What the handler was told, as "added demo/a 1" lines.
class Recorder {
 public:
  kube::Informer::Handler handler() {
    return [this](Change c, const json& o) {
      const char* what = c == Change::added      ? "added"
                         : c == Change::modified ? "modified"
                                                 : "deleted";
      const std::lock_guard lock(mu_);
      seen_.push_back(std::string(what) + " " + o["metadata"].value("name", "") + " " +
                      o["metadata"].value("resourceVersion", ""));
    };
  }
  std::vector<std::string> seen() {
    const std::lock_guard lock(mu_);
    return seen_;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> seen_;
};

TEST(KubeInformer, RelistAfterGoneReportsWhatVanishedChangedAndAppeared) {
  ScriptedClient client;
  client.push_list({{object("a", "1"), object("b", "1"), object("c", "1"), object("e", "1")}, "3"});
  client.push_watch([](const auto& on_event) {
    on_event(WatchEvent{"MODIFIED", object("a", "4")});
    throw kube::ApiError(410, "Expired", "too old resource version: 4 (9)");
  });
  // Meanwhile b vanished, c changed, d appeared, e was deleted and created again.
  client.push_list(
      {{object("a", "4"), object("c", "7"), object("d", "8"), object("e", "9", "uid-e2")}, "9"});
  Recorder rec;
  kube::Informer informer(client, kube::resources::config_maps, "demo", rec.handler());
  informer.start();
  ASSERT_TRUE(proc::poll_until(seconds(5), [&] { return informer.relists() == 2; }));
  informer.stop();

  EXPECT_EQ(rec.seen(),
            (std::vector<std::string>{"added a 1", "added b 1", "added c 1", "added e 1",
                                      "modified a 4", "deleted b 1", "modified c 7", "added d 8",
                                      "deleted e 1", "added e 9"}));
  EXPECT_EQ(client.watched_from(), (std::vector<std::string>{"3", "9"}));
  EXPECT_TRUE(informer.synced());
  EXPECT_FALSE(informer.get("demo", "b"));
  EXPECT_EQ(informer.get("demo", "c").value()["metadata"]["resourceVersion"], "7");
  EXPECT_EQ(informer.list("demo").size(), 4u);
  EXPECT_EQ(informer.list("elsewhere").size(), 0u);
}

TEST(KubeInformer, ReplayedEventsAreNotReportedTwiceAndBookmarksMoveTheVersion) {
  ScriptedClient client;
  client.push_list({{object("a", "1")}, "2"});
  client.push_watch([](const auto& on_event) {
    on_event(WatchEvent{"ADDED", object("a", "1")});     // already known at this version
    on_event(WatchEvent{"DELETED", object("zz", "3")});  // never seen: nothing to report
    on_event(WatchEvent{"MODIFIED", object("b", "4")});  // first sight of b: an add
    on_event(WatchEvent{"BOOKMARK", {{"metadata", {{"resourceVersion", "12"}}}}});
  });  // then the server ends the stream (its timeout)
  Recorder rec;
  kube::Informer informer(client, kube::resources::config_maps, "demo", rec.handler());
  informer.start();
  ASSERT_TRUE(proc::poll_until(seconds(5), [&] { return client.watched_from().size() == 2; }));
  informer.stop();
  EXPECT_EQ(rec.seen(), (std::vector<std::string>{"added a 1", "added b 4"}));
  EXPECT_EQ(client.watched_from(), (std::vector<std::string>{"2", "12"}));
  EXPECT_EQ(informer.relists(), 1);
}

TEST(KubeInformer, BacksOffOnBrokenConnectionsAndStopsPromptly) {
  ScriptedClient client;  // no list scripted: every list is a TransportError
  Recorder rec;
  kube::Informer informer(client, kube::resources::config_maps, "demo", rec.handler());
  const auto started = std::chrono::steady_clock::now();
  informer.start();
  // 200, 400, 800 ms (±20%) between attempts: the fourth comes at least 1120 ms after the first
  // (a busy loop makes thousands at once). Counted, not slept for: a starved informer thread
  // makes fewer attempts in a fixed time, which said nothing about its backoff.
  ASSERT_TRUE(proc::poll_until(
      seconds(30), [&] { return client.calls() >= 4; }, milliseconds(10)));
  EXPECT_GE(std::chrono::steady_clock::now() - started, milliseconds(1120));
  EXPECT_FALSE(informer.synced());
  // Now in the fourth wait, 1600 ms ± 20%: a stop that waited it out would take over 1200 ms.
  const auto began = std::chrono::steady_clock::now();
  informer.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - began, milliseconds(1000));
}

TEST(KubeInformer, AHandlerThatThrowsDoesNotStopTheInformer) {
  ScriptedClient client;
  client.push_list({{object("a", "1")}, "2"});
  client.push_watch([](const auto& on_event) { on_event(WatchEvent{"ADDED", object("b", "3")}); });
  std::atomic<int> calls{0};
  kube::Informer informer(client, kube::resources::config_maps, "demo", [&](Change, const json&) {
    ++calls;
    throw std::runtime_error("handler bug");
  });
  informer.start();
  ASSERT_TRUE(proc::poll_until(seconds(5), [&] { return calls == 2; }));
  EXPECT_TRUE(informer.get("demo", "b").has_value());
  informer.stop();
}

}  // namespace
}  // namespace pipewright
