// Topics brought to their plan on a real Kafka broker: created with their settings, partitions
// grown, settings put back, a decrease refused in the status, nothing written in steady state.

#include <gtest/gtest.h>

#include "pkg/kafka/admin.h"
#include "pkg/local/kafka_broker.h"
#include "pkg/proc/net.h"
#include "tests/support/kafka_suite.h"
#include "tests/support/suite_logs.h"

namespace pipewright {
namespace {

using Topics = testing::KafkaSuite;

plan::TopicPlan topic(const std::string& name, int partitions,
                      std::map<std::string, std::string> config = {}) {
  plan::TopicPlan t;
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
  auto state = admin->describe({"demo.p.images", "demo.p.out"});
  EXPECT_EQ(state[0].partitions, 3);
  EXPECT_EQ(state[0].config, week);
  EXPECT_EQ(state[1].partitions, 1);

  // Steady state: the same plan again writes nothing.
  const auto again = kafka::reconcile_topics(*admin, {topic("images", 3, week), topic("out", 1)});
  EXPECT_EQ(again.writes, 0);
  EXPECT_TRUE(again.topics[0].ready && again.topics[1].ready);

  // Grow, and someone changed a setting by hand: both are brought back to the plan.
  ASSERT_EQ(admin->set_config("demo.p.images", {{"retention.ms", "1000"}}), "");
  // The hand edit is done once brokers show it (describe may lag the controller briefly).
  ASSERT_TRUE(proc::poll_until(std::chrono::seconds(10), [&] {
    return admin->describe({"demo.p.images"})[0].config.at("retention.ms") == "1000";
  }));
  const auto grown = kafka::reconcile_topics(*admin, {topic("images", 5, week), topic("out", 1)});
  EXPECT_EQ(grown.writes, 2);
  EXPECT_TRUE(grown.topics[0].ready) << grown.topics[0].message;
  state = admin->describe({"demo.p.images"});
  EXPECT_EQ(state[0].partitions, 5);
  EXPECT_EQ(state[0].config, week);

  // A decrease is refused, in the status, and the topic keeps its partitions.
  const auto shrink = kafka::reconcile_topics(*admin, {topic("images", 2, week)});
  EXPECT_FALSE(shrink.topics[0].ready);
  EXPECT_EQ(shrink.topics[0].reason, "PartitionDecreaseRefused");
  EXPECT_NE(shrink.topics[0].message.find("has 5"), std::string::npos) << shrink.topics[0].message;
  EXPECT_EQ(shrink.topics[0].partitions, 5);
  EXPECT_EQ(admin->describe({"demo.p.images"})[0].partitions, 5);

  // Deleting is idempotent: a topic already gone is not an error.
  EXPECT_EQ(admin->remove("demo.p.out"), "");
  EXPECT_TRUE(proc::poll_until(std::chrono::seconds(20),
                               [&] { return admin->describe({"demo.p.out"})[0].partitions == 0; }));
  EXPECT_EQ(admin->remove("demo.p.out"), "");
}

TEST_F(Topics, AnInvalidSettingIsReportedNotThrown) {
  auto admin = kafka::make_admin(broker->bootstrap());
  const auto r =
      kafka::reconcile_topics(*admin, {topic("bad", 1, {{"retention.ms", "not-a-number"}})});
  ASSERT_EQ(r.topics.size(), 1u);
  EXPECT_FALSE(r.topics[0].ready);
  EXPECT_EQ(r.topics[0].reason, "CreateFailed");
  EXPECT_FALSE(r.topics[0].message.empty());
}

TEST(TopicsUnreachable, AnUnreachableClusterThrows) {
  auto admin = kafka::make_admin("127.0.0.1:1", std::chrono::seconds(2));
  EXPECT_THROW(kafka::reconcile_topics(*admin, {topic("x", 1)}), std::runtime_error);
}

}  // namespace
}  // namespace pipewright
