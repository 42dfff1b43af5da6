// Topics brought to their plan on a real Kafka broker: created with their settings, partitions
// grown, settings put back, a decrease refused in the status, nothing written in steady state;
// a topic the caller did not create, an internal one or one held by someone else is never
// changed.

#include <gtest/gtest.h>

#include "pkg/kafka/admin.h"
#include "pkg/local/kafka_broker.h"
#include "pkg/proc/net.h"
#include "tests/support/kafka_suite.h"
#include "tests/support/suite_logs.h"

namespace pipewright {
namespace {

using Topics = testing::KafkaSuite;

kafka::TopicSpec topic(const std::string& name, int partitions,
                       std::map<std::string, std::string> config = {}) {
  kafka::TopicSpec t;
  t.logical = name;
  t.name = "demo.p." + name;
  t.partitions = partitions;
  t.config = std::move(config);
  return t;
}

TEST_F(Topics, CreateGrowRefuseShrinkAndRestoreSettings) {
  auto admin = kafka::make_admin(broker->bootstrap());
  const std::map<std::string, std::string> week = {{"retention.ms", "604800000"}};

  auto first = kafka::reconcile_topics(*admin, {topic("images", 3, week), topic("out", 1)});
  ASSERT_EQ(first.topics.size(), 2u);
  EXPECT_TRUE(first.topics[0].ready) << first.topics[0].message;
  EXPECT_EQ(first.writes, 2);
  ASSERT_EQ(first.created, (std::vector<std::string>{"demo.p.images", "demo.p.out"}));
  const kafka::TopicClaims ours{{"demo.p.images", "demo.p.out"}, {}};
  auto state = admin->describe({"demo.p.images", "demo.p.out"});
  EXPECT_EQ(state[0].partitions, 3);
  EXPECT_EQ(state[0].config, week);
  EXPECT_EQ(state[1].partitions, 1);

  // Steady state: the same plan again writes nothing.
  const auto again =
      kafka::reconcile_topics(*admin, {topic("images", 3, week), topic("out", 1)}, ours);
  EXPECT_EQ(again.writes, 0);
  EXPECT_TRUE(again.topics[0].ready && again.topics[1].ready);

  // Grow, and someone changed a setting the spec names by hand, and set one it does not name:
  // the named one is brought back to the plan, the other is left as it is.
  ASSERT_EQ(admin->set_config("demo.p.images",
                              {{"retention.ms", "1000"}, {"max.message.bytes", "65536"}}),
            "");
  // The hand edit is done once brokers show it (describe may lag the controller briefly).
  ASSERT_TRUE(proc::poll_until(std::chrono::seconds(10), [&] {
    return admin->describe({"demo.p.images"})[0].config.at("retention.ms") == "1000";
  }));
  const auto grown =
      kafka::reconcile_topics(*admin, {topic("images", 5, week), topic("out", 1)}, ours);
  EXPECT_EQ(grown.writes, 2);
  EXPECT_TRUE(grown.topics[0].ready) << grown.topics[0].message;
  // Brokers may show the change a moment after the controller took it.
  const std::map<std::string, std::string> merged = {{"retention.ms", "604800000"},
                                                     {"max.message.bytes", "65536"}};
  EXPECT_TRUE(proc::poll_until(std::chrono::seconds(10),
                               [&] {
                                 state = admin->describe({"demo.p.images"});
                                 return state[0].partitions == 5 && state[0].config == merged;
                               }))
      << state[0].partitions << " partitions, " << state[0].config.size() << " settings";

  // A decrease is refused, in the status, and the topic keeps its partitions.
  const auto shrink = kafka::reconcile_topics(*admin, {topic("images", 2, week)}, ours);
  EXPECT_FALSE(shrink.topics[0].ready);
  EXPECT_EQ(shrink.topics[0].reason(), "PartitionDecreaseRefused");
  EXPECT_NE(shrink.topics[0].message.find("has 5"), std::string::npos) << shrink.topics[0].message;
  EXPECT_EQ(shrink.topics[0].partitions, 5);
  EXPECT_EQ(admin->describe({"demo.p.images"})[0].partitions, 5);

  // Deleting is idempotent: a topic already gone is not an error.
  EXPECT_EQ(admin->remove("demo.p.out"), "");
  EXPECT_TRUE(proc::poll_until(std::chrono::seconds(20),
                               [&] { return admin->describe({"demo.p.out"})[0].partitions == 0; }));
  EXPECT_EQ(admin->remove("demo.p.out"), "");
}

TEST_F(Topics, APreExistingTopicKeepsItsPartitionsAndSettings) {
  auto admin = kafka::make_admin(broker->bootstrap());
  auto theirs = topic("compacted", 2, {{"cleanup.policy", "compact"}});
  ASSERT_EQ(admin->create({theirs})[0].outcome, kafka::TopicOutcome::created);

  // A plan naming it (topicName) with other partitions and settings: used, not changed.
  const auto r = kafka::reconcile_topics(
      *admin, {topic("compacted", 6, {{"retention.ms", "1000"}, {"cleanup.policy", "delete"}})});
  ASSERT_EQ(r.topics.size(), 1u);
  EXPECT_TRUE(r.topics[0].ready) << r.topics[0].message;
  EXPECT_EQ(r.topics[0].partitions, 2);
  EXPECT_EQ(r.writes, 0);
  EXPECT_TRUE(r.created.empty());
  const auto state = admin->describe({"demo.p.compacted"})[0];
  EXPECT_EQ(state.partitions, 2);
  EXPECT_EQ(state.config, (std::map<std::string, std::string>{{"cleanup.policy", "compact"}}));
}

TEST_F(Topics, InternalTopicsAndTopicsHeldElsewhereAreRefusedAndLeftAlone) {
  auto admin = kafka::make_admin(broker->bootstrap());
  auto held = topic("held", 1);
  ASSERT_EQ(admin->create({held})[0].outcome, kafka::TopicOutcome::created);
  kafka::TopicSpec offsets = topic("x", 100, {{"cleanup.policy", "delete"}});
  offsets.name = "__consumer_offsets";
  const auto before = admin->describe({"__consumer_offsets"})[0];

  const auto r = kafka::reconcile_topics(*admin, {offsets, topic("held", 4)},
                                         {{"demo.p.held"}, {{"demo.p.held", "Pipeline a/b"}}});
  ASSERT_EQ(r.topics.size(), 2u);
  EXPECT_EQ(r.topics[0].reason(), "InternalTopicRefused");
  EXPECT_EQ(r.topics[1].reason(), "TopicClaimed");
  EXPECT_EQ(r.writes, 0);
  const auto after = admin->describe({"__consumer_offsets", "demo.p.held"});
  EXPECT_EQ(after[0].partitions, before.partitions);
  EXPECT_EQ(after[0].config, before.config);
  EXPECT_EQ(after[1].partitions, 1);
}

TEST_F(Topics, AnInvalidSettingIsReportedNotThrown) {
  auto admin = kafka::make_admin(broker->bootstrap());
  const auto r =
      kafka::reconcile_topics(*admin, {topic("bad", 1, {{"retention.ms", "not-a-number"}})});
  ASSERT_EQ(r.topics.size(), 1u);
  EXPECT_FALSE(r.topics[0].ready);
  EXPECT_EQ(r.topics[0].reason(), "CreateFailed");
  EXPECT_FALSE(r.topics[0].message.empty());
}

TEST(TopicsUnreachable, AnUnreachableClusterThrows) {
  auto admin = kafka::make_admin("127.0.0.1:1", std::chrono::seconds(2));
  EXPECT_THROW(kafka::reconcile_topics(*admin, {topic("x", 1)}), std::runtime_error);
}

}  // namespace
}  // namespace pipewright
