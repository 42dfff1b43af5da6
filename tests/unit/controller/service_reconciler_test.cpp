// The WeightedService reconciler's decisions, against doubles: its children, the readiness it
// reads from each backend's Deployment (named by contract::child_name), and its status when the
// weighted backends are down and only the backup serves.

#include "pkg/controller/service_reconciler.h"

#include "pkg/api/manifest.h"
#include "pkg/contract/names.h"
#include "pkg/plan/render.h"
#include "tests/unit/controller/fixture.h"

namespace pipewright::controller {
namespace {

using namespace testing_support;  // NOLINT(google-build-using-namespace)

const std::string kNs = "shop";

json service() {
  return {{"apiVersion", "pipewright.io/v1alpha1"},
          {"kind", "WeightedService"},
          {"metadata", metadata(kNs, "mult", "uid-mult")},
          {"spec",
           {{"worker", "mult"},
            {"port", 8080},
            {"backends", json::array({{{"name", "primary"}, {"weight", 3}},
                                      {{"name", "secondary"}, {"weight", 1}},
                                      {{"name", "standby"}, {"backup", true}}})}}}};
}

struct ServiceReconcilerTest : ReconcilerTest {
  void SetUp() override {
    record_writes();
    cache.put(kube::resources::weighted_services, service());
  }
  // The informers report `deployment` with `ready` of its replicas ready.
  void ready(const std::string& deployment, int replicas) {
    auto d = cache.get(kube::resources::deployments, kNs, deployment);
    ASSERT_TRUE(d.has_value()) << deployment;
    (*d)["metadata"]["generation"] = 1;
    (*d)["status"] = {{"observedGeneration", 1}, {"readyReplicas", replicas}};
    cache.put(kube::resources::deployments, *d);
  }
  json backend_line(const std::string& name) const {
    for (const auto& b : written_status["backends"]) {
      if (b["name"] == name) return b;
    }
    return nullptr;
  }
};

TEST_F(ServiceReconcilerTest, ANewServiceGetsEveryPlannedChildAndNoTopic) {
  EXPECT_CALL(*admin, describe).Times(0);
  EXPECT_TRUE(reconciler.weighted_service(kNs, "mult").ok);
  std::set<std::string> want;
  for (const auto& c : plan::render(api::weighted_service_from_json(service()), {}))
    want.insert(id(c));
  EXPECT_EQ(std::set<std::string>(applied.begin(), applied.end()), want);
  EXPECT_TRUE(admins_asked.empty());
}

TEST_F(ServiceReconcilerTest, OnlyTheBackupReadyIsNoWeightedBackendReady) {
  ASSERT_TRUE(reconciler.weighted_service(kNs, "mult").ok);
  ready(contract::child_name("mult", "primary"), 0);
  ready(contract::child_name("mult", "secondary"), 0);
  ready(contract::child_name("mult", "standby"), 1);
  ready(contract::child_name("mult", std::string(contract::kRouterPart)), 1);

  ASSERT_TRUE(reconciler.weighted_service(kNs, "mult").ok);

  EXPECT_EQ(backend_line("standby")["ready"], true) << written_status.dump();
  EXPECT_EQ(backend_line("primary")["ready"], false);
  EXPECT_EQ(backend_line("secondary")["ready"], false);
  EXPECT_EQ(condition(written_status, "RouterReady")["status"], "True");
  EXPECT_EQ(condition(written_status, "BackendsReady")["reason"], "NoWeightedBackendReady");
  EXPECT_EQ(condition(written_status, "Ready")["status"], "False");
  EXPECT_EQ(written_status["ready"], "1/3");
}

TEST_F(ServiceReconcilerTest, EveryBackendAndTheRouterReadyIsRunning) {
  ASSERT_TRUE(reconciler.weighted_service(kNs, "mult").ok);
  for (const auto* b : {"primary", "secondary", "standby"})
    ready(contract::child_name("mult", b), 1);
  ready(contract::child_name("mult", std::string(contract::kRouterPart)), 1);
  ASSERT_TRUE(reconciler.weighted_service(kNs, "mult").ok);
  EXPECT_EQ(written_status["phase"], "Running") << written_status.dump();
}

TEST_F(ServiceReconcilerTest, ARemovedBackendDeletesItsChildrenOnly) {
  ASSERT_TRUE(reconciler.weighted_service(kNs, "mult").ok);
  auto two = service();
  two["spec"]["backends"].erase(1);  // secondary
  cache.put(kube::resources::weighted_services, two);
  ASSERT_TRUE(reconciler.weighted_service(kNs, "mult").ok);
  const std::string secondary = contract::child_name("mult", "secondary");
  EXPECT_EQ(std::set<std::string>(removed.begin(), removed.end()),
            std::set<std::string>({"Deployment/" + secondary, "Service/" + secondary}));
}

TEST_F(ServiceReconcilerTest, NothingIsWrittenWhenTheWorldIsAlreadyAsPlanned) {
  ASSERT_TRUE(reconciler.weighted_service(kNs, "mult").ok);
  ::testing::Mock::VerifyAndClearExpectations(&client);
  expect_no_writes();
  for (int pass = 0; pass < 3; ++pass)
    EXPECT_TRUE(reconciler.weighted_service(kNs, "mult").ok);
}

}  // namespace
}  // namespace pipewright::controller
