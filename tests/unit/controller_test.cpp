#include <gtest/gtest.h>

#include "pkg/controller/reconciler.h"
#include "pkg/controller/status.h"

namespace pipewright::controller {
namespace {

using nlohmann::json;

TEST(Contains, ServerAddedFieldsAreNotDriftButChangedOrMissingOnesAre) {
  const json desired = {
      {"spec",
       {{"replicas", 2}, {"template", {{"containers", {{{"name", "w"}, {"image", "i"}}}}}}}}};
  json live = desired;
  live["spec"]["template"]["containers"][0]["imagePullPolicy"] = "IfNotPresent";
  live["spec"]["revisionHistoryLimit"] = 10;
  live["status"] = {{"readyReplicas", 1}};
  EXPECT_TRUE(contains(live, desired));

  live["spec"]["replicas"] = 5;  // a hand edit
  EXPECT_FALSE(contains(live, desired));
  live["spec"]["replicas"] = 2;
  live["spec"]["template"]["containers"].push_back({{"name", "sidecar"}});  // an added container
  EXPECT_FALSE(contains(live, desired));
  EXPECT_FALSE(contains(json::object(), desired));
  EXPECT_TRUE(contains(json{{"n", 2u}}, json{{"n", 2}}));  // unsigned and signed 2 are the same
}

PipelineObservation healthy() {
  PipelineObservation o;
  o.generation = 4;
  o.topics = {{"images", "demo.images.images", 3, true, "", ""}};
  o.steps = {{"upload", 1, 1}, {"rotate", 2, 2}};
  return o;
}

const json* condition(const json& status, const std::string& type) {
  for (const auto& c : status["conditions"]) {
    if (c["type"] == type) return &c;
  }
  return nullptr;
}

TEST(PipelineStatus, ReadyWhenTopicsAndEveryStepAreReady) {
  const auto s = pipeline_status(healthy(), nullptr, "2026-01-01T00:00:00Z");
  EXPECT_EQ(s["phase"], "Running");
  EXPECT_EQ(s["observedGeneration"], 4);
  EXPECT_EQ(s["ready"], "2/2");
  EXPECT_EQ(s["stepCount"], 2);
  ASSERT_NE(condition(s, "Ready"), nullptr);
  EXPECT_EQ((*condition(s, "Ready"))["status"], "True");
  EXPECT_EQ(s["topics"][0]["partitions"], 3);
}

TEST(PipelineStatus, PendingFirstThenDegradedWhenAStepStopsBeingReady) {
  auto o = healthy();
  o.steps[1].ready_replicas = 0;
  const auto pending = pipeline_status(o, nullptr, "t1");
  EXPECT_EQ(pending["phase"], "Pending");
  EXPECT_EQ((*condition(pending, "WorkloadsReady"))["reason"], "StepNotReady");
  EXPECT_NE((*condition(pending, "Ready"))["message"].get<std::string>().find("rotate has 0/2"),
            std::string::npos);

  const auto running = pipeline_status(healthy(), pending, "t2");
  EXPECT_EQ(running["phase"], "Running");
  const auto degraded = pipeline_status(o, running, "t3");
  EXPECT_EQ(degraded["phase"], "Degraded");
  EXPECT_EQ(degraded["ready"], "1/2");
}

TEST(PipelineStatus, UnchangedObservationsGiveAnIdenticalStatus) {
  const auto first = pipeline_status(healthy(), nullptr, "2026-01-01T00:00:00Z");
  const auto later = pipeline_status(healthy(), first, "2026-01-01T00:05:00Z");
  EXPECT_EQ(first, later) << "a status write would happen in steady state";
}

TEST(PipelineStatus, RefusedDecreaseAndInvalidSpecAreReported) {
  auto o = healthy();
  o.topics[0] = {"images", "demo.images.images",       3,
                 false,    "PartitionDecreaseRefused", "spec asks for 2"};
  const auto s = pipeline_status(o, nullptr, "t");
  EXPECT_EQ((*condition(s, "TopicsReady"))["status"], "False");
  EXPECT_EQ((*condition(s, "Ready"))["reason"], "PartitionDecreaseRefused");

  PipelineObservation bad;
  bad.generation = 7;
  bad.invalid_spec = "spec.steps: the steps form a cycle";
  const auto invalid = pipeline_status(bad, nullptr, "t");
  EXPECT_EQ(invalid["phase"], "Failed");
  EXPECT_EQ((*condition(invalid, "Ready"))["reason"], "InvalidSpec");
  EXPECT_EQ((*condition(invalid, "Ready"))["message"], "spec.steps: the steps form a cycle");
  EXPECT_EQ((*condition(invalid, "Ready"))["observedGeneration"], 7);
}

TEST(ServiceStatus, BackendsAndRouter) {
  ServiceObservation o;
  o.backends = {
      {"primary", 3, false, 1, 1}, {"secondary", 1, false, 1, 0}, {"standby", 1, true, 1, 1}};
  o.router_ready = 1;
  const auto s = service_status(o, nullptr, "t");
  EXPECT_EQ(s["ready"], "2/3");
  EXPECT_EQ(s["backends"][2]["backup"], true);
  EXPECT_EQ(s["backends"][1]["ready"], false);
  EXPECT_EQ((*condition(s, "Ready"))["reason"], "SomeBackendsNotReady");
  EXPECT_EQ(s["phase"], "Pending");
}

}  // namespace
}  // namespace pipewright::controller
