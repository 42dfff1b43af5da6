// The Kafka broker the project starts is real: the project's admin client creates a topic,
// librdkafka produces with acks=all and idempotence, and a consumer group reads the message back.

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
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

// Creates a topic on the suite's broker; a failure ends the calling test (wrap the call in
// ASSERT_NO_FATAL_FAILURE).
void create_topic(const std::string& bootstrap, const std::string& name, int partitions) {
  kafka::TopicSpec topic;
  topic.name = name;
  topic.partitions = partitions;
  const auto created = kafka::make_admin(bootstrap)->create({topic});
  ASSERT_EQ(created.size(), 1u);
  ASSERT_EQ(created[0].outcome, kafka::TopicOutcome::created) << created[0].error;
}

TEST_F(KafkaSmoke, ProducesAndConsumesAMessageThroughARealBroker) {
  ASSERT_NO_FATAL_FAILURE(create_topic(broker->bootstrap(), "smoke.images", 3));

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

// A group leader of librdkafka's own whose main thread is held, once it has read a JoinGroup
// response naming more than itself, until released: the broker holds the followers' SyncGroup
// until the leader's comes, so a follower stays between its join and its first assignment.
class HeldLeader : public RdKafka::EventCb {
 public:
  HeldLeader(const std::string& bootstrap, const std::string& group, const std::string& topic) {
    std::string err;
    std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
    for (const auto& [k, v] :
         std::map<std::string, std::string>{{"bootstrap.servers", bootstrap},
                                            {"group.id", group},
                                            {"partition.assignment.strategy", "cooperative-sticky"},
                                            {"enable.auto.commit", "false"},
                                            {"debug", "cgrp"}})
      conf->set(k, v, err);
    conf->set("event_cb", static_cast<RdKafka::EventCb*>(this), err);
    consumer_.reset(RdKafka::KafkaConsumer::create(conf.get(), err));
    if (!consumer_) throw std::runtime_error(err);
    consumer_->subscribe({topic});
    poller_ = std::thread([this] {
      while (!stop_) {
        const std::unique_ptr<RdKafka::Message> m(consumer_->consume(50));
        if (m->err() == RdKafka::ERR_NO_ERROR) {
          const std::lock_guard lock(mu_);
          values_.emplace_back(static_cast<const char*>(m->payload()), m->len());
        }
      }
    });
  }
  HeldLeader(const HeldLeader&) = delete;
  HeldLeader& operator=(const HeldLeader&) = delete;
  ~HeldLeader() override {
    release();
    stop_ = true;
    poller_.join();
    consumer_->close();
  }

  void event_cb(RdKafka::Event& e) override {
    if (e.type() != RdKafka::Event::EVENT_LOG || e.fac() != "JOINGROUP") return;
    const auto& text = e.str();
    if (text.find("JoinGroup response") == std::string::npos ||
        text.find("member metadata count 1:") != std::string::npos ||
        text.find("member metadata count 0:") != std::string::npos)
      return;
    std::unique_lock lock(mu_);
    held_ = true;
    cv_.notify_all();
    cv_.wait(lock, [this] { return released_; });
  }
  std::size_t assigned() {
    std::vector<RdKafka::TopicPartition*> parts;
    consumer_->assignment(parts);
    const auto n = parts.size();
    RdKafka::TopicPartition::destroy(parts);
    return n;
  }
  bool held() {
    const std::lock_guard lock(mu_);
    return held_;
  }
  void release() {
    const std::lock_guard lock(mu_);
    released_ = true;
    cv_.notify_all();
  }
  bool read(const std::string& value) {
    const std::lock_guard lock(mu_);
    return std::find(values_.begin(), values_.end(), value) != values_.end();
  }

 private:
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  std::thread poller_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool held_ = false;
  bool released_ = false;
  std::vector<std::string> values_;
};

// A consumer stopped between its group's join and its first assignment (a replica scaled away
// as it starts) stops without taking the process down: librdkafka 2.0.2 aborts in the
// cooperative-sticky assignor's destructor there (librdkafka#4312). The group goes on.
TEST_F(KafkaSmoke, AConsumerStoppedBeforeItsFirstAssignmentLeavesTheProcessRunning) {
  const std::string topic = "smoke.early";
  ASSERT_NO_FATAL_FAILURE(create_topic(broker->bootstrap(), topic, 2));
  const auto properties = kafka::client_properties(broker->bootstrap());
  HeldLeader leader(broker->bootstrap(), "smoke-early", topic);
  ASSERT_TRUE(proc::poll_until(std::chrono::seconds(60), [&] { return leader.assigned() > 0; }))
      << "the first member got no assignment";

  auto early = kafka::make_consumer(properties, "smoke-early", {topic});
  ASSERT_TRUE(proc::poll_until(std::chrono::seconds(60), [&] { return leader.held(); }))
      << "the second member's join never reached the leader";
  // The broker answered both members' JoinGroup at once; the follower has read its answer by the
  // time the poll above saw the leader's (it polls every 50 ms). A follower starved past that
  // would make this pass without the fix, never fail with it.
  early.reset();  // joined, its SyncGroup held by the broker: no assignment yet
  leader.release();

  kafka::make_producer(properties)->send({{topic, "k", "after", {}}});
  EXPECT_TRUE(proc::poll_until(std::chrono::seconds(60), [&] { return leader.read("after"); }))
      << "the group stopped delivering after its member left early";
}

// A consumer stopped while an assignment waits in its queue for the rebalance callback (the
// runtime's drain has stopped polling; a rebalance came meanwhile) closes in time: librdkafka
// 2.0.2's close() serves it while closing and hangs for ever (librdkafka#4527).
TEST_F(KafkaSmoke, AConsumerClosedWithAnAssignmentNotYetServedClosesInTime) {
  const std::string topic = "smoke.closing";
  ASSERT_NO_FATAL_FAILURE(create_topic(broker->bootstrap(), topic, 2));
  HeldLeader leader(broker->bootstrap(), "smoke-closing", topic);
  ASSERT_TRUE(proc::poll_until(std::chrono::seconds(60), [&] { return leader.assigned() == 2; }))
      << "the first member did not get both partitions";
  auto late =
      kafka::make_consumer(kafka::client_properties(broker->bootstrap()), "smoke-closing", {topic});
  ASSERT_TRUE(proc::poll_until(std::chrono::seconds(60), [&] { return leader.held(); }))
      << "the second member's join never reached the leader";
  leader.release();
  // The broker answers every member's SyncGroup at once: once the leader has given up a
  // partition, the second member's assignment is queued (it does not poll).
  ASSERT_TRUE(proc::poll_until(std::chrono::seconds(60), [&] { return leader.assigned() == 1; }))
      << "the leader gave up no partition";
  auto closed = std::make_shared<std::atomic<bool>>(false);
  std::thread closing([consumer = late.get(), closed] {
    consumer->close();
    closed->store(true);
  });
  if (proc::poll_until(std::chrono::seconds(60), [&] { return closed->load(); })) {
    closing.join();
  } else {
    ADD_FAILURE() << "close() did not return within a minute";
    closing.detach();
    (void)late.release();  // still in use by the hung close()
  }
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
  ASSERT_NO_FATAL_FAILURE(create_topic(broker->bootstrap(), "smoke.batch", 3));
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

// Deletes every record of `topic`'s partition 0 before `before`, as retention would.
void delete_records(const std::string& bootstrap, const std::string& topic, std::int64_t before) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  ASSERT_NE(rk, nullptr) << err;
  rd_kafka_topic_partition_list_t* offsets = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(offsets, topic.c_str(), 0)->offset = before;
  rd_kafka_DeleteRecords_t* del = rd_kafka_DeleteRecords_new(offsets);
  rd_kafka_queue_t* queue = rd_kafka_queue_new(rk);
  rd_kafka_DeleteRecords(rk, &del, 1, nullptr, queue);
  rd_kafka_event_t* event = rd_kafka_queue_poll(queue, 30000);
  ASSERT_NE(event, nullptr) << "DeleteRecords not answered within 30 s";
  EXPECT_EQ(rd_kafka_event_error(event), RD_KAFKA_RESP_ERR_NO_ERROR)
      << rd_kafka_event_error_string(event);
  const auto* result =
      rd_kafka_DeleteRecords_result_offsets(rd_kafka_event_DeleteRecords_result(event));
  ASSERT_NE(result, nullptr);
  EXPECT_EQ(result->elems[0].err, RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_event_destroy(event);
  rd_kafka_queue_destroy(queue);
  rd_kafka_DeleteRecords_destroy(del);
  rd_kafka_topic_partition_list_destroy(offsets);
  rd_kafka_destroy(rk);
}

// Pausing a partition (the runtime's backpressure) keeps what the consumer fetched for it:
// resumed, those messages come from memory, not fetched again. Shown by deleting them from the
// broker while paused: a refetch would find them gone (librdkafka's own pause did that, doubling
// the broker's work per message). Messages produced after the resume come too.
TEST_F(KafkaSmoke, APausedPartitionKeepsWhatWasFetchedAndResumesWithoutFetchingItAgain) {
  ASSERT_NO_FATAL_FAILURE(create_topic(broker->bootstrap(), "smoke.pause", 1));
  const auto properties = kafka::client_properties(broker->bootstrap());
  auto producer = kafka::make_producer(properties);
  std::vector<kafka::OutMessage> first;
  for (int i = 0; i < 50; ++i)
    first.push_back({"smoke.pause", "k", std::to_string(i), {}});
  producer->send(first);  // all in the log before the consumer's first fetch, which takes all

  auto consumer = kafka::make_consumer(properties, "smoke-pause", {"smoke.pause"});
  std::vector<std::string> got;
  const auto take = [&](std::size_t max) {
    for (auto& m : consumer->poll(max, std::chrono::milliseconds(100)))
      got.push_back(m.value);
  };
  proc::poll_until(
      std::chrono::seconds(30),
      [&] {
        take(1);
        return !got.empty();
      },
      std::chrono::milliseconds(0));
  ASSERT_EQ(got, std::vector<std::string>{"0"});
  const kafka::Partition tp{"smoke.pause", 0};
  consumer->pause({tp});
  delete_records(broker->bootstrap(), "smoke.pause", 50);
  for (int i = 0; i < 5; ++i)
    take(100);  // what poll() already held for the partition may still come
  consumer->resume({tp});
  producer->send({{"smoke.pause", "k", "after", {}}});
  proc::poll_until(
      std::chrono::seconds(30),
      [&] {
        take(100);
        return got.size() >= 51;
      },
      std::chrono::milliseconds(0));
  std::vector<std::string> want;
  for (int i = 0; i < 50; ++i)
    want.push_back(std::to_string(i));
  want.emplace_back("after");
  EXPECT_EQ(got, want) << "paused messages lost (fetched again after their deletion?)";
  consumer->close();
}

// A paused partition that a rebalance takes away and gives back is a new assignment: its
// messages come again without a resume (the runtime forgets a revoked partition's pause, so
// nothing would ever resume it), while a partition that stayed paused stays held until resumed.
// The partition moves by a second member joining the group and leaving it.
TEST_F(KafkaSmoke, APausedPartitionGivenBackByARebalanceIsDeliveredAgain) {
  const std::string topic = "smoke.regain";
  ASSERT_NO_FATAL_FAILURE(create_topic(broker->bootstrap(), topic, 2));
  const auto properties = kafka::client_properties(broker->bootstrap());
  auto producer = kafka::make_producer(properties);
  std::vector<kafka::OutMessage> first;
  for (int i = 0; i < 20; ++i)
    first.push_back({topic, "k" + std::to_string(i), "first", {}});
  producer->send(first);

  auto a = kafka::make_consumer(properties, "smoke-regain", {topic});
  std::vector<kafka::Partition> revoked;
  a->on_revoke([&](const std::vector<kafka::Partition>& gone) {
    revoked.insert(revoked.end(), gone.begin(), gone.end());
  });
  std::map<int, std::string> key_of;  // a key that lands in each partition
  std::vector<kafka::InMessage> got;
  const auto take = [&](kafka::Consumer& c) {
    auto batch = c.poll(100, std::chrono::milliseconds(50));
    for (auto& m : batch)
      key_of.emplace(m.partition, m.key);
    return batch;
  };
  ASSERT_TRUE(proc::poll_until(
      std::chrono::seconds(60),
      [&] {
        take(*a);
        return key_of.size() == 2;
      },
      std::chrono::milliseconds(0)))
      << "the first consumer did not read both partitions";
  a->pause({{topic, 0}, {topic, 1}});
  for (int i = 0; i < 5; ++i)
    take(*a);  // what poll() already held may still come

  // A second member takes one partition (cooperative-sticky moves one of two).
  auto b = kafka::make_consumer(properties, "smoke-regain", {topic});
  ASSERT_TRUE(proc::poll_until(
      std::chrono::seconds(60),
      [&] {
        take(*a);
        take(*b);
        return !revoked.empty();
      },
      std::chrono::milliseconds(0)))
      << "no partition moved to the second member";
  ASSERT_EQ(revoked.size(), 1u);
  const int moved = revoked[0].partition;
  const int kept = 1 - moved;
  b->close();

  // Produced now: no poll() can hold them already.
  producer->send({{topic, key_of[moved], "back", {}}, {topic, key_of[kept], "held", {}}});
  const auto seen = [&](const std::string& value) {
    return std::any_of(got.begin(), got.end(),
                       [&](const kafka::InMessage& m) { return m.value == value; });
  };
  // Polls the first member until `value` came, for at most a minute.
  const auto comes = [&](const std::string& value) {
    return proc::poll_until(
        std::chrono::seconds(60),
        [&] {
          for (auto& m : take(*a))
            got.push_back(std::move(m));
          return seen(value);
        },
        std::chrono::milliseconds(0));
  };
  EXPECT_TRUE(comes("back")) << "partition " << moved
                             << " given back to the paused member was never delivered";
  EXPECT_FALSE(seen("held")) << "partition " << kept << " came through while paused";

  a->resume({{topic, kept}});
  EXPECT_TRUE(comes("held")) << "partition " << kept << " not delivered after its resume";
  a->on_revoke({});
  a->close();
}

}  // namespace
}  // namespace pipewright
