// The one topic policy both backends call (kafka::reconcile_topics: the operator per Pipeline,
// `pipewright up` at start), against a double of the topic admin: which admin calls it makes
// for desired specs and the topics as they are, and which problems it reports.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "pkg/kafka/admin.h"
#include "tests/unit/kafka/mock_topic_admin.h"

namespace pipewright::kafka {
namespace {

using ::testing::_;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::NiceMock;
using ::testing::Return;

TopicSpec spec(const std::string& name, int partitions,
               std::map<std::string, std::string> config = {}) {
  TopicSpec t;
  t.logical = name;
  t.name = name;
  t.partitions = partitions;
  t.config = std::move(config);
  return t;
}

TEST(TopicPolicy, MissingTopicsAreCreatedInOneBatchAndRecorded) {
  NiceMock<MockTopicAdmin> admin;
  admin.topics["there"] = {"there", 1, {}, false};
  EXPECT_CALL(admin,
              create(ElementsAre(Field(&TopicSpec::name, "a"), Field(&TopicSpec::name, "b"))))
      .Times(1);
  const auto r = reconcile_topics(admin, {spec("a", 2), spec("there", 1), spec("b", 1)});
  EXPECT_EQ(r.created, std::vector<std::string>({"a", "b"}));
  EXPECT_EQ(r.writes, 2);
  ASSERT_EQ(r.topics.size(), 3U);
  for (const auto& t : r.topics)
    EXPECT_TRUE(t.ready) << t.name << ": " << t.message;
  EXPECT_EQ(r.topics[0].partitions, 2);
}

TEST(TopicPolicy, OwnTopicsGrowAndGetThePlannedSettingsOnTopOfTheirOwn) {
  NiceMock<MockTopicAdmin> admin;
  admin.topics["t"] = {"t", 2, {{"cleanup.policy", "compact"}}, false};
  EXPECT_CALL(admin, grow_partitions("t", 5)).Times(1);
  const std::map<std::string, std::string> merged = {{"cleanup.policy", "compact"},
                                                     {"retention.ms", "1000"}};
  EXPECT_CALL(admin, set_config("t", merged)).Times(1);
  const auto r = reconcile_topics(admin, {spec("t", 5, {{"retention.ms", "1000"}})}, {{"t"}, {}});
  EXPECT_EQ(r.writes, 2);
  EXPECT_TRUE(r.topics.at(0).ready);
  EXPECT_EQ(r.topics.at(0).partitions, 5);
}

TEST(TopicPolicy, ADecreaseIsRefusedWithoutAnyCallAndARetryWouldNotFixIt) {
  NiceMock<MockTopicAdmin> admin;
  admin.topics["t"] = {"t", 6, {}, false};
  EXPECT_CALL(admin, grow_partitions).Times(0);
  EXPECT_CALL(admin, create).Times(0);
  const auto r = reconcile_topics(admin, {spec("t", 2)}, {{"t"}, {}});
  ASSERT_EQ(r.topics.size(), 1U);
  EXPECT_FALSE(r.topics[0].ready);
  EXPECT_EQ(r.topics[0].problem, TopicProblem::partition_decrease_refused);
  EXPECT_EQ(r.topics[0].reason(), "PartitionDecreaseRefused");
  EXPECT_FALSE(retry_may_fix(r.topics[0].problem));
  EXPECT_EQ(r.writes, 0);
}

TEST(TopicPolicy, SteadyStateMakesNoWrite) {
  NiceMock<MockTopicAdmin> admin;
  const std::vector<TopicSpec> desired = {spec("a", 3, {{"retention.ms", "1000"}}), spec("b", 1)};
  const auto first = reconcile_topics(admin, desired);
  ASSERT_EQ(first.created.size(), 2U);
  EXPECT_CALL(admin, create).Times(0);
  EXPECT_CALL(admin, grow_partitions).Times(0);
  EXPECT_CALL(admin, set_config).Times(0);
  EXPECT_CALL(admin, remove).Times(0);
  const auto again = reconcile_topics(admin, desired, {{"a", "b"}, {}});
  EXPECT_EQ(again.writes, 0);
  EXPECT_TRUE(again.created.empty());
}

TEST(TopicPolicy, FailuresAreProblemsARetryMayFix) {
  NiceMock<MockTopicAdmin> admin;
  admin.topics["grow"] = {"grow", 1, {}, false};
  EXPECT_CALL(admin, grow_partitions("grow", 4)).WillOnce(Return("not authorized"));
  EXPECT_CALL(admin, create(_))
      .WillOnce(Return(std::vector<TopicResult>{{"new", TopicOutcome::failed, "quota"}}));
  const auto r = reconcile_topics(admin, {spec("grow", 4), spec("new", 1)}, {{"grow"}, {}});
  ASSERT_EQ(r.topics.size(), 2U);
  EXPECT_EQ(r.topics[0].problem, TopicProblem::grow_partitions_failed);
  EXPECT_EQ(r.topics[0].message, "not authorized");
  EXPECT_EQ(r.topics[1].problem, TopicProblem::create_failed);
  EXPECT_EQ(r.topics[1].message, "quota");
  EXPECT_TRUE(retry_may_fix(r.topics[0].problem));
  EXPECT_TRUE(retry_may_fix(r.topics[1].problem));
  EXPECT_TRUE(r.created.empty());
}

TEST(TopicPolicy, ASensitiveSettingBlocksTheConfigWriteThatWouldLoseIt) {
  NiceMock<MockTopicAdmin> admin;
  admin.topics["t"] = {"t", 1, {}, true};
  EXPECT_CALL(admin, set_config).Times(0);
  const auto r = reconcile_topics(admin, {spec("t", 1, {{"retention.ms", "5"}})}, {{"t"}, {}});
  EXPECT_EQ(r.topics.at(0).problem, TopicProblem::config_failed);
}

TEST(TopicPolicy, InternalAndClaimedTopicsAreNeverAskedAbout) {
  NiceMock<MockTopicAdmin> admin;
  EXPECT_CALL(admin, describe(std::vector<std::string>({"mine"}))).Times(1);
  const auto r =
      reconcile_topics(admin, {spec("__consumer_offsets", 1), spec("held", 1), spec("mine", 1)},
                       {{}, {{"held", "Pipeline x/y"}}});
  ASSERT_EQ(r.topics.size(), 3U);
  EXPECT_EQ(r.topics[0].problem, TopicProblem::internal_refused);
  EXPECT_EQ(r.topics[1].problem, TopicProblem::claimed);
  EXPECT_TRUE(r.topics[2].ready);
  EXPECT_EQ(r.created, std::vector<std::string>({"mine"}));
}

}  // namespace
}  // namespace pipewright::kafka
