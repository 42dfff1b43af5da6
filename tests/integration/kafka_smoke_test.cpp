// The Kafka broker the project starts is real: the project's admin client creates a topic,
// librdkafka produces with acks=all and idempotence, and a consumer group reads the message back.

#include <gtest/gtest.h>
#include <librdkafka/rdkafkacpp.h>

#include <condition_variable>
#include <mutex>
#include <vector>

#include "pkg/kafka/admin.h"
#include "pkg/kafka/client.h"
#include "pkg/local/kafka_broker.h"
#include "pkg/proc/net.h"
#include "tests/support/kafka_suite.h"
#include "tests/support/suite_logs.h"

namespace pipewright {
namespace {

using KafkaSmoke = testing::KafkaSuite;

TEST_F(KafkaSmoke, ProducesAndConsumesAMessageThroughARealBroker) {
  kafka::TopicSpec topic;
  topic.name = "smoke.images";
  topic.partitions = 3;
  const auto created = kafka::make_admin(broker->bootstrap())->create({topic});
  ASSERT_EQ(created.size(), 1u);
  ASSERT_EQ(created[0].outcome, kafka::TopicOutcome::created) << created[0].error;

  std::string err;
  std::unique_ptr<RdKafka::Conf> pconf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  ASSERT_EQ(pconf->set("bootstrap.servers", broker->bootstrap(), err), RdKafka::Conf::CONF_OK);
  ASSERT_EQ(pconf->set("enable.idempotence", "true", err), RdKafka::Conf::CONF_OK) << err;
  ASSERT_EQ(pconf->set("acks", "all", err), RdKafka::Conf::CONF_OK) << err;
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(pconf.get(), err));
  ASSERT_TRUE(producer) << err;

  const std::string payload = R"({"id":"f1","type":"image.uploaded","data":{"file":"perfil.jpg"}})";
  auto* headers = RdKafka::Headers::create();
  headers->add("ce_type", "image.uploaded");
  const auto code = producer->produce(
      "smoke.images", RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
      const_cast<char*>(payload.data()), payload.size(), "f1", 2, 0, headers, nullptr);
  ASSERT_EQ(code, RdKafka::ERR_NO_ERROR) << RdKafka::err2str(code);
  ASSERT_EQ(producer->flush(15000), RdKafka::ERR_NO_ERROR) << "not acknowledged by the broker";

  std::unique_ptr<RdKafka::Conf> cconf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  cconf->set("bootstrap.servers", broker->bootstrap(), err);
  cconf->set("group.id", "smoke", err);
  cconf->set("auto.offset.reset", "earliest", err);
  cconf->set("enable.auto.commit", "false", err);
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(
      RdKafka::KafkaConsumer::create(cconf.get(), err));
  ASSERT_TRUE(consumer) << err;
  ASSERT_EQ(consumer->subscribe({"smoke.images"}), RdKafka::ERR_NO_ERROR);

  std::unique_ptr<RdKafka::Message> got;
  proc::poll_until(
      std::chrono::seconds(30),
      [&] {
        std::unique_ptr<RdKafka::Message> m(consumer->consume(200));
        if (m->err() == RdKafka::ERR_NO_ERROR) got = std::move(m);
        return got != nullptr;
      },
      std::chrono::milliseconds(0));
  ASSERT_TRUE(got) << "no message consumed within 30 s";
  EXPECT_EQ(std::string(static_cast<const char*>(got->payload()), got->len()), payload);
  ASSERT_NE(got->key(), nullptr);
  EXPECT_EQ(*got->key(), "f1");
  RdKafka::Headers::Header h = got->headers()->get_last("ce_type");
  EXPECT_EQ(std::string(static_cast<const char*>(h.value()), h.value_size()), "image.uploaded");
  EXPECT_EQ(consumer->commitSync(got.get()), RdKafka::ERR_NO_ERROR);
  consumer->close();
}

struct DeliveryReport : RdKafka::DeliveryReportCb {
  RdKafka::ErrorCode result = RdKafka::ERR__IN_PROGRESS;
  void dr_cb(RdKafka::Message& m) override { result = m.err(); }
};

TEST_F(KafkaSmoke, RefusesToProduceToATopicThatDoesNotExist) {
  // auto.create.topics.enable=false: topics exist only when someone declared them.
  std::string err;
  DeliveryReport report;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  conf->set("bootstrap.servers", broker->bootstrap(), err);
  conf->set("message.timeout.ms", "3000", err);
  ASSERT_EQ(conf->set("dr_cb", &report, err), RdKafka::Conf::CONF_OK) << err;
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), err));
  ASSERT_TRUE(producer) << err;
  std::string payload = "x";
  producer->produce("nobody.declared.this", RdKafka::Topic::PARTITION_UA,
                    RdKafka::Producer::RK_MSG_COPY, payload.data(), payload.size(), nullptr, 0, 0,
                    nullptr);
  producer->flush(15000);
  EXPECT_NE(report.result, RdKafka::ERR_NO_ERROR);
  EXPECT_NE(report.result, RdKafka::ERR__IN_PROGRESS) << "no delivery report within 15 s";
}

// The project's producer: one send_async of several messages gets one callback with one
// Delivery per message in their order, whether a message is acknowledged by the broker or refused
// at once by librdkafka (too large: reported from the caller's thread, not the producer's).
TEST_F(KafkaSmoke, SendAsyncReportsEveryMessageOfABatchOnceInItsOrder) {
  kafka::TopicSpec topic;
  topic.name = "smoke.batch";
  topic.partitions = 3;
  const auto created = kafka::make_admin(broker->bootstrap())->create({topic});
  ASSERT_EQ(created.size(), 1u);
  ASSERT_EQ(created[0].outcome, kafka::TopicOutcome::created) << created[0].error;
  auto producer = kafka::make_producer(kafka::client_properties(broker->bootstrap()));

  std::mutex mu;
  std::condition_variable cv;
  int calls = 0;
  std::vector<kafka::Delivery> got;
  std::vector<kafka::OutMessage> batch{
      {"smoke.batch", "a", R"({"n":1})", {{"ce_type", "t"}, {"content-type", "application/json"}}},
      {"smoke.batch", "b", R"({"n":2})", {}},
      {"smoke.batch", "c", std::string(std::size_t{2} << 20, 'x'), {{"ce_type", "t"}}},
      {"smoke.batch", "d", R"({"n":4})", {{"ce_type", "t"}}}};
  producer->send_async(batch, [&](std::vector<kafka::Delivery> results) {
    const std::lock_guard lock(mu);
    ++calls;
    got = std::move(results);
    cv.notify_all();
  });
  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(60), [&] { return calls > 0; }))
      << "no callback within 60 s";
  ASSERT_EQ(got.size(), 4u);
  EXPECT_TRUE(got[0].ok()) << got[0].error;
  EXPECT_TRUE(got[1].ok()) << got[1].error;
  EXPECT_FALSE(got[2].ok()) << "a 2 MiB message was accepted";
  EXPECT_TRUE(got[2].permanent) << got[2].error;
  EXPECT_NE(got[2].error.find("smoke.batch"), std::string::npos) << got[2].error;
  EXPECT_TRUE(got[3].ok()) << got[3].error;
  lock.unlock();
  producer.reset();  // flushes; nothing may call back a second time
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace pipewright
