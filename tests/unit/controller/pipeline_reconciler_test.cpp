// The Pipeline reconciler's decisions, against doubles of the API client, the informers' caches
// and the topic admin: what it applies, what it deletes (only what it owns), what status it
// reports, and that a world already as planned causes no write.

#include "pkg/controller/pipeline_reconciler.h"

#include "pkg/api/manifest.h"
#include "pkg/contract/names.h"
#include "pkg/plan/render.h"
#include "pkg/plan/topics.h"
#include "tests/unit/controller/fixture.h"

namespace pipewright::controller {
namespace {

using namespace testing_support;  // NOLINT(google-build-using-namespace)
using ::testing::Return;

const std::string kNs = "tenant-a";

// Two steps over three topics: in -> a -> mid -> b -> out.
json pipeline(const std::vector<std::string>& steps = {"a", "b"}) {
  json spec = {{"kafka", {{"bootstrapServers", "k:9092"}}},
               {"topics", json::array({{{"name", "in"}, {"partitions", 3}},
                                       {{"name", "mid"}, {"partitions", 3}},
                                       {{"name", "out"}, {"partitions", 3}}})},
               {"steps", json::array()}};
  for (const auto& s : steps) {
    spec["steps"].push_back({{"name", s},
                             {"image", "example.com/" + s + ":1"},
                             {"inputs", json::array({s == "a" ? "in" : "mid"})},
                             {"outputs", json::array({s == "a" ? "mid" : "out"})}});
  }
  return {{"apiVersion", "pipewright.io/v1alpha1"},
          {"kind", "Pipeline"},
          {"metadata", metadata(kNs, "demo", "uid-demo")},
          {"spec", spec}};
}

std::set<std::string> rendered(const json& object) {
  std::set<std::string> out;
  for (const auto& c : plan::render(api::pipeline_from_json(object), {}))
    out.insert(id(c));
  return out;
}

struct PipelineReconcilerTest : ReconcilerTest {
  void SetUp() override { record_writes(); }
};

TEST_F(PipelineReconcilerTest, ANewPipelineGetsEveryPlannedChildItsTopicsAndOneStatus) {
  cache.put(kube::resources::pipelines, pipeline());
  EXPECT_CALL(client, merge_patch(_, kNs, "demo", _, "status")).Times(1);

  const auto outcome = reconciler.pipeline(kNs, "demo");

  EXPECT_TRUE(outcome.ok) << outcome.error;
  EXPECT_EQ(std::set<std::string>(applied.begin(), applied.end()), rendered(pipeline()));
  EXPECT_EQ(applied.size(), rendered(pipeline()).size());  // each once
  EXPECT_TRUE(removed.empty());
  EXPECT_EQ(admins_asked, std::vector<std::string>({"k:9092"}));
  for (const auto& t : plan::topics(api::pipeline_from_json(pipeline()))) {
    ASSERT_TRUE(admin->topics.contains(t.name)) << t.name;
    EXPECT_EQ(admin->topics[t.name].partitions, t.partitions) << t.name;
  }
  // What it created is recorded (the record is what it may later alter or delete).
  EXPECT_EQ(written_status["createdTopics"].size(), admin->topics.size());
  EXPECT_EQ(condition(written_status, "TopicsReady")["status"], "True");
  // No Deployment is ready yet.
  EXPECT_EQ(written_status["phase"], "Pending");
  EXPECT_EQ(condition(written_status, "WorkloadsReady")["reason"], "StepNotReady");
}

TEST_F(PipelineReconcilerTest, StepReadinessIsReadFromTheDeploymentNamedByTheContract) {
  cache.put(kube::resources::pipelines, pipeline({"a"}));
  ASSERT_TRUE(reconciler.pipeline(kNs, "demo").ok);
  // The informers now report the step's Deployment ready.
  auto d = cache.get(kube::resources::deployments, kNs, contract::child_name("demo", "a"));
  ASSERT_TRUE(d.has_value());
  (*d)["status"] = {{"observedGeneration", 1}, {"readyReplicas", 1}};
  (*d)["metadata"]["generation"] = 1;
  cache.put(kube::resources::deployments, *d);

  ASSERT_TRUE(reconciler.pipeline(kNs, "demo").ok);
  EXPECT_EQ(written_status["phase"], "Running") << written_status.dump();
  EXPECT_EQ(condition(written_status, "Ready")["status"], "True");
  EXPECT_EQ(written_status["ready"], "1/1");
}

TEST_F(PipelineReconcilerTest, ARemovedStepDeletesOnlyTheChildrenThisPipelineOwns) {
  cache.put(kube::resources::pipelines, pipeline({"a", "b"}));
  ASSERT_TRUE(reconciler.pipeline(kNs, "demo").ok);
  const std::string b = contract::child_name("demo", "b");
  ASSERT_TRUE(cache.get(kube::resources::deployments, kNs, b).has_value());
  // A tenant's own Deployment carrying the same labels, owned by something else: not ours.
  json foreign = {{"apiVersion", "apps/v1"},
                  {"kind", "Deployment"},
                  {"metadata",
                   {{"namespace", kNs},
                    {"name", "demo-tenants-own"},
                    {"labels", {{plan::kPipelineLabel, "demo"}, {plan::kManagedBy, "pipewright"}}},
                    {"ownerReferences", json::array({{{"kind", "Pipeline"},
                                                      {"name", "other"},
                                                      {"uid", "uid-other"},
                                                      {"controller", true}}})}}}};
  cache.put(kube::resources::deployments, foreign);
  applied.clear();

  cache.put(kube::resources::pipelines, pipeline({"a"}));
  ASSERT_TRUE(reconciler.pipeline(kNs, "demo").ok);

  const auto before = rendered(pipeline({"a", "b"}));
  const auto after = rendered(pipeline({"a"}));
  std::set<std::string> stale;
  std::set_difference(before.begin(), before.end(), after.begin(), after.end(),
                      std::inserter(stale, stale.end()));
  ASSERT_FALSE(stale.empty());
  EXPECT_EQ(std::set<std::string>(removed.begin(), removed.end()), stale);
  EXPECT_TRUE(std::find(removed.begin(), removed.end(), "Deployment/demo-tenants-own") ==
              removed.end());
  EXPECT_TRUE(std::find(removed.begin(), removed.end(), "Deployment/" + b) != removed.end());
}

TEST_F(PipelineReconcilerTest, AForeignObjectOfAChildsNameHoldsBackEveryWriteAndIsReported) {
  cache.put(kube::resources::pipelines, pipeline({"a"}));
  const std::string a = contract::child_name("demo", "a");
  // A user's Deployment of the step's name, unknown to the informers (they hold only ours).
  EXPECT_CALL(client, get).Times(::testing::AnyNumber());
  EXPECT_CALL(client, get(::testing::Field(&kube::Resource::kind, "Deployment"), kNs, a))
      .WillRepeatedly(
          Return(json{{"kind", "Deployment"}, {"metadata", {{"namespace", kNs}, {"name", a}}}}));
  EXPECT_CALL(client, apply).Times(0);
  EXPECT_CALL(client, remove).Times(0);

  const auto outcome = reconciler.pipeline(kNs, "demo");

  EXPECT_TRUE(outcome.ok);
  EXPECT_EQ(outcome.after, kConflictRecheck);
  const auto w = condition(written_status, "WorkloadsReady");
  EXPECT_EQ(w["reason"], "ForeignObject");
  EXPECT_NE(w["message"].get<std::string>().find("Deployment " + a), std::string::npos) << w;
}

TEST_F(PipelineReconcilerTest, AFailedApplyIsRetriedAndShownAsApplyFailed) {
  cache.put(kube::resources::pipelines, pipeline({"a"}));
  EXPECT_CALL(client, apply)
      .WillRepeatedly(::testing::Throw(kube::ApiError(422, "Invalid", "spec.replicas: bad")));

  const auto outcome = reconciler.pipeline(kNs, "demo");

  EXPECT_FALSE(outcome.ok);
  EXPECT_NE(outcome.error.find("422 Invalid"), std::string::npos) << outcome.error;
  EXPECT_EQ(condition(written_status, "WorkloadsReady")["reason"], "ApplyFailed");
  EXPECT_EQ(condition(written_status, "Ready")["status"], "False");
  EXPECT_EQ(written_status["phase"], "Pending");
}

TEST_F(PipelineReconcilerTest, ATopicThatCouldNotBeCreatedIsRetriedAndNamedInStatus) {
  cache.put(kube::resources::pipelines, pipeline({"a"}));
  EXPECT_CALL(*admin, create)
      .WillRepeatedly(::testing::Invoke([](const std::vector<kafka::TopicSpec>& specs) {
        std::vector<kafka::TopicResult> out;
        for (const auto& t : specs)
          out.push_back({t.name, kafka::TopicOutcome::failed, "broker said no"});
        return out;
      }));

  const auto outcome = reconciler.pipeline(kNs, "demo");

  ASSERT_TRUE(kafka::retry_may_fix(kafka::TopicProblem::create_failed));
  EXPECT_FALSE(outcome.ok);  // retry_may_fix: back off and try again
  const auto t = condition(written_status, "TopicsReady");
  EXPECT_EQ(t["reason"], kafka::reason(kafka::TopicProblem::create_failed));
  EXPECT_NE(t["message"].get<std::string>().find("broker said no"), std::string::npos) << t;
  EXPECT_EQ(condition(written_status, "Ready")["status"], "False");
  EXPECT_FALSE(written_status.contains("createdTopics") &&
               !written_status["createdTopics"].empty());
}

TEST_F(PipelineReconcilerTest, APartitionDecreaseIsRefusedInStatusAndWaitsForTheSpec) {
  cache.put(kube::resources::pipelines, pipeline({"a"}));
  ASSERT_TRUE(reconciler.pipeline(kNs, "demo").ok);
  auto smaller = *cache.get(kube::resources::pipelines, kNs, "demo");
  smaller["spec"]["topics"][0]["partitions"] = 1;
  smaller["metadata"]["generation"] = 2;
  cache.put(kube::resources::pipelines, smaller);
  std::string in;
  for (const auto& t : plan::topics(api::pipeline_from_json(smaller))) {
    if (t.logical == "in") in = t.name;
  }
  ASSERT_FALSE(in.empty());
  EXPECT_CALL(*admin, grow_partitions).Times(0);
  EXPECT_CALL(*admin, create).Times(0);

  const auto outcome = reconciler.pipeline(kNs, "demo");

  ASSERT_FALSE(kafka::retry_may_fix(kafka::TopicProblem::partition_decrease_refused));
  EXPECT_TRUE(outcome.ok) << outcome.error;  // no retry: only a spec change helps
  EXPECT_EQ(admin->topics.at(in).partitions, 3);
  const auto t = condition(written_status, "TopicsReady");
  EXPECT_EQ(t["reason"], "PartitionDecreaseRefused");
  EXPECT_EQ(condition(written_status, "Ready")["reason"], "PartitionDecreaseRefused");
  EXPECT_EQ(written_status["observedGeneration"], 2);
}

TEST_F(PipelineReconcilerTest, KafkaUnreachableIsRetriedAndShownAsKafkaUnavailable) {
  cache.put(kube::resources::pipelines, pipeline({"a"}));
  EXPECT_CALL(*admin, describe).WillRepeatedly(::testing::Throw(std::runtime_error("timed out")));

  const auto outcome = reconciler.pipeline(kNs, "demo");

  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(condition(written_status, "TopicsReady")["reason"], "KafkaUnavailable");
  // The children do not wait for Kafka.
  EXPECT_EQ(std::set<std::string>(applied.begin(), applied.end()), rendered(pipeline({"a"})));
}

TEST_F(PipelineReconcilerTest, AnInvalidSpecIsReportedAndNothingElseIsDone) {
  auto bad = pipeline({"a"});
  bad["spec"]["steps"][0]["inputs"] = json::array({"nowhere"});
  cache.put(kube::resources::pipelines, bad);
  EXPECT_CALL(client, apply).Times(0);
  EXPECT_CALL(*admin, describe).Times(0);

  EXPECT_TRUE(reconciler.pipeline(kNs, "demo").ok);
  EXPECT_EQ(written_status["phase"], "Failed");
  EXPECT_EQ(condition(written_status, "Ready")["reason"], "InvalidSpec");
}

TEST_F(PipelineReconcilerTest, NothingIsWrittenWhenTheWorldIsAlreadyAsPlanned) {
  cache.put(kube::resources::pipelines, pipeline());
  ASSERT_TRUE(reconciler.pipeline(kNs, "demo").ok);
  ASSERT_FALSE(applied.empty());
  ASSERT_FALSE(written_status.is_null());
  ::testing::Mock::VerifyAndClearExpectations(&client);
  ::testing::Mock::VerifyAndClearExpectations(admin.get());
  expect_no_writes();

  for (int pass = 0; pass < 3; ++pass)
    EXPECT_TRUE(reconciler.pipeline(kNs, "demo").ok);
}

}  // namespace
}  // namespace pipewright::controller
