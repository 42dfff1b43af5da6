#include <gtest/gtest.h>

#include "pkg/controller/lag.h"
#include "pkg/controller/metrics.h"
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
  o.topics = {{"images", "demo.images.images", 3, true, {}, ""}};
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
  o.topics[0] = {"images",
                 "demo.images.images",
                 3,
                 false,
                 kafka::TopicProblem::partition_decrease_refused,
                 "spec asks for 2"};
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

// Kafka as the operator reads it: per topic its partitions' watermarks, per group its commits.
class FakeOffsets final : public kafka::OffsetReader {
 public:
  std::map<std::string, std::vector<std::pair<std::int64_t, std::int64_t>>> topics;  // low, high
  std::map<std::pair<std::string, std::string>, std::vector<std::int64_t>> committed;
  bool down = false;
  int calls = 0;

  std::vector<kafka::PartitionOffsets> offsets(const std::string& group,
                                               const std::vector<std::string>& names) override {
    ++calls;
    if (down) throw std::runtime_error("kafka metadata: Local: Broker transport failure");
    std::vector<kafka::PartitionOffsets> out;
    for (const auto& name : names) {
      const auto it = topics.find(name);
      if (it == topics.end()) continue;
      for (std::size_t p = 0; p < it->second.size(); ++p) {
        kafka::PartitionOffsets po{name, static_cast<int>(p), kafka::kNoOffset, it->second[p].first,
                                   it->second[p].second};
        if (const auto c = committed.find({group, name});
            !group.empty() && c != committed.end() && p < c->second.size())
          po.committed = c->second[p];
        out.push_back(po);
      }
    }
    return out;
  }
};

// demo/orders: api (no inputs) -> orders (2 partitions) -> notify (dead letters on).
api::Pipeline orders_pipeline() {
  api::Pipeline p;
  p.meta.name = "orders";
  p.meta.namespace_ = "demo";
  p.topics = {{"orders", "", 2, 1, {}, "Retain"}};
  api::Step api_step;
  api_step.name = "api";
  api_step.outputs = {"orders"};
  api::Step notify;
  notify.name = "notify";
  notify.inputs = {"orders"};
  p.steps = {api_step, notify};
  return p;
}

struct LagFixture : ::testing::Test {
  std::shared_ptr<FakeOffsets> kafka = std::make_shared<FakeOffsets>();
  std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now();
  std::vector<std::string> asked;  // bootstrap/ns/secret of each reader lookup
  LagMonitor monitor{[this](const std::string& b, const std::string& ns, const std::string& s) {
                       asked.push_back(b + "/" + ns + "/" + s);
                       return kafka;
                     },
                     std::chrono::seconds(30), [this] { return now; }};
};

TEST_F(LagFixture, LagIsHighWatermarkMinusCommittedAndDeadLettersTheDlqSize) {
  kafka->topics["demo.orders.orders"] = {{0, 10}, {5, 8}};
  kafka->committed[{"demo.orders.notify", "demo.orders.orders"}] = {7};  // partition 1: none
  kafka->topics["demo.orders.orders.dlq"] = {{1, 3}};
  const auto lag = monitor.observe(orders_pipeline(), "kafka:9092");
  EXPECT_EQ(lag.error, "");
  EXPECT_FALSE(lag.steps.contains("api")) << "a step without inputs has no lag";
  ASSERT_TRUE(lag.steps.contains("notify"));
  // 10 - 7, and partition 1 never committed: what it retains, 8 - 5 (lag.h).
  EXPECT_EQ(lag.steps.at("notify").lag, 6);
  EXPECT_EQ(lag.steps.at("notify").dead_letters, 2);
  EXPECT_EQ(asked, std::vector<std::string>{"kafka:9092/demo/"});
}

TEST_F(LagFixture, KafkaIsReadOncePerIntervalWhateverTheNumberOfReconciles) {
  kafka->topics["demo.orders.orders"] = {{0, 10}, {0, 0}};
  monitor.observe(orders_pipeline(), "kafka:9092");
  const int first = kafka->calls;
  kafka->topics["demo.orders.orders"] = {{0, 50}, {0, 0}};
  for (int i = 0; i < 20; ++i) {
    now += std::chrono::seconds(1);
    EXPECT_EQ(monitor.observe(orders_pipeline(), "kafka:9092").steps.at("notify").lag, 10)
        << "a reconcile between samples sees the last sample";
  }
  EXPECT_EQ(kafka->calls, first);
  now += std::chrono::seconds(10);
  EXPECT_EQ(monitor.observe(orders_pipeline(), "kafka:9092").steps.at("notify").lag, 50);
  EXPECT_GT(kafka->calls, first);
}

TEST_F(LagFixture, SamplesAccumulateAndAKafkaOutageStartsThemOver) {
  PipelineLag lag;
  for (const std::int64_t high : {10, 20, 30, 40, 50}) {
    kafka->topics["demo.orders.orders"] = {{0, high}, {0, 0}};
    lag = monitor.observe(orders_pipeline(), "kafka:9092");
    now += std::chrono::seconds(30);
    EXPECT_LE(lag.steps.at("notify").samples.size(), kLagSamples);
    EXPECT_EQ(lag.steps.at("notify").samples.back(), high);
  }
  EXPECT_EQ(lag_growing(lag.steps.at("notify").samples), true);
  lag = monitor.observe(orders_pipeline(), "kafka:9092");  // 50 again
  EXPECT_EQ(lag_growing(lag.steps.at("notify").samples), false);
  kafka->down = true;
  now += std::chrono::seconds(30);
  const auto out = monitor.observe(orders_pipeline(), "kafka:9092");
  EXPECT_NE(out.error.find("transport failure"), std::string::npos);
  EXPECT_TRUE(out.steps.empty());
  const int calls = kafka->calls;
  now += std::chrono::seconds(5);
  monitor.observe(orders_pipeline(), "kafka:9092");
  EXPECT_EQ(kafka->calls, calls) << "an outage is not retried on every reconcile";
  kafka->down = false;
  now += std::chrono::seconds(30);
  EXPECT_EQ(monitor.observe(orders_pipeline(), "kafka:9092").steps.at("notify").samples.size(), 1U);
}

TEST(LagGrowing, OnlyRisesInARowOverEnoughSamplesAreATrend) {
  EXPECT_EQ(lag_growing({}), std::nullopt);
  EXPECT_EQ(lag_growing({1, 2, 3}), std::nullopt) << "too few samples to say";
  EXPECT_EQ(lag_growing({1, 2, 3, 4}), true);
  EXPECT_EQ(lag_growing({1, 2, 2, 4}), false) << "a stable sample breaks the trend";
  EXPECT_EQ(lag_growing({100, 0, 0, 0}), false);
  EXPECT_EQ(lag_growing({9, 1, 2, 3, 4}), true) << "the last samples decide";
}

TEST(ReportedLag, JitterKeepsTheShownValueARealMoveOrADrainShows) {
  EXPECT_EQ(reported_lag(std::nullopt, 7), 7);
  EXPECT_EQ(reported_lag(1000, 1090), 1000) << "under a tenth: no write";
  EXPECT_EQ(reported_lag(1000, 950), 1000);
  EXPECT_EQ(reported_lag(1000, 1200), 1200);
  EXPECT_EQ(reported_lag(3, 0), 0) << "a drained lag always shows";
  EXPECT_EQ(reported_lag(0, 1), 1) << "a lag appearing always shows";
  EXPECT_EQ(reported_lag(1, 2), 2);
}

PipelineObservation with_lag(std::int64_t lag, std::optional<bool> growing,
                             std::optional<std::int64_t> dead = 0) {
  auto o = healthy();
  o.lag_watched = true;
  o.step_lag["rotate"] = {lag, dead, growing};
  return o;
}

TEST(PipelineStatus, AStableOrJitteringLagWritesNothing) {
  const auto first = pipeline_status(with_lag(1000, false), nullptr, "t1");
  EXPECT_EQ(first["steps"][1]["lag"], 1000);
  EXPECT_EQ(first["steps"][1]["deadLetters"], 0);
  EXPECT_FALSE(first["steps"][0].contains("lag")) << "upload has no lag sample";
  EXPECT_EQ((*condition(first, "LagGrowing"))["status"], "False");
  EXPECT_EQ((*condition(first, "DeadLetters"))["status"], "False");
  EXPECT_EQ(pipeline_status(with_lag(1000, false), first, "t2"), first);
  EXPECT_EQ(pipeline_status(with_lag(1040, false), first, "t3"), first) << "jitter wrote status";
  const auto moved = pipeline_status(with_lag(5000, false), first, "t4");
  EXPECT_EQ(moved["steps"][1]["lag"], 5000);
}

TEST(PipelineStatus, LagGrowingAndDeadLettersAreConditionsThatNameTheStep) {
  const auto calm = pipeline_status(with_lag(10, false), nullptr, "t1");
  const auto growing = pipeline_status(with_lag(400, true, 2), calm, "t2");
  const auto* lg = condition(growing, "LagGrowing");
  EXPECT_EQ((*lg)["status"], "True");
  EXPECT_EQ((*lg)["reason"], "LagGrowing");
  EXPECT_NE((*lg)["message"].get<std::string>().find("step rotate"), std::string::npos);
  EXPECT_EQ((*lg)["lastTransitionTime"], "t2");
  const auto* dl = condition(growing, "DeadLetters");
  EXPECT_EQ((*dl)["status"], "True");
  EXPECT_NE((*dl)["message"].get<std::string>().find("rotate: 2 dead letters"), std::string::npos);
  EXPECT_EQ((*condition(growing, "Ready"))["status"], "True")
      << "lag and dead letters say how the pipeline copes, not whether it runs";

  // After a restart the operator has too few samples to say: status keeps what it said.
  const auto restarted = pipeline_status(with_lag(400, std::nullopt, 2), growing, "t3");
  EXPECT_EQ(restarted, growing);
  const auto fresh = pipeline_status(with_lag(400, std::nullopt, 2), nullptr, "t3");
  EXPECT_EQ((*condition(fresh, "LagGrowing"))["status"], "False");
}

TEST(PipelineStatus, KafkaNotAnsweringKeepsTheLastLagAndConditions) {
  const auto before = pipeline_status(with_lag(400, true, 2), nullptr, "t1");
  auto o = healthy();
  o.lag_watched = true;
  o.lag_unknown = true;
  EXPECT_EQ(pipeline_status(o, before, "t2"), before);
  o.lag_unknown = false;  // known, and the step no longer has inputs or dead letters
  const auto after = pipeline_status(o, before, "t3");
  EXPECT_FALSE(after["steps"][1].contains("lag"));
  EXPECT_EQ((*condition(after, "DeadLetters"))["status"], "False");
}

double gauge(Metrics& m, const std::string& name, const std::string& label,
             const std::string& value) {
  for (const auto& family : m.registry()->Collect()) {
    if (family.name != name) continue;
    for (const auto& metric : family.metric) {
      for (const auto& l : metric.label) {
        if (l.name == label && l.value == value) return metric.gauge.value;
      }
    }
  }
  return -1;  // no series
}

TEST(Metrics, ReadyBackupAndDeadLetterGaugesFollowStatusAndGoWithTheResource) {
  Metrics m;
  ServiceObservation o;
  o.backends = {{"primary", 3, false, 1, 0}, {"standby", 1, true, 1, 1}};
  o.router_ready = 1;
  const auto on_backup = service_status(o, nullptr, "t");
  m.resource_status("WeightedService", "demo", "calc", &on_backup);
  EXPECT_EQ(gauge(m, "pipewright_resource_ready", "name", "calc"), 0);
  EXPECT_EQ(gauge(m, "pipewright_weightedservice_on_backup", "name", "calc"), 1);
  o.backends[0].ready_replicas = 1;
  const auto fine = service_status(o, on_backup, "t");
  m.resource_status("WeightedService", "demo", "calc", &fine);
  EXPECT_EQ(gauge(m, "pipewright_resource_ready", "name", "calc"), 1);
  EXPECT_EQ(gauge(m, "pipewright_weightedservice_on_backup", "name", "calc"), 0);

  const auto pipeline = pipeline_status(with_lag(3, false, 5), nullptr, "t");
  m.resource_status("Pipeline", "demo", "images", &pipeline);
  EXPECT_EQ(gauge(m, "pipewright_dead_letter_messages", "step", "rotate"), 5);
  m.resource_status("Pipeline", "demo", "images", nullptr);
  EXPECT_EQ(gauge(m, "pipewright_dead_letter_messages", "step", "rotate"), -1);
  EXPECT_EQ(gauge(m, "pipewright_resource_ready", "name", "images"), -1);
  EXPECT_EQ(gauge(m, "pipewright_resource_ready", "name", "calc"), 1) << "another resource's";
}

}  // namespace
}  // namespace pipewright::controller

namespace pipewright::controller {
namespace {

// Topic problems are codes: the condition shows their names, and only those a retry can fix
// requeue the Pipeline (a refused decrease or '__' name waits for the spec, a claim for its
// holder), where the reconciler used to match the reason strings.
TEST(TopicProblems, NameTheirReasonAndSayWhetherARetryMayFixThem) {
  using kafka::TopicProblem;
  EXPECT_EQ(kafka::reason(TopicProblem::partition_decrease_refused), "PartitionDecreaseRefused");
  EXPECT_EQ(kafka::reason(TopicProblem::claimed), "TopicClaimed");
  EXPECT_EQ(kafka::reason(TopicProblem::none), "");
  for (auto p : {TopicProblem::none, TopicProblem::internal_refused, TopicProblem::claimed,
                 TopicProblem::partition_decrease_refused})
    EXPECT_FALSE(kafka::retry_may_fix(p)) << kafka::reason(p);
  for (auto p : {TopicProblem::create_failed, TopicProblem::created_elsewhere,
                 TopicProblem::grow_partitions_failed, TopicProblem::config_failed})
    EXPECT_TRUE(kafka::retry_may_fix(p)) << kafka::reason(p);
}

}  // namespace
}  // namespace pipewright::controller
