#include "pkg/kafka/topic_reader.h"

#include <algorithm>
#include <map>
#include <set>

#include "pkg/kafka/rdkafka_util.h"

namespace pipewright::kafka {
namespace {

using Clock = std::chrono::steady_clock;
using detail::make_conf;
using detail::set;

int ms_left(Clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::max<long long>(left, 0));
}

std::vector<int> partitions_of(RdKafka::Handle& handle, const std::string& topic,
                               Clock::time_point deadline) {
  std::string err;
  std::unique_ptr<RdKafka::Topic> t(RdKafka::Topic::create(&handle, topic, nullptr, err));
  if (!t) throw KafkaError("Kafka topic " + topic + ": " + err);
  RdKafka::Metadata* raw = nullptr;
  const auto code = handle.metadata(false, t.get(), &raw, std::max(ms_left(deadline), 1));
  std::unique_ptr<RdKafka::Metadata> metadata(raw);
  if (code != RdKafka::ERR_NO_ERROR)
    throw KafkaError("Kafka metadata of " + topic + ": " + RdKafka::err2str(code));
  for (const auto* tm : *metadata->topics()) {
    if (tm->topic() != topic) continue;
    if (tm->err() != RdKafka::ERR_NO_ERROR)
      throw KafkaError("Kafka topic " + topic + ": " + RdKafka::err2str(tm->err()));
    std::vector<int> out;
    for (const auto* p : *tm->partitions())
      out.push_back(p->id());
    std::sort(out.begin(), out.end());
    return out;
  }
  throw KafkaError("Kafka topic " + topic + " does not exist");
}

class RdTransactionalProducer : public TransactionalProducer {
 public:
  RdTransactionalProducer(const Properties& properties, const std::string& id,
                          std::chrono::milliseconds timeout) {
    auto conf = make_conf(properties);
    set(*conf, "transactional.id", id);
    set(*conf, "enable.idempotence", "true");
    set(*conf, "acks", "all");
    std::string err;
    conf->set("event_cb", &logs_, err);
    producer_.reset(RdKafka::Producer::create(conf.get(), err));
    if (!producer_) throw KafkaError("Kafka producer: " + err);
    check(producer_->init_transactions(static_cast<int>(timeout.count())), "init transactions");
  }

  void send_atomically(const std::vector<OutMessage>& messages,
                       std::chrono::milliseconds timeout) override {
    const auto deadline = Clock::now() + timeout;
    check(producer_->begin_transaction(), "begin transaction");
    try {
      for (const auto& m : messages) {
        RdKafka::Headers* headers = RdKafka::Headers::create();
        for (const auto& h : m.headers)
          headers->add(h.key, h.value);
        for (;;) {
          const auto code =
              producer_->produce(m.topic, RdKafka::Topic::PARTITION_UA,
                                 RdKafka::Producer::RK_MSG_COPY, const_cast<char*>(m.value.data()),
                                 m.value.size(), m.key.data(), m.key.size(), 0, headers, nullptr);
          if (code == RdKafka::ERR_NO_ERROR) break;  // librdkafka owns the headers now
          if (code == RdKafka::ERR__QUEUE_FULL && Clock::now() < deadline) {
            producer_->poll(10);
            continue;
          }
          delete headers;
          throw KafkaError(m.topic + ": " + RdKafka::err2str(code));
        }
      }
      // commit_transaction flushes and fails when any message was not acknowledged.
      check(producer_->commit_transaction(std::max(ms_left(deadline), 1)), "commit transaction");
    } catch (const KafkaError&) {
      if (RdKafka::Error* e = producer_->abort_transaction(std::max(ms_left(deadline), 1000)))
        delete e;
      throw;
    }
  }

 private:
  static void check(RdKafka::Error* error, const char* what) {
    if (error == nullptr) return;
    const std::string text = error->str();
    delete error;
    throw KafkaError(std::string("Kafka ") + what + ": " + text);
  }

  detail::LogBridge logs_;
  std::unique_ptr<RdKafka::Producer> producer_;
};

}  // namespace

std::vector<InMessage> read_topic(const Properties& properties, const std::string& topic,
                                  std::chrono::milliseconds timeout, std::size_t max_messages) {
  const auto deadline = Clock::now() + timeout;
  auto conf = make_conf(properties);
  // A group id is required by the consumer API; with assign() it is never joined or committed.
  set(*conf, "group.id", "pipewright-topic-reader");
  set(*conf, "enable.auto.commit", "false");
  set(*conf, "enable.auto.offset.store", "false");
  set(*conf, "isolation.level", "read_committed");
  set(*conf, "enable.partition.eof", "true");
  detail::LogBridge logs;
  std::string err;
  conf->set("event_cb", &logs, err);
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(conf.get(), err));
  if (!consumer) throw KafkaError("Kafka consumer: " + err);

  std::vector<RdKafka::TopicPartition*> assignment;
  std::set<int> open;  // partitions not yet read to their end
  for (const int p : partitions_of(*consumer, topic, deadline)) {
    std::int64_t low = 0, high = 0;
    const auto code =
        consumer->query_watermark_offsets(topic, p, &low, &high, std::max(ms_left(deadline), 1));
    if (code != RdKafka::ERR_NO_ERROR)
      throw KafkaError("Kafka offsets of " + topic + ": " + RdKafka::err2str(code));
    if (high <= low) continue;  // empty partition
    assignment.push_back(RdKafka::TopicPartition::create(topic, p, low));
    open.insert(p);
  }
  std::vector<InMessage> out;
  if (assignment.empty()) return out;
  const auto code = consumer->assign(assignment);
  RdKafka::TopicPartition::destroy(assignment);
  if (code != RdKafka::ERR_NO_ERROR)
    throw KafkaError("Kafka assign " + topic + ": " + RdKafka::err2str(code));

  // The end is the partition-EOF event: with read_committed it comes at the last stable offset,
  // past transaction markers that are never delivered as messages.
  while (!open.empty()) {
    if (Clock::now() >= deadline) {
      consumer->close();
      throw KafkaError("Kafka topic " + topic + " could not be read to its end in time");
    }
    std::unique_ptr<RdKafka::Message> m(consumer->consume(std::min(ms_left(deadline), 200)));
    if (m->err() == RdKafka::ERR__TIMED_OUT) continue;
    if (m->err() == RdKafka::ERR__PARTITION_EOF) {
      open.erase(m->partition());
      continue;
    }
    if (m->err() != RdKafka::ERR_NO_ERROR) {
      consumer->close();
      throw KafkaError("Kafka read " + topic + ": " + m->errstr());
    }
    if (out.size() >= max_messages) {
      consumer->close();
      throw KafkaError("Kafka topic " + topic + " holds more than " + std::to_string(max_messages) +
                       " messages");
    }
    out.push_back(detail::to_in_message(*m));
  }
  consumer->close();
  std::stable_sort(out.begin(), out.end(), [](const InMessage& a, const InMessage& b) {
    return a.partition != b.partition ? a.partition < b.partition : a.offset < b.offset;
  });
  return out;
}

std::unique_ptr<TransactionalProducer> make_transactional_producer(
    const Properties& properties, const std::string& transactional_id,
    std::chrono::milliseconds timeout) {
  return std::make_unique<RdTransactionalProducer>(properties, transactional_id, timeout);
}

}  // namespace pipewright::kafka
