// bench_relay: the peer of a Kafka-only hop. Consumes IN, produces each message's key and value
// to OUT, and commits an input offset only once its copy and every earlier message of its
// partition are acknowledged (acks=all, idempotent producer), asynchronously, so consuming,
// producing and committing overlap. No parsing, no rules: what librdkafka alone costs.
//
// With ALSO, each message is copied to that topic too, for a step that writes two outputs per
// input (fraud: its decision, and a notification to a topic nobody times), so both sides hand
// Kafka the same number of messages.
//
// With --headers first, each copy carries the input's headers too (a binary-mode CloudEvent's
// attributes: a relay that keeps the whole event).
//
// Usage: bench_relay [--headers] BOOTSTRAP IN OUT GROUP [ALSO]   (stops on SIGTERM/SIGINT,
// flushing and committing)

#include <array>
#include <chrono>
#include <cstdio>
#include <deque>
#include <iostream>
#include <map>
#include <utility>
#include <vector>

#include <librdkafka/rdkafka.h>

#include "bench/peers/peer.h"

namespace pipewright::bench::peer {
namespace {

using Clock = std::chrono::steady_clock;

struct Slot {
  std::int64_t offset = 0;
  int unacked = 1;  // copies not acknowledged yet
  bool acked() const { return unacked == 0; }
};

// One input partition's messages whose copies are in flight, oldest first. std::deque keeps
// references to its elements across push_back and pop_front, so a delivery report can hold one.
struct Partition {
  std::deque<Slot> in_flight;
  std::int64_t commit = -1;  // next offset to commit; -1: nothing new
};

using Partitions = std::map<std::pair<std::string, std::int32_t>, Partition>;

class Reports : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& m) override {
    auto* slot = static_cast<Slot*>(m.msg_opaque());
    if (m.err() != RdKafka::ERR_NO_ERROR) {
      // Nothing retryable is left once the idempotent producer gives up: stop without
      // committing the input, as the workers would not commit it either.
      std::cerr << R"({"level":"error","msg":"copy not delivered","error":")" << m.errstr()
                << "\"}\n";
      std::_Exit(1);
    }
    --slot->unacked;
  }
};

// Moves each partition's commit point past its acknowledged prefix.
void advance(Partitions& parts) {
  for (auto& [key, p] : parts) {
    while (!p.in_flight.empty() && p.in_flight.front().acked()) {
      p.commit = p.in_flight.front().offset + 1;
      p.in_flight.pop_front();
    }
  }
}

void commit(RdKafka::KafkaConsumer& consumer, Partitions& parts, bool sync) {
  std::vector<RdKafka::TopicPartition*> offsets;
  for (auto& [key, p] : parts) {
    if (p.commit < 0) continue;
    offsets.push_back(RdKafka::TopicPartition::create(key.first, key.second, p.commit));
    p.commit = -1;
  }
  if (offsets.empty()) return;
  if (sync) {
    consumer.commitSync(offsets);
  } else {
    consumer.commitAsync(offsets);
  }
  RdKafka::TopicPartition::destroy(offsets);
}

// Before partitions go, everything in flight is acknowledged and committed (eager protocol).
class Rebalance : public RdKafka::RebalanceCb {
 public:
  Rebalance(RdKafka::Producer*& producer, Partitions& parts) : producer_(producer), parts_(parts) {}
  void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& partitions) override {
    if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
      consumer->assign(partitions);
      return;
    }
    if (producer_ != nullptr) producer_->flush(60000);
    advance(parts_);
    commit(*consumer, parts_, true);
    parts_.clear();
    consumer->unassign();
  }

 private:
  RdKafka::Producer*& producer_;
  Partitions& parts_;
};

// A copy of `m` (key, value, timestamp and its headers, copied with librdkafka's own
// rd_kafka_headers_copy) to `topic`; librdkafka owns the copied headers once it is queued.
RdKafka::ErrorCode produce_with_headers(RdKafka::Producer& producer, const std::string& topic,
                                        RdKafka::Message& m, Slot* slot) {
  rd_kafka_headers_t* in = nullptr;
  rd_kafka_headers_t* copy = nullptr;
  if (rd_kafka_message_headers(m.c_ptr(), &in) == RD_KAFKA_RESP_ERR_NO_ERROR)
    copy = rd_kafka_headers_copy(in);
  std::array<rd_kafka_vu_t, 7> vu{};
  vu[0].vtype = RD_KAFKA_VTYPE_TOPIC;
  vu[0].u.cstr = topic.c_str();
  vu[1].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
  vu[1].u.i = RD_KAFKA_MSG_F_COPY;
  vu[2].vtype = RD_KAFKA_VTYPE_VALUE;
  vu[2].u.mem = {m.payload(), m.len()};
  vu[3].vtype = RD_KAFKA_VTYPE_KEY;
  vu[3].u.mem = {const_cast<void*>(m.key_pointer()), m.key_len()};
  vu[4].vtype = RD_KAFKA_VTYPE_TIMESTAMP;
  vu[4].u.i64 = m.timestamp().timestamp;
  vu[5].vtype = RD_KAFKA_VTYPE_OPAQUE;
  vu[5].u.ptr = slot;
  vu[6].vtype = RD_KAFKA_VTYPE_HEADERS;
  vu[6].u.headers = copy;
  rd_kafka_error_t* error =
      rd_kafka_produceva(producer.c_ptr(), vu.data(), copy != nullptr ? 7 : 6);
  const auto code = error == nullptr ? RD_KAFKA_RESP_ERR_NO_ERROR : rd_kafka_error_code(error);
  if (error != nullptr) rd_kafka_error_destroy(error);
  if (code != RD_KAFKA_RESP_ERR_NO_ERROR && copy != nullptr) rd_kafka_headers_destroy(copy);
  return static_cast<RdKafka::ErrorCode>(code);
}

int run(const std::string& bootstrap, const std::string& in, const std::string& out,
        const std::string& group, const std::string& also, bool headers) {
  Partitions parts;
  RdKafka::Producer* producer_ptr = nullptr;
  Rebalance rebalance(producer_ptr, parts);
  auto cc = conf(bootstrap);
  set(*cc, "group.id", group);
  set(*cc, "enable.auto.commit", "false");
  set(*cc, "auto.offset.reset", "earliest");
  std::string err;
  cc->set("rebalance_cb", &rebalance, err);
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(cc.get(), err));
  if (!consumer) throw std::runtime_error("consumer: " + err);

  Reports reports;
  auto pc = conf(bootstrap);
  producer_settings(*pc);
  pc->set("dr_cb", &reports, err);
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(pc.get(), err));
  if (!producer) throw std::runtime_error("producer: " + err);
  producer_ptr = producer.get();

  consumer->subscribe({in});
  auto next_commit = Clock::now();
  while (!stopping()) {
    std::unique_ptr<RdKafka::Message> m(consumer->consume(5));
    producer->poll(0);
    if (m->err() == RdKafka::ERR_NO_ERROR) {
      auto& p = parts[{m->topic_name(), m->partition()}];
      std::vector<const std::string*> targets{&out};
      if (!also.empty()) targets.push_back(&also);
      auto& slot = p.in_flight.emplace_back(Slot{m->offset(), static_cast<int>(targets.size())});
      for (const auto* target : targets) {
        for (;;) {
          const auto code = headers
                                ? produce_with_headers(*producer, *target, *m, &slot)
                                : producer->produce(*target, RdKafka::Topic::PARTITION_UA,
                                                    RdKafka::Producer::RK_MSG_COPY, m->payload(),
                                                    m->len(), m->key_pointer(), m->key_len(),
                                                    m->timestamp().timestamp, &slot);
          if (code == RdKafka::ERR_NO_ERROR) break;
          if (code != RdKafka::ERR__QUEUE_FULL)
            throw std::runtime_error("produce: " + RdKafka::err2str(code));
          producer->poll(10);
        }
      }
    }
    // Commit every 20 ms at most, like a consumer with auto commit would, but only what is
    // acknowledged.
    if (Clock::now() >= next_commit) {
      advance(parts);
      commit(*consumer, parts, false);
      next_commit = Clock::now() + std::chrono::milliseconds(20);
    }
  }
  producer->flush(60000);
  advance(parts);
  commit(*consumer, parts, true);
  consumer->close();
  return 0;
}

}  // namespace
}  // namespace pipewright::bench::peer

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  const bool headers = !args.empty() && args[0] == "--headers";
  if (headers) args.erase(args.begin());
  if (args.size() != 4 && args.size() != 5) {
    std::cout << "usage: bench_relay [--headers] BOOTSTRAP IN OUT GROUP [ALSO]\n"
                 "Copies every message of IN to OUT (and to ALSO when given; acks=all,\n"
                 "idempotent) and commits an input offset only after its copies are\n"
                 "acknowledged. --headers: the copies carry the input's headers too.\n"
                 "Stops on SIGTERM or SIGINT.\n";
    return args.size() == 1 && (args[0] == "--help" || args[0] == "-h") ? 0 : 2;
  }
  pipewright::bench::peer::install_stop_signals();
  try {
    return pipewright::bench::peer::run(args[0], args[1], args[2], args[3],
                                        args.size() == 5 ? args[4] : std::string(), headers);
  } catch (const std::exception& e) {
    std::cerr << R"({"level":"error","msg":"bench_relay failed","error":")" << e.what() << "\"}\n";
    return 1;
  }
}
