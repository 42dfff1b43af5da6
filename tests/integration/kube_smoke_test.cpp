// The control plane the project builds is real: cpprestsdk lists, watches, creates and deletes a
// ConfigMap against kube-apiserver over TLS; kube-controller-manager turns a Deployment into a
// ReplicaSet; kubectl and helm answer.

#include <gtest/gtest.h>
#include <mutex>
#include <thread>

#include "pkg/kube/rest.h"
#include "pkg/local/tools.h"
#include "pkg/proc/net.h"
#include "pkg/proc/run.h"
#include "tests/support/control_plane.h"
#include "tests/support/shared.h"

namespace pipewright {
namespace {

using nlohmann::json;
using std::chrono::seconds;
using testing::ControlPlane;
using testing::Shared;

class KubeSmoke : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    plane.start([] { return ControlPlane::start(); });
  }
  static void TearDownTestSuite() { plane.reset(); }
  void SetUp() override { ASSERT_TRUE(plane) << plane.error; }
  static inline Shared<ControlPlane> plane;
};

TEST_F(KubeSmoke, ListThenWatchSeesAConfigMapCreatedAndDeleted) {
  kube::Rest rest(plane->admin());
  const std::string base = "/api/v1/namespaces/default/configmaps";

  const auto list = rest.request("GET", base + "?limit=500");
  ASSERT_EQ(list.status, 200) << list.body;
  const std::string rv = list.json()["metadata"]["resourceVersion"];
  ASSERT_FALSE(rv.empty());

  std::mutex mu;
  std::vector<std::pair<std::string, std::string>> seen;  // (type, name)
  int watch_status = 0;
  std::thread watcher([&] {
    kube::Rest watch_rest(plane->admin(), seconds(60));
    watch_status = watch_rest.watch(
        base + "?watch=1&allowWatchBookmarks=true&timeoutSeconds=60&resourceVersion=" + rv,
        [&](const json& ev) {
          const std::lock_guard lock(mu);
          seen.emplace_back(ev.value("type", ""),
                            ev["object"]["metadata"].value("name", std::string()));
          return !(seen.back().first == "DELETED" && seen.back().second == "smoke");
        });
  });

  const json cm = {{"apiVersion", "v1"},
                   {"kind", "ConfigMap"},
                   {"metadata", {{"name", "smoke"}}},
                   {"data", {{"greeting", "olá"}}}};
  const auto created = rest.request("POST", base, cm.dump());
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(created.json()["data"]["greeting"], "olá");

  auto saw = [&](const std::string& type) {
    const std::lock_guard lock(mu);
    return std::find(seen.begin(), seen.end(), std::make_pair(type, std::string("smoke"))) !=
           seen.end();
  };
  EXPECT_TRUE(proc::poll_until(seconds(20), [&] { return saw("ADDED"); }))
      << "the watch did not see the ConfigMap being created";

  const auto deleted = rest.request("DELETE", base + "/smoke");
  ASSERT_EQ(deleted.status, 200) << deleted.body;
  EXPECT_TRUE(proc::poll_until(seconds(20), [&] { return saw("DELETED"); }))
      << "the watch did not see the ConfigMap being deleted";
  watcher.join();
  EXPECT_EQ(watch_status, 200);
  EXPECT_EQ(rest.request("GET", base + "/smoke").status, 404);
}

TEST_F(KubeSmoke, ControllerManagerTurnsADeploymentIntoAReplicaSet) {
  kube::Rest rest(plane->admin());
  const json deployment = {
      {"apiVersion", "apps/v1"},
      {"kind", "Deployment"},
      {"metadata", {{"name", "smoke"}, {"labels", {{"app", "smoke"}}}}},
      {"spec",
       {{"replicas", 2},
        {"selector", {{"matchLabels", {{"app", "smoke"}}}}},
        {"template",
         {{"metadata", {{"labels", {{"app", "smoke"}}}}},
          {"spec",
           {{"containers",
             json::array({{{"name", "w"}, {"image", "pipewright/worker:dev"}}})}}}}}}}};
  const auto created =
      rest.request("POST", "/apis/apps/v1/namespaces/default/deployments", deployment.dump());
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string uid = created.json()["metadata"]["uid"];

  json replicaset;
  std::string last;
  const bool found = proc::poll_until(seconds(30), [&] {
    const auto r = rest.request(
        "GET", "/apis/apps/v1/namespaces/default/replicasets?labelSelector=app%3Dsmoke");
    last = r.body;
    if (r.status != 200) return false;
    const json list = r.json();  // iterating r.json()["items"] directly would dangle
    for (const auto& rs : list["items"]) {
      for (const auto& owner : rs["metadata"].value("ownerReferences", json::array())) {
        if (owner["uid"] == uid) replicaset = rs;
      }
    }
    return !replicaset.is_null();
  });
  ASSERT_TRUE(found)
      << "no ReplicaSet owned by the Deployment within 30 s; last list: " << last
      << "\nDeployment: "
      << rest.request("GET", "/apis/apps/v1/namespaces/default/deployments/smoke").body;
  EXPECT_EQ(replicaset["spec"]["replicas"], 2);

  // Garbage collection: deleting the owner deletes the ReplicaSet.
  ASSERT_EQ(
      rest.request(
              "DELETE",
              "/apis/apps/v1/namespaces/default/deployments/smoke?propagationPolicy=Background")
          .status,
      200);
  const std::string rs_name = replicaset["metadata"]["name"];
  EXPECT_TRUE(proc::poll_until(seconds(30), [&] {
    return rest.request("GET", "/apis/apps/v1/namespaces/default/replicasets/" + rs_name).status ==
           404;
  })) << "the garbage collector did not delete the ReplicaSet";
}

TEST_F(KubeSmoke, KubectlAndHelmAnswer) {
  const auto kubectl = plane->kubectl({"version", "-o", "json"});
  ASSERT_EQ(kubectl.exit_code, 0) << kubectl.output;
  const auto v = json::parse(kubectl.output);
  EXPECT_EQ(v["clientVersion"]["gitVersion"], PIPEWRIGHT_K8S_VERSION);
  EXPECT_EQ(v["serverVersion"]["gitVersion"], PIPEWRIGHT_K8S_VERSION);

  const auto ns = plane->kubectl({"get", "namespace", "kube-system", "-o", "name"});
  EXPECT_EQ(ns.exit_code, 0) << ns.output;
  EXPECT_EQ(ns.output, "namespace/kube-system\n");

  const auto helm = proc::run({local::cached_tool("helm").string(), "version", "--short"});
  ASSERT_EQ(helm.exit_code, 0) << helm.output;
  EXPECT_EQ(helm.output.rfind(PIPEWRIGHT_HELM_VERSION, 0), 0u) << helm.output;

  // helm reaches the same API server.
  const auto list = proc::run({local::cached_tool("helm").string(), "list", "-A", "--kubeconfig",
                               plane->admin_kubeconfig().string(), "-o", "json"});
  EXPECT_EQ(list.exit_code, 0) << list.output;
  EXPECT_EQ(list.output, "[]\n");
}

}  // namespace
}  // namespace pipewright
