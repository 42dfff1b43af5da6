#include "pkg/kafka/client.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "pkg/kafka/rdkafka_util.h"
#include "pkg/log/log.h"

namespace pipewright::kafka {
namespace {

using detail::make_conf;
using detail::set;

using detail::LogBridge;

// PIPEWRIGHT_KAFKA_STATISTICS_MS=N (opt-in, for benchmarks): librdkafka's statistics every N ms,
// logged as one line of cumulative counts, the requests by type and the messages each way: the
// broker's work per message depends on how many requests carry them.
class Events : public LogBridge {
 public:
  void event_cb(RdKafka::Event& event) override {
    if (event.type() != RdKafka::Event::EVENT_STATS) {
      LogBridge::event_cb(event);
      return;
    }
    const auto stats = nlohmann::json::parse(event.str(), nullptr, false);
    if (!stats.is_object()) return;
    nlohmann::json requests = nlohmann::json::object();
    const auto brokers = stats.find("brokers");
    for (const auto& broker : brokers == stats.end() ? nlohmann::json::object() : *brokers) {
      const auto req = broker.find("req");
      if (req == broker.end()) continue;
      for (const auto& [type, count] : req->items()) {
        if (count.is_number() && count.get<std::int64_t>() > 0)
          requests[type] = requests.value(type, std::int64_t{0}) + count.get<std::int64_t>();
      }
    }
    log::info("kafka statistics", {{"client", stats.value("name", "")},
                                   {"type", stats.value("type", "")},
                                   {"requests", requests},
                                   {"txmsgs", stats.value("txmsgs", 0)},
                                   {"txmsg_bytes", stats.value("txmsg_bytes", 0)},
                                   {"rxmsgs", stats.value("rxmsgs", 0)},
                                   {"rxmsg_bytes", stats.value("rxmsg_bytes", 0)}});
  }
};

void statistics_if_asked(RdKafka::Conf& conf) {
  const char* ms = std::getenv("PIPEWRIGHT_KAFKA_STATISTICS_MS");
  if (ms != nullptr && std::atoi(ms) > 0) set(conf, "statistics.interval.ms", ms);
}

// No resend can fix these: the message is too large or invalid, the topic is gone, or we may
// not write it. Everything else (timeouts, leader moves, a broker down) is worth a resend.
bool permanent_error(RdKafka::ErrorCode code) {
  switch (code) {
    case RdKafka::ERR_MSG_SIZE_TOO_LARGE:
    case RdKafka::ERR_INVALID_MSG_SIZE:
    case RdKafka::ERR_RECORD_LIST_TOO_LARGE:
    case RdKafka::ERR_INVALID_MSG:
    case RdKafka::ERR_INVALID_RECORD:
    case RdKafka::ERR_UNKNOWN_TOPIC_OR_PART:
    case RdKafka::ERR__UNKNOWN_TOPIC:
    case RdKafka::ERR__UNKNOWN_PARTITION:
    case RdKafka::ERR_TOPIC_EXCEPTION:
    case RdKafka::ERR_TOPIC_AUTHORIZATION_FAILED:
    case RdKafka::ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RdKafka::ERR_POLICY_VIOLATION:
    case RdKafka::ERR__INVALID_ARG:
      return true;
    default:
      return false;
  }
}

Delivery delivery_of(RdKafka::ErrorCode code, const std::string& topic, const std::string& text) {
  if (code == RdKafka::ERR_NO_ERROR) return {};
  return {topic + ": " + text, permanent_error(code)};
}

struct AsyncBatch;

// The opaque of one produced message: which batch and which slot.
struct Slot {
  AsyncBatch* batch = nullptr;
  std::size_t index = 0;
};

// One send_async call: a report per message, the callback once all are in. One allocation for
// the whole call (its slots inside); the last report frees it.
struct AsyncBatch {
  explicit AsyncBatch(std::size_t n, DeliveryCallback d)
      : results(n), slots(n), pending(n), done(std::move(d)) {
    for (std::size_t i = 0; i < n; ++i)
      slots[i] = {this, i};
  }
  std::vector<Delivery> results;
  std::vector<Slot> slots;  // never resized: librdkafka holds pointers into it
  std::atomic<std::size_t> pending;
  DeliveryCallback done;

  // Records message i's report; the last one calls the callback and frees the batch. Reports
  // come from the producer's thread and, for a refused produce, the caller's: each writes only
  // its own slot, and the decrement publishes it to whoever is last.
  void report(std::size_t i, Delivery d) {
    results[i] = std::move(d);
    if (pending.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    auto call = std::move(done);
    auto out = std::move(results);
    delete this;
    if (call) call(std::move(out));
  }
};

class DeliveryReports : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& message) override {
    auto* slot = static_cast<Slot*>(message.msg_opaque());
    if (slot == nullptr) return;
    // The topic's name and the error text only for a failure: per message they cost two strings.
    const auto code = message.err();
    slot->batch->report(slot->index,
                        code == RdKafka::ERR_NO_ERROR
                            ? Delivery{}
                            : delivery_of(code, message.topic_name(), message.errstr()));
  }
};

class RdProducer : public Producer {
 public:
  explicit RdProducer(const Properties& properties) {
    auto conf = make_conf(properties);
    set(*conf, "enable.idempotence", "true");
    set(*conf, "acks", "all");
    set(*conf, "linger.ms", "2");
    set(*conf, "message.timeout.ms", std::to_string(kMessageTimeout.count()));
    statistics_if_asked(*conf);
    std::string err;
    conf->set("dr_cb", &reports_, err);
    conf->set("event_cb", &logs_, err);
    producer_.reset(RdKafka::Producer::create(conf.get(), err));
    if (!producer_) throw KafkaError("Kafka producer: " + err);
    // Delivery reports arrive through poll(): this thread serves every caller, except while a
    // caller of serve_reports() does (a thread woken per batch of reports costs more than them).
    poller_ = std::thread([this] {
      while (!stopping_.load()) {
        const auto idle = Clock::now().time_since_epoch() - Clock::duration(served_at_.load());
        if (idle < kHandover) {
          std::unique_lock lock(poller_mu_);
          poller_cv_.wait_for(lock, kHandover - idle, [this] { return stopping_.load(); });
          continue;
        }
        producer_->poll(50);
      }
    });
  }

  ~RdProducer() override {
    producer_->flush(10000);
    {
      const std::lock_guard lock(poller_mu_);
      stopping_ = true;
    }
    poller_cv_.notify_all();
    poller_.join();
    // What is still queued fails now, so every callback has been called before we go.
    producer_->purge(RdKafka::Producer::PURGE_QUEUE | RdKafka::Producer::PURGE_INFLIGHT);
    producer_->poll(0);
  }
  RdProducer(const RdProducer&) = delete;
  RdProducer& operator=(const RdProducer&) = delete;

  void send_async(const std::vector<OutMessage>& messages, DeliveryCallback done) override {
    if (messages.empty()) {
      if (done) done({});
      return;
    }
    // Freed by its last report, which may come before this loop ends: after a message is
    // produced, only the slots of the messages after it are touched here.
    auto* batch = new AsyncBatch(messages.size(), std::move(done));
    const auto n = messages.size();
    // A full queue waits (the caller is faster than Kafka) but not past the message timeout.
    const auto deadline = std::chrono::steady_clock::now() + kMessageTimeout;
    rd_kafka_t* rk = producer_->c_ptr();
    const std::string* last_topic = nullptr;
    rd_kafka_topic_t* topic = nullptr;
    for (std::size_t i = 0; i < n; ++i) {
      const auto& m = messages[i];
      Slot* slot = &batch->slots[i];
      // The C API: the C++ one copies the topic's name and finds its handle by that name per
      // message, and wraps the headers in an object of its own.
      if (last_topic == nullptr || *last_topic != m.topic) {
        topic = topic_handle(m.topic);
        last_topic = &m.topic;
      }
      rd_kafka_headers_t* headers =
          m.headers.empty() ? nullptr : rd_kafka_headers_new(m.headers.size());
      for (const auto& h : m.headers)
        rd_kafka_header_add(headers, h.key.data(), static_cast<ssize_t>(h.key.size()),
                            h.value.data(), static_cast<ssize_t>(h.value.size()));
      // RD_KAFKA_MSG_F_COPY: librdkafka copies the payload and never writes it; its API is not
      // const.
      auto* payload = const_cast<char*>(m.value.data());
      auto* key = const_cast<char*>(m.key.data());
      for (;;) {
        // No handle (a name librdkafka refuses): by name, so produce says why.
        std::array<rd_kafka_vu_t, 7> vu{};
        vu[0].vtype = topic != nullptr ? RD_KAFKA_VTYPE_RKT : RD_KAFKA_VTYPE_TOPIC;
        if (topic != nullptr) {
          vu[0].u.rkt = topic;
        } else {
          vu[0].u.cstr = m.topic.c_str();
        }
        vu[1].vtype = RD_KAFKA_VTYPE_PARTITION;
        vu[1].u.i32 = RD_KAFKA_PARTITION_UA;
        vu[2].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
        vu[2].u.i = RD_KAFKA_MSG_F_COPY;
        vu[3].vtype = RD_KAFKA_VTYPE_VALUE;
        vu[3].u.mem = {payload, m.value.size()};
        vu[4].vtype = RD_KAFKA_VTYPE_KEY;
        vu[4].u.mem = {key, m.key.size()};
        vu[5].vtype = RD_KAFKA_VTYPE_OPAQUE;
        vu[5].u.ptr = slot;
        vu[6].vtype = RD_KAFKA_VTYPE_HEADERS;
        vu[6].u.headers = headers;
        rd_kafka_error_t* error = rd_kafka_produceva(rk, vu.data(), headers != nullptr ? 7 : 6);
        const auto code = error == nullptr
                              ? RdKafka::ERR_NO_ERROR
                              : static_cast<RdKafka::ErrorCode>(rd_kafka_error_code(error));
        if (error != nullptr) rd_kafka_error_destroy(error);
        if (code == RdKafka::ERR_NO_ERROR) break;  // librdkafka owns the headers now
        if (code == RdKafka::ERR__QUEUE_FULL && std::chrono::steady_clock::now() < deadline) {
          std::this_thread::sleep_for(std::chrono::milliseconds(2));
          continue;
        }
        if (headers != nullptr) rd_kafka_headers_destroy(headers);
        slot->batch->report(i, delivery_of(code, m.topic, RdKafka::err2str(code)));
        break;
      }
    }
  }

  void send(const std::vector<OutMessage>& messages, std::chrono::milliseconds timeout) override {
    if (messages.empty()) return;
    struct Wait {
      std::mutex mutex;
      std::condition_variable cv;
      bool finished = false;
      std::string error;
    };
    auto wait = std::make_shared<Wait>();  // the callback may outlive a timed-out send
    send_async(messages, [wait](const std::vector<Delivery>& results) {
      std::lock_guard lock(wait->mutex);
      for (const auto& d : results) {
        if (!d.ok()) {
          wait->error = d.error;
          break;
        }
      }
      wait->finished = true;
      wait->cv.notify_all();
    });
    std::unique_lock lock(wait->mutex);
    if (!wait->cv.wait_for(lock, timeout, [&] { return wait->finished; }))
      throw KafkaError("Kafka did not acknowledge in time");
    if (!wait->error.empty()) throw KafkaError("Kafka refused a message: " + wait->error);
  }

  void serve_reports() override {
    served_at_.store(Clock::now().time_since_epoch().count());
    producer_->poll(0);
  }

  // The producer's handle of a topic, made once (send_async is called from several threads).
  rd_kafka_topic_t* topic_handle(const std::string& name) {
    const std::lock_guard lock(topics_mu_);
    for (const auto& [n, t] : topics_) {
      if (n == name) return t.get();
    }
    TopicHandle handle(rd_kafka_topic_new(producer_->c_ptr(), name.c_str(), nullptr));
    if (!handle) return nullptr;  // asked again next time
    return topics_.emplace_back(name, std::move(handle)).second.get();
  }

  bool connected() override {
    RdKafka::Metadata* metadata = nullptr;
    const auto code = producer_->metadata(false, nullptr, &metadata, 2000);
    delete metadata;
    return code == RdKafka::ERR_NO_ERROR;
  }

 private:
  DeliveryReports reports_;
  Events logs_;
  std::unique_ptr<RdKafka::Producer> producer_;
  struct TopicRelease {
    void operator()(rd_kafka_topic_t* t) const {
      if (t != nullptr) rd_kafka_topic_destroy(t);
    }
  };
  using TopicHandle = std::unique_ptr<rd_kafka_topic_t, TopicRelease>;
  std::mutex topics_mu_;
  std::vector<std::pair<std::string, TopicHandle>> topics_;  // released before producer_
  using Clock = std::chrono::steady_clock;
  std::atomic<Clock::rep> served_at_{0};  // the last serve_reports(), since Clock's epoch
  std::mutex poller_mu_;
  std::condition_variable poller_cv_;
  std::atomic<bool> stopping_{false};
  std::thread poller_;
};

std::vector<RdKafka::TopicPartition*> to_rd(const std::vector<Partition>& partitions) {
  std::vector<RdKafka::TopicPartition*> out;
  out.reserve(partitions.size());
  for (const auto& p : partitions)
    out.push_back(RdKafka::TopicPartition::create(p.topic, p.partition));
  return out;
}

// An asynchronous commit's result, logged when it failed (a later commit covers it).
class CommitReports : public RdKafka::OffsetCommitCb {
 public:
  void offset_commit_cb(RdKafka::ErrorCode err,
                        std::vector<RdKafka::TopicPartition*>& /*offsets*/) override {
    if (err != RdKafka::ERR_NO_ERROR && err != RdKafka::ERR__NO_OFFSET)
      log::warn("kafka commit failed", {{"error", RdKafka::err2str(err)}});
  }
};

// Cooperative (or eager) assignment, telling the listener before partitions go.
class Rebalance : public RdKafka::RebalanceCb {
 public:
  std::function<void(const std::vector<Partition>&)> revoked;
  // Joins assigned partitions' queues to the consumer's (see RdConsumer::deliver).
  std::function<void(const std::vector<RdKafka::TopicPartition*>&, bool)> deliver;
  std::vector<Partition> revoked_now;  // read by poll() to drop what it already fetched
  std::atomic<bool> assigned{false};   // an assignment came: the group's join completed once

  void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& partitions) override {
    const bool cooperative = consumer->rebalance_protocol() == "COOPERATIVE";
    if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
      assigned = true;
      if (cooperative) {
        if (auto* e = consumer->incremental_assign(partitions)) {
          log::warn("kafka assign", {{"error", e->str()}});
          delete e;
        }
      } else {
        consumer->assign(partitions);
      }
      // A partition held back in its previous assignment to this process is delivered again:
      // once detached by us, librdkafka leaves its queue's forwarding to us.
      if (deliver) deliver(partitions, true);
      return;
    }
    std::vector<Partition> gone;
    gone.reserve(partitions.size());
    for (const auto* tp : partitions)
      gone.push_back({tp->topic(), tp->partition()});
    if (revoked) revoked(gone);
    revoked_now.insert(revoked_now.end(), gone.begin(), gone.end());
    if (cooperative) {
      if (auto* e = consumer->incremental_unassign(partitions)) {
        log::warn("kafka unassign", {{"error", e->str()}});
        delete e;
      }
    } else {
      consumer->unassign();
    }
  }
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
    statistics_if_asked(*conf);
    std::string err;
    conf->set("event_cb", &logs_, err);
    conf->set("rebalance_cb", &rebalance_, err);
    conf->set("offset_commit_cb", &commits_, err);
    consumer_.reset(RdKafka::KafkaConsumer::create(conf.get(), err));
    if (!consumer_) throw KafkaError("Kafka consumer: " + err);
    consumer_queue_.reset(rd_kafka_queue_get_consumer(consumer_->c_ptr()));
    rebalance_.deliver = [this](const std::vector<RdKafka::TopicPartition*>& tps, bool on) {
      deliver(tps, on);
    };
    if (const auto code = consumer_->subscribe(topics); code != RdKafka::ERR_NO_ERROR) {
      throw KafkaError("Kafka subscribe: " + RdKafka::err2str(code));
    }
  }
  ~RdConsumer() override {
    RdConsumer::close();
    if (!rebalance_.assigned && sticky_state_destroy_aborts()) leave_to_exit();
  }
  RdConsumer(const RdConsumer&) = delete;
  RdConsumer& operator=(const RdConsumer&) = delete;

  std::vector<InMessage> poll(std::size_t max, std::chrono::milliseconds wait) override {
    std::vector<InMessage> out;
    int timeout = static_cast<int>(wait.count());
    rebalance_.revoked_now.clear();
    while (out.size() < max) {
      std::unique_ptr<RdKafka::Message> m(consumer_->consume(timeout));
      timeout = 0;  // take what is already fetched, do not wait again
      if (m->err() == RdKafka::ERR__TIMED_OUT) break;
      if (m->err() == RdKafka::ERR__PARTITION_EOF) continue;
      if (m->err() != RdKafka::ERR_NO_ERROR) {
        log::warn("kafka consume", {{"error", m->errstr()}});
        break;
      }
      if (out.empty()) out.reserve(std::min<std::size_t>(max, 64));  // one allocation per poll
      out.push_back(detail::to_in_message(*m));
    }
    // A revoke between two consume() calls: what was fetched before it is not ours any more.
    if (!rebalance_.revoked_now.empty()) {
      const auto& gone = rebalance_.revoked_now;
      std::erase_if(out, [&](const InMessage& m) {
        return std::find(gone.begin(), gone.end(), Partition{m.topic, m.partition}) != gone.end();
      });
    }
    return out;
  }

  void commit(const std::vector<InMessage>& done) override {
    if (done.empty()) return;
    // The highest offset per partition, plus one: the next message to read.
    std::map<Partition, std::int64_t> next;
    for (const auto& m : done) {
      auto& n = next[{m.topic, m.partition}];
      n = std::max(n, m.offset + 1);
    }
    std::vector<Offset> offsets;
    for (const auto& [tp, offset] : next)
      offsets.push_back({tp, offset});
    commit_offsets(offsets, true);
  }

  void commit_offsets(const std::vector<Offset>& offsets, bool sync) override {
    if (offsets.empty()) return;
    std::vector<RdKafka::TopicPartition*> rd;
    rd.reserve(offsets.size());
    for (const auto& o : offsets)
      rd.push_back(RdKafka::TopicPartition::create(o.tp.topic, o.tp.partition, o.next));
    const auto code = sync ? consumer_->commitSync(rd) : consumer_->commitAsync(rd);
    RdKafka::TopicPartition::destroy(rd);
    if (code != RdKafka::ERR_NO_ERROR) {
      if (sync) throw KafkaError("Kafka commit: " + RdKafka::err2str(code));
      log::warn("kafka commit refused", {{"error", RdKafka::err2str(code)}});
    }
  }

  // Not librdkafka's pause, which drops what it prefetched for the partition and fetches it
  // again on resume (the broker's work twice): the partition's queue is detached from the
  // consumer's, so poll() stops returning its messages while the fetcher keeps what it has and
  // stops at queued.min.messages / queued.max.messages.kbytes for that partition (memory stays
  // bounded); resume joins it again, its messages in order behind what poll() still holds. poll()
  // keeps being called meanwhile, so max.poll.interval.ms is never at stake.
  void pause(const std::vector<Partition>& partitions) override {
    auto rd = to_rd(partitions);
    deliver(rd, false);
    RdKafka::TopicPartition::destroy(rd);
  }

  void resume(const std::vector<Partition>& partitions) override {
    auto rd = to_rd(partitions);
    deliver(rd, true);
    RdKafka::TopicPartition::destroy(rd);
  }

  void deliver(const std::vector<RdKafka::TopicPartition*>& partitions, bool on) {
    for (const auto* tp : partitions) {
      // The C API: the C++ one has no handle on the consumer's own queue.
      rd_kafka_queue_t* queue =
          rd_kafka_queue_get_partition(consumer_->c_ptr(), tp->topic().c_str(), tp->partition());
      if (queue == nullptr) continue;  // not known (any more): nothing of it to deliver or hold
      rd_kafka_queue_forward(queue, on ? consumer_queue_.get() : nullptr);
      rd_kafka_queue_destroy(queue);
    }
  }

  void on_revoke(std::function<void(const std::vector<Partition>&)> revoked) override {
    rebalance_.revoked = std::move(revoked);
  }

  std::vector<PartitionPosition> positions(std::chrono::milliseconds timeout) override {
    std::vector<RdKafka::TopicPartition*> assigned;
    if (consumer_->assignment(assigned) != RdKafka::ERR_NO_ERROR) return {};
    std::vector<PartitionPosition> out;
    if (consumer_->committed(assigned, static_cast<int>(timeout.count())) ==
        RdKafka::ERR_NO_ERROR) {
      for (const auto* tp : assigned) {
        PartitionPosition p{{tp->topic(), tp->partition()}, tp->offset(), -1, -1};
        if (p.committed < 0) p.committed = -1;  // librdkafka's INVALID is -1001
        std::int64_t low = -1;
        std::int64_t high = -1;
        if (consumer_->query_watermark_offsets(tp->topic(), tp->partition(), &low, &high,
                                               static_cast<int>(timeout.count())) ==
            RdKafka::ERR_NO_ERROR) {
          p.low = low;
          p.high = high;
          out.push_back(p);
        }
      }
    }
    RdKafka::TopicPartition::destroy(assigned);
    return out;
  }

  void close() override {
    if (closed_.exchange(true)) return;
    leave_group(std::chrono::seconds(5));
    consumer_->close();
  }

 private:
  // librdkafka before 2.4.0 hangs in close() when an assignment it has queued for the rebalance
  // callback is served while the consumer closes (librdkafka#4527): a replica stopped during a
  // rebalance, when the runtime's drain has stopped polling. So the group is left first, as an
  // ordinary member does: what is queued is served, the subscription dropped and the revoke served
  // until nothing is assigned (bounded by `limit`); messages fetched meanwhile are dropped,
  // uncommitted, and the group reads them again.
  void leave_group(std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    const auto serve = [&] {
      while (std::chrono::steady_clock::now() < deadline) {
        const std::unique_ptr<RdKafka::Message> m(consumer_->consume(0));
        if (m->err() == RdKafka::ERR__TIMED_OUT) return;
      }
    };
    const auto assigned_now = [&] {
      std::vector<RdKafka::TopicPartition*> parts;
      if (consumer_->assignment(parts) != RdKafka::ERR_NO_ERROR) return false;
      const bool any = !parts.empty();
      RdKafka::TopicPartition::destroy(parts);
      return any;
    };
    serve();
    if (const auto code = consumer_->unsubscribe(); code != RdKafka::ERR_NO_ERROR) {
      log::warn("kafka unsubscribe", {{"error", RdKafka::err2str(code)}});
      return;
    }
    do {
      const std::unique_ptr<RdKafka::Message> m(consumer_->consume(20));
      serve();
    } while (assigned_now() && std::chrono::steady_clock::now() < deadline);
  }

  // librdkafka before 2.3.0 asserts, and so aborts the process, when it destroys a consumer whose
  // cooperative-sticky assignor has its group's protocol but no assignment yet (librdkafka#4312):
  // a replica stopped while it joins, as a scale-down right after a scale-up does. Debian's is
  // 2.0.2; the fault tier's scaling test met it.
  static bool sticky_state_destroy_aborts() { return rd_kafka_version() < 0x02030000; }

  // Such a consumer, closed already (left its group, nothing of it pending), is not destroyed:
  // its handle and what it calls back into are kept, reachable, until the process exits. Only
  // the log callback runs on librdkafka's own threads (the others are served by poll(), which no
  // one calls any more); it is silenced. Statistics, when PIPEWRIGHT_KAFKA_STATISTICS_MS asks
  // for them, queue up unread until then. A worker makes one consumer: one handle at most.
  void leave_to_exit() {
    rd_kafka_set_log_level(consumer_->c_ptr(), 0);
    consumer_queue_.reset();
    rebalance_.deliver = nullptr;
    rebalance_.revoked = nullptr;
    static std::mutex mu;
    static auto* kept = new std::vector<std::pair<RdKafka::KafkaConsumer*, Callbacks*>>();
    const std::lock_guard lock(mu);
    kept->emplace_back(consumer_.release(), callbacks_.release());
    log::info(
        "kafka consumer stopped before its first assignment; its handle is left to the "
        "process's exit (librdkafka#4312)",
        {{"librdkafka", rd_kafka_version_str()}});
  }

  // What librdkafka calls back into, on the heap: it outlives a handle left to exit.
  struct Callbacks {
    Events logs;
    Rebalance rebalance;
    CommitReports commits;
  };
  std::unique_ptr<Callbacks> callbacks_ = std::make_unique<Callbacks>();
  Events& logs_ = callbacks_->logs;
  Rebalance& rebalance_ = callbacks_->rebalance;
  CommitReports& commits_ = callbacks_->commits;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  struct QueueRelease {
    void operator()(rd_kafka_queue_t* q) const { rd_kafka_queue_destroy(q); }
  };
  std::unique_ptr<rd_kafka_queue_t, QueueRelease> consumer_queue_;  // goes before consumer_
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

// By value in the interface: an implementation keeps it.
// NOLINTNEXTLINE(performance-unnecessary-value-param)
void Producer::send_async(const std::vector<OutMessage>& messages, DeliveryCallback done) {
  std::vector<Delivery> results(messages.size());
  try {
    send(messages);
  } catch (const KafkaError& e) {
    for (auto& d : results)
      d.error = e.what();
  }
  if (const auto call = std::move(done)) call(std::move(results));
}

void Producer::serve_reports() {}

void Consumer::commit_offsets(const std::vector<Offset>& offsets, bool /*sync*/) {
  std::vector<InMessage> done;
  done.reserve(offsets.size());
  for (const auto& o : offsets)
    done.push_back({o.tp.topic, o.tp.partition, o.next - 1, {}, {}, {}, 0});
  commit(done);
}

void Consumer::pause(const std::vector<Partition>& /*partitions*/) {}
void Consumer::resume(const std::vector<Partition>& /*partitions*/) {}
// By value in the interface: an implementation keeps it.
// NOLINTNEXTLINE(performance-unnecessary-value-param)
void Consumer::on_revoke(std::function<void(const std::vector<Partition>&)> /*revoked*/) {}
std::vector<PartitionPosition> Consumer::positions(std::chrono::milliseconds /*timeout*/) {
  return {};
}

std::unique_ptr<Producer> make_producer(const Properties& properties) {
  return std::make_unique<RdProducer>(properties);
}

std::unique_ptr<Consumer> make_consumer(const Properties& properties, const std::string& group,
                                        const std::vector<std::string>& topics) {
  return std::make_unique<RdConsumer>(properties, group, topics);
}

}  // namespace pipewright::kafka
