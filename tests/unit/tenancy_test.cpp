// Whose is what: reconcile_topics' rules about whose topic is whose (against an in-memory
// TopicAdmin), the record of created topics in status, and the operator's Kafka admin clients
// (bounded by count and idle time).

#include <gtest/gtest.h>

#include "pkg/api/manifest.h"
#include "pkg/controller/admins.h"
#include "pkg/controller/reconciler.h"
#include "pkg/controller/status.h"

namespace pipewright {
namespace {

using std::chrono::minutes;
using std::chrono::steady_clock;

// A cluster in memory: what reconcile_topics asks and what it changes.
class MemoryAdmin final : public kafka::TopicAdmin {
 public:
  explicit MemoryAdmin(int* alive = nullptr) : alive_(alive) {
    if (alive_ != nullptr) ++*alive_;
  }
  ~MemoryAdmin() override {
    if (alive_ != nullptr) --*alive_;
  }
  MemoryAdmin(const MemoryAdmin&) = delete;
  MemoryAdmin& operator=(const MemoryAdmin&) = delete;

  std::vector<kafka::TopicResult> create(const std::vector<kafka::TopicSpec>& topics) override {
    std::vector<kafka::TopicResult> out;
    for (const auto& t : topics) {
      calls.push_back("create " + t.name);
      if (topics_.contains(t.name)) {
        out.push_back({t.name, kafka::TopicOutcome::exists, {}});
        continue;
      }
      topics_[t.name] = {t.name, t.partitions, t.config};
      out.push_back({t.name, kafka::TopicOutcome::created, {}});
    }
    return out;
  }
  std::vector<kafka::TopicState> describe(const std::vector<std::string>& names) override {
    std::vector<kafka::TopicState> out;
    for (const auto& n : names) {
      const auto it = topics_.find(n);
      out.push_back(it == topics_.end() ? kafka::TopicState{n, 0, {}} : it->second);
    }
    return out;
  }
  std::string grow_partitions(const std::string& name, int total) override {
    calls.push_back("grow " + name);
    topics_.at(name).partitions = total;
    return {};
  }
  std::string set_config(const std::string& name,
                         const std::map<std::string, std::string>& config) override {
    calls.push_back("config " + name);
    topics_.at(name).config = config;  // replaces, as AlterConfigs does
    return {};
  }
  std::string remove(const std::string& name) override {
    calls.push_back("remove " + name);
    topics_.erase(name);
    return {};
  }

  void put(const std::string& name, int partitions, std::map<std::string, std::string> config) {
    topics_[name] = {name, partitions, std::move(config)};
  }
  const kafka::TopicState& at(const std::string& name) const { return topics_.at(name); }

  std::vector<std::string> calls;

 private:
  int* alive_;
  std::map<std::string, kafka::TopicState> topics_;
};

kafka::TopicSpec topic(const std::string& name, int partitions,
                       std::map<std::string, std::string> config = {}) {
  kafka::TopicSpec t;
  t.logical = name;
  t.name = name;
  t.partitions = partitions;
  t.config = std::move(config);
  return t;
}

TEST(ReconcileTopics, AForeignTopicIsUsedAsItIsNeverGrownOrAltered) {
  MemoryAdmin admin;
  admin.put("shared", 2, {{"cleanup.policy", "compact"}});
  const auto r =
      kafka::reconcile_topics(admin, {topic("shared", 6, {{"retention.ms", "1000"}})}, {});
  ASSERT_EQ(r.topics.size(), 1U);
  EXPECT_TRUE(r.topics[0].ready);
  EXPECT_EQ(r.topics[0].partitions, 2);
  EXPECT_NE(r.topics[0].message.find("existed before"), std::string::npos) << r.topics[0].message;
  EXPECT_TRUE(admin.calls.empty()) << admin.calls[0];
  EXPECT_TRUE(r.created.empty());
  EXPECT_EQ(admin.at("shared").config,
            (std::map<std::string, std::string>{{"cleanup.policy", "compact"}}));
}

TEST(ReconcileTopics, OwnTopicsGetOnlyTheNamedKeysAndKeepEveryOtherSetting) {
  MemoryAdmin admin;
  const auto first = kafka::reconcile_topics(admin, {topic("t", 1, {{"retention.ms", "1000"}})});
  ASSERT_EQ(first.created, std::vector<std::string>{"t"});
  // Someone sets a key the spec does not name, and changes one it does.
  admin.put("t", 1, {{"retention.ms", "5"}, {"max.message.bytes", "2048"}});
  const auto again =
      kafka::reconcile_topics(admin, {topic("t", 3, {{"retention.ms", "1000"}})}, {{"t"}, {}});
  EXPECT_TRUE(again.topics[0].ready) << again.topics[0].message;
  EXPECT_EQ(admin.at("t").partitions, 3);
  EXPECT_EQ(admin.at("t").config, (std::map<std::string, std::string>{
                                      {"retention.ms", "1000"}, {"max.message.bytes", "2048"}}));
  // Steady state: nothing differs from what the spec names, so nothing is written.
  admin.calls.clear();
  const auto steady =
      kafka::reconcile_topics(admin, {topic("t", 3, {{"retention.ms", "1000"}})}, {{"t"}, {}});
  EXPECT_EQ(steady.writes, 0);
  EXPECT_TRUE(admin.calls.empty());
}

TEST(ReconcileTopics, InternalAndTakenTopicsAreRefusedAndNotTouched) {
  MemoryAdmin admin;
  admin.put("__consumer_offsets", 50, {{"cleanup.policy", "compact"}});
  admin.put("theirs", 1, {});
  const auto r =
      kafka::reconcile_topics(admin,
                              {topic("__consumer_offsets", 60, {{"cleanup.policy", "delete"}}),
                               topic("theirs", 4), topic("mine", 1)},
                              {{"theirs"}, {{"theirs", "Pipeline demo/first"}}});
  ASSERT_EQ(r.topics.size(), 3U);
  EXPECT_FALSE(r.topics[0].ready);
  EXPECT_EQ(r.topics[0].reason(), "InternalTopicRefused");
  EXPECT_FALSE(r.topics[1].ready);
  EXPECT_EQ(r.topics[1].reason(), "TopicClaimed");
  EXPECT_NE(r.topics[1].message.find("Pipeline demo/first"), std::string::npos);
  EXPECT_TRUE(r.topics[2].ready);
  EXPECT_EQ(admin.calls, std::vector<std::string>{"create mine"});
  EXPECT_EQ(admin.at("__consumer_offsets").partitions, 50);
  EXPECT_EQ(admin.at("theirs").partitions, 1);
}

TEST(Validation, KafkasInternalTopicNamesAreRefusedWithTheirFieldPath) {
  try {
    api::parse(R"(apiVersion: pipewright.io/v1alpha1
kind: Pipeline
metadata: {name: p, namespace: demo}
spec:
  topics: [{name: ok}, {name: o, topicName: __consumer_offsets}]
  steps: [{name: s, worker: enrich, inputs: [o], outputs: [ok]}]
)",
               "p.yaml");
    ADD_FAILURE() << "accepted";
  } catch (const api::ManifestError& e) {
    ASSERT_EQ(e.errors().size(), 1U) << e.what();
    EXPECT_EQ(e.errors()[0].path, "spec.topics[1].topicName");
    EXPECT_NE(e.errors()[0].message.find("internal"), std::string::npos);
  }
}

TEST(TopicRecord, KeptInStatusEvenWhenTheSpecIsRefused) {
  controller::PipelineObservation o;
  o.created_topics = std::vector<std::string>{"demo.p.a", "demo.p.a.dlq"};
  EXPECT_EQ(controller::pipeline_status(o, nullptr, "t")["createdTopics"],
            nlohmann::json::array({"demo.p.a", "demo.p.a.dlq"}));
  o.invalid_spec = "spec.steps[0].worker: unknown worker";
  EXPECT_EQ(controller::pipeline_status(o, nullptr, "t")["createdTopics"],
            nlohmann::json::array({"demo.p.a", "demo.p.a.dlq"}));
  o.created_topics.reset();  // none known: no record, rather than an empty one
  EXPECT_FALSE(controller::pipeline_status(o, nullptr, "t").contains("createdTopics"));
}

TEST(TopicRecord, AStatusFromBeforeTheRecordAdoptsOnlyDefaultNamedTopics) {
  api::Pipeline p;
  p.meta.name = "p";
  p.meta.namespace_ = "demo";
  p.topics.resize(2);
  p.topics[0].name = "a";
  p.topics[1].name = "b";
  p.topics[1].topic_name = "someones.topic";
  const nlohmann::json old_status = {
      {"topics",
       {{{"name", "a"}, {"topicName", "demo.p.a"}, {"ready", true}},
        {{"name", "b"}, {"topicName", "someones.topic"}, {"ready", true}},
        {{"name", "a.dlq"}, {"topicName", "demo.p.a.dlq"}, {"ready", true}}}}};
  EXPECT_EQ(controller::legacy_topics(old_status, p),
            (std::set<std::string>{"demo.p.a", "demo.p.a.dlq"}));
  auto recorded = old_status;
  recorded["createdTopics"] = nlohmann::json::array();  // this version's status: its record holds
  EXPECT_TRUE(controller::legacy_topics(recorded, p).empty());
  EXPECT_TRUE(controller::legacy_topics(nullptr, p).empty());
}

TEST(AdminCache, KeepsOneClientPerKeyAndEvictsTheLeastRecentlyUsedBeyondItsCap) {
  int alive = 0, made = 0;
  auto now = steady_clock::now();
  controller::AdminCache cache(
      2, minutes(10),
      [&](const std::string&) {
        ++made;
        return std::make_unique<MemoryAdmin>(&alive);
      },
      [&] { return now; });
  const auto a = cache.get("a:9092").get();
  EXPECT_EQ(cache.get("a:9092").get(), a) << "a second client for the same cluster";
  cache.get("b:9092");
  cache.get("a:9092");  // a is now the most recently used
  cache.get("c:9092");  // evicts b
  EXPECT_EQ(cache.size(), 2U);
  EXPECT_EQ(alive, 2);
  EXPECT_EQ(cache.get("a:9092").get(), a);
  EXPECT_EQ(made, 3);
  cache.get("b:9092");  // made again
  EXPECT_EQ(made, 4);

  // A tenant writing a new bootstrap string into its spec on every edit: still two clients.
  for (int i = 0; i < 1000; ++i)
    cache.get("host-" + std::to_string(i) + ":9092");
  EXPECT_EQ(cache.size(), 2U);
  EXPECT_EQ(alive, 2);
}

TEST(AdminCache, IdleClientsCloseAndOneInUseOutlivesItsEviction) {
  int alive = 0;
  auto now = steady_clock::now();
  controller::AdminCache cache(
      4, minutes(10), [&](const std::string&) { return std::make_unique<MemoryAdmin>(&alive); },
      [&] { return now; });
  auto held = cache.get("a:9092");  // a reconcile still using it
  cache.get("b:9092");
  now += minutes(11);
  cache.get("c:9092");  // the lookup that finds a and b idle
  EXPECT_EQ(cache.size(), 1U);
  EXPECT_EQ(alive, 2) << "a stays open while held, b is closed";
  held.reset();
  EXPECT_EQ(alive, 1);
}

TEST(AdminCache, AFailingFactoryCachesNothing) {
  controller::AdminCache cache(2, minutes(10),
                               [](const std::string& key) -> std::unique_ptr<kafka::TopicAdmin> {
                                 throw std::runtime_error("kafka admin: bad bootstrap " + key);
                               });
  EXPECT_THROW(cache.get("::"), std::runtime_error);
  EXPECT_EQ(cache.size(), 0U);
}

}  // namespace
}  // namespace pipewright
