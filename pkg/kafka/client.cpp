#include "pkg/kafka/client.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "pkg/kafka/rdkafka_util.h"
#include "pkg/log/log.h"

namespace pipewright::kafka {
namespace {

using detail::make_conf;
using detail::set;

using detail::LogBridge;

// One send() call: how many acknowledgements it still waits for, and the first failure.
struct Batch {
  std::mutex mutex;
  std::condition_variable done;
  std::size_t pending = 0;
  std::string error;
};

class DeliveryReports : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& message) override {
    auto* batch = static_cast<Batch*>(message.msg_opaque());
    if (batch == nullptr) return;
    std::lock_guard lock(batch->mutex);
    if (message.err() != RdKafka::ERR_NO_ERROR && batch->error.empty()) {
      batch->error = message.topic_name() + ": " + message.errstr();
    }
    if (--batch->pending == 0) batch->done.notify_all();
  }
};

class RdProducer : public Producer {
 public:
  explicit RdProducer(const Properties& properties) {
    auto conf = make_conf(properties);
    set(*conf, "enable.idempotence", "true");
    set(*conf, "acks", "all");
    set(*conf, "linger.ms", "2");
    set(*conf, "message.timeout.ms", "60000");
    std::string err;
    conf->set("dr_cb", &reports_, err);
    conf->set("event_cb", &logs_, err);
    producer_.reset(RdKafka::Producer::create(conf.get(), err));
    if (!producer_) throw KafkaError("Kafka producer: " + err);
    // Delivery reports arrive through poll(); one thread serves every caller.
    poller_ = std::thread([this] {
      while (!stopping_.load())
        producer_->poll(50);
    });
  }

  ~RdProducer() override {
    producer_->flush(10000);
    stopping_ = true;
    poller_.join();
  }
  RdProducer(const RdProducer&) = delete;
  RdProducer& operator=(const RdProducer&) = delete;

  void send(const std::vector<OutMessage>& messages, std::chrono::milliseconds timeout) override {
    if (messages.empty()) return;
    // Shared with the delivery callbacks, which may run after a timed-out send returns.
    auto batch = std::make_shared<Batch>();
    batch->pending = messages.size();
    {
      std::lock_guard lock(keep_mutex_);
      keep_.push_back(batch);
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    bool refused = false;  // ours to read without the lock; callbacks write batch->error
    for (std::size_t i = 0; i < messages.size() && !refused; ++i) {
      const auto& m = messages[i];
      RdKafka::Headers* headers = RdKafka::Headers::create();
      for (const auto& h : m.headers)
        headers->add(h.key, h.value);
      for (;;) {
        const auto code =
            producer_->produce(m.topic, RdKafka::Topic::PARTITION_UA,
                               RdKafka::Producer::RK_MSG_COPY, const_cast<char*>(m.value.data()),
                               m.value.size(), m.key.data(), m.key.size(), 0, headers, batch.get());
        if (code == RdKafka::ERR_NO_ERROR) break;  // librdkafka owns the headers now
        if (code == RdKafka::ERR__QUEUE_FULL && std::chrono::steady_clock::now() < deadline) {
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
          continue;
        }
        delete headers;
        std::lock_guard lock(batch->mutex);
        batch->pending -= messages.size() - i;  // the rest is never sent
        if (batch->error.empty()) batch->error = m.topic + ": " + RdKafka::err2str(code);
        refused = true;
        break;
      }
    }
    std::unique_lock lock(batch->mutex);
    const bool finished =
        batch->done.wait_until(lock, deadline, [&] { return batch->pending == 0; });
    const std::string error = batch->error;
    lock.unlock();
    forget_finished();
    if (!finished) throw KafkaError("Kafka did not acknowledge in time");
    if (!error.empty()) throw KafkaError("Kafka refused a message: " + error);
  }

  bool connected() override {
    RdKafka::Metadata* metadata = nullptr;
    const auto code = producer_->metadata(false, nullptr, &metadata, 2000);
    delete metadata;
    return code == RdKafka::ERR_NO_ERROR;
  }

 private:
  void forget_finished() {
    std::lock_guard lock(keep_mutex_);
    std::erase_if(keep_, [](const std::shared_ptr<Batch>& b) {
      std::lock_guard l(b->mutex);
      return b->pending == 0;
    });
  }

  DeliveryReports reports_;
  LogBridge logs_;
  std::unique_ptr<RdKafka::Producer> producer_;
  std::atomic<bool> stopping_{false};
  std::thread poller_;
  std::mutex keep_mutex_;
  std::vector<std::shared_ptr<Batch>> keep_;  // batches whose reports may still arrive
};

class RdConsumer : public Consumer {
 public:
  RdConsumer(const Properties& properties, const std::string& group,
             const std::vector<std::string>& topics) {
    auto conf = make_conf(properties);
    set(*conf, "group.id", group);
    set(*conf, "enable.auto.commit", "false");
    set(*conf, "auto.offset.reset", "earliest");
    // A killed member's partitions move within ~10 s instead of the default 45 s.
    set(*conf, "session.timeout.ms", "10000");
    set(*conf, "heartbeat.interval.ms", "1000");
    set(*conf, "partition.assignment.strategy", "cooperative-sticky");
    std::string err;
    conf->set("event_cb", &logs_, err);
    consumer_.reset(RdKafka::KafkaConsumer::create(conf.get(), err));
    if (!consumer_) throw KafkaError("Kafka consumer: " + err);
    if (const auto code = consumer_->subscribe(topics); code != RdKafka::ERR_NO_ERROR) {
      throw KafkaError("Kafka subscribe: " + RdKafka::err2str(code));
    }
  }
  ~RdConsumer() override { RdConsumer::close(); }
  RdConsumer(const RdConsumer&) = delete;
  RdConsumer& operator=(const RdConsumer&) = delete;

  std::vector<InMessage> poll(std::size_t max, std::chrono::milliseconds wait) override {
    std::vector<InMessage> out;
    int timeout = static_cast<int>(wait.count());
    while (out.size() < max) {
      std::unique_ptr<RdKafka::Message> m(consumer_->consume(timeout));
      timeout = 0;  // take what is already fetched, do not wait again
      if (m->err() == RdKafka::ERR__TIMED_OUT) break;
      if (m->err() == RdKafka::ERR__PARTITION_EOF) continue;
      if (m->err() != RdKafka::ERR_NO_ERROR) {
        log::warn("kafka consume", {{"error", m->errstr()}});
        break;
      }
      out.push_back(detail::to_in_message(*m));
    }
    return out;
  }

  void commit(const std::vector<InMessage>& done) override {
    if (done.empty()) return;
    // The highest offset per partition, plus one: the next message to read.
    std::map<std::pair<std::string, int>, std::int64_t> next;
    for (const auto& m : done) {
      auto& n = next[{m.topic, m.partition}];
      n = std::max(n, m.offset + 1);
    }
    std::vector<RdKafka::TopicPartition*> offsets;
    for (const auto& [tp, offset] : next) {
      offsets.push_back(RdKafka::TopicPartition::create(tp.first, tp.second, offset));
    }
    const auto code = consumer_->commitSync(offsets);
    RdKafka::TopicPartition::destroy(offsets);
    if (code != RdKafka::ERR_NO_ERROR) {
      throw KafkaError("Kafka commit: " + RdKafka::err2str(code));
    }
  }

  void close() override {
    if (!closed_.exchange(true)) consumer_->close();
  }

 private:
  LogBridge logs_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  std::atomic<bool> closed_{false};
};

}  // namespace

Properties client_properties(const std::string& bootstrap,
                             const std::filesystem::path& secret_dir) {
  Properties p{{"bootstrap.servers", bootstrap}};
  if (secret_dir.empty()) return p;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(secret_dir, ec)) {
    // Kubernetes mounts Secret keys as symlinks into a hidden ..data folder.
    const auto name = entry.path().filename().string();
    if (name.starts_with(".") || !entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    std::string value = s.str();
    while (!value.empty() && (value.back() == '\n' || value.back() == '\r'))
      value.pop_back();
    p[name] = value;
  }
  if (ec)
    throw std::runtime_error("Kafka secret folder " + secret_dir.string() + ": " + ec.message());
  return p;
}

std::unique_ptr<Producer> make_producer(const Properties& properties) {
  return std::make_unique<RdProducer>(properties);
}

std::unique_ptr<Consumer> make_consumer(const Properties& properties, const std::string& group,
                                        const std::vector<std::string>& topics) {
  return std::make_unique<RdConsumer>(properties, group, topics);
}

}  // namespace pipewright::kafka
