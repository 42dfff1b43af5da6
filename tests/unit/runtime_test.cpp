// The worker runtime's delivery decisions, at the kafka::Producer / kafka::Consumer seam: gmock
// doubles stand where librdkafka would, so each decision (when to commit, what to resend, what to
// dead-letter, when to pause) is checked without a broker. Real Kafka runs in the integration
// tiers (orders, events, images, ...).

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "pkg/kafka/lag.h"
#include "pkg/runtime/inflight.h"
#include "pkg/runtime/runtime.h"
#include "tests/support/suite_logs.h"

namespace pipewright {
namespace {

using namespace std::chrono_literals;
using kafka::Delivery;
using kafka::InMessage;
using kafka::OutMessage;
using kafka::Partition;
using ::testing::_;
using ::testing::NiceMock;

class MockProducer : public kafka::Producer {
 public:
  MOCK_METHOD(void, send, (const std::vector<OutMessage>&, std::chrono::milliseconds), (override));
  MOCK_METHOD(void, send_async, (const std::vector<OutMessage>&, kafka::DeliveryCallback),
              (override));
  MOCK_METHOD(bool, connected, (), (override));
  MOCK_METHOD(void, serve_reports, (), (override));
};

class MockConsumer : public kafka::Consumer {
 public:
  MOCK_METHOD(std::vector<InMessage>, poll, (std::size_t, std::chrono::milliseconds), (override));
  MOCK_METHOD(void, commit, (const std::vector<InMessage>&), (override));
  MOCK_METHOD(void, commit_offsets, (const std::vector<kafka::Offset>&, bool), (override));
  MOCK_METHOD(void, pause, (const std::vector<Partition>&), (override));
  MOCK_METHOD(void, resume, (const std::vector<Partition>&), (override));
  MOCK_METHOD(void, on_revoke, (std::function<void(const std::vector<Partition>&)>), (override));
  MOCK_METHOD(std::vector<kafka::PartitionPosition>, positions, (std::chrono::milliseconds),
              (override));
  MOCK_METHOD(void, close, (), (override));
};

InMessage in(const std::string& topic, int partition, std::int64_t offset) {
  return {topic, partition, offset, "k", "v" + std::to_string(offset), {}, 0};
}

// What a broker would do for the doubles: scripted polls, recorded sends and commits; the test
// acknowledges sends when it chooses. Every method is safe from the test's and the loop's thread.
class Broker {
 public:
  struct Revoke {
    std::vector<Partition> partitions;
  };
  using Step = std::variant<std::vector<InMessage>, Revoke>;
  struct Send {
    std::vector<OutMessage> messages;
    kafka::DeliveryCallback done;
  };
  struct Commit {
    std::vector<kafka::Offset> offsets;
    bool sync;
  };

  Broker() {
    producer = new NiceMock<MockProducer>();  // owned by the Runtime
    consumer = new NiceMock<MockConsumer>();
    ON_CALL(*producer, connected()).WillByDefault(::testing::Return(true));
    ON_CALL(*producer, send_async(_, _))
        .WillByDefault([this](const std::vector<OutMessage>& m, kafka::DeliveryCallback done) {
          const std::lock_guard lock(mu_);
          sends_.push_back({m, std::move(done)});
          events_.emplace_back("send");
          cv_.notify_all();
        });
    ON_CALL(*producer, serve_reports()).WillByDefault([this] { serve(); });
    ON_CALL(*consumer, poll(_, _)).WillByDefault([this](std::size_t, std::chrono::milliseconds) {
      return poll();
    });
    ON_CALL(*consumer, commit_offsets(_, _))
        .WillByDefault([this](const std::vector<kafka::Offset>& o, bool sync) {
          const std::lock_guard lock(mu_);
          commits_.push_back({o, sync});
          events_.emplace_back(sync ? "commit-sync" : "commit");
        });
    ON_CALL(*consumer, pause(_)).WillByDefault([this](const std::vector<Partition>& p) {
      const std::lock_guard lock(mu_);
      for (const auto& tp : p)
        events_.push_back("pause " + tp.topic + "/" + std::to_string(tp.partition));
    });
    ON_CALL(*consumer, resume(_)).WillByDefault([this](const std::vector<Partition>& p) {
      const std::lock_guard lock(mu_);
      for (const auto& tp : p)
        events_.push_back("resume " + tp.topic + "/" + std::to_string(tp.partition));
    });
    ON_CALL(*consumer, on_revoke(_))
        .WillByDefault([this](std::function<void(const std::vector<Partition>&)> f) {
          const std::lock_guard lock(mu_);
          revoke_ = std::move(f);
        });
  }

  void script(Step step) {
    const std::lock_guard lock(mu_);
    steps_.push_back(std::move(step));
  }
  void event(std::string e) {
    const std::lock_guard lock(mu_);
    events_.push_back(std::move(e));
  }

  // Waits (with a deadline) until `pred` holds under the lock; false on timeout.
  bool wait(const std::function<bool()>& pred, std::chrono::milliseconds limit = 10s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, limit, pred);
  }
  // Waits until the loop polled `n` more times: it went round that often since now.
  bool rounds(int n) {
    std::unique_lock lock(mu_);
    const auto target = polls_ + n;
    return cv_.wait_for(lock, 10s, [&] { return polls_ >= target; });
  }
  bool sends_at_least(std::size_t n) {
    return wait([&] { return sends_.size() >= n; });
  }

  // Answers send i: one Delivery per message (all acknowledged when `results` is empty).
  void ack(std::size_t i, std::vector<Delivery> results = {}) {
    kafka::DeliveryCallback done;
    std::size_t count = 0;
    {
      const std::lock_guard lock(mu_);
      done = sends_.at(i).done;
      count = sends_.at(i).messages.size();
    }
    if (results.empty()) results.resize(count);
    done(std::move(results));
  }

  // Answers send i (all acknowledged) from inside the next serve_reports(), as librdkafka's
  // poll() runs its delivery reports.
  void ack_when_served(std::size_t i) {
    const std::lock_guard lock(mu_);
    to_serve_.push_back(i);
  }
  // The threads that served a report through serve_reports() and that polled the consumer.
  std::set<std::thread::id> serving_threads() {
    const std::lock_guard lock(mu_);
    return served_by_;
  }
  int serves() {
    const std::lock_guard lock(mu_);
    return serves_;
  }
  std::set<std::thread::id> polling_threads() {
    const std::lock_guard lock(mu_);
    return polled_by_;
  }

  std::vector<OutMessage> sent(std::size_t i) {
    const std::lock_guard lock(mu_);
    return sends_.at(i).messages;
  }
  std::size_t send_count() {
    const std::lock_guard lock(mu_);
    return sends_.size();
  }
  // The highest next offset committed for a partition so far, -1 when none.
  std::int64_t committed(const Partition& tp, bool sync_only = false) {
    const std::lock_guard lock(mu_);
    std::int64_t best = -1;
    for (const auto& c : commits_) {
      if (sync_only && !c.sync) continue;
      for (const auto& o : c.offsets)
        if (o.tp == tp) best = std::max(best, o.next);
    }
    return best;
  }
  std::vector<std::string> events() {
    const std::lock_guard lock(mu_);
    return events_;
  }

  NiceMock<MockProducer>* producer;
  NiceMock<MockConsumer>* consumer;

 private:
  void serve() {
    std::vector<std::size_t> due;
    {
      const std::lock_guard lock(mu_);
      ++serves_;
      due.swap(to_serve_);
      if (!due.empty()) served_by_.insert(std::this_thread::get_id());
    }
    for (const auto i : due)
      ack(i);
  }

  std::vector<InMessage> poll() {
    std::unique_lock lock(mu_);
    polled_by_.insert(std::this_thread::get_id());
    ++polls_;
    cv_.notify_all();
    if (steps_.empty()) {
      lock.unlock();
      std::this_thread::sleep_for(2ms);  // as a real poll waits a little when idle
      return {};
    }
    auto step = std::move(steps_.front());
    steps_.pop_front();
    if (auto* r = std::get_if<Revoke>(&step)) {
      auto revoke = revoke_;
      lock.unlock();
      if (revoke) revoke(r->partitions);  // inside poll, on the loop's thread, as librdkafka
      return {};
    }
    return std::get<std::vector<InMessage>>(std::move(step));
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Step> steps_;
  std::vector<Send> sends_;
  std::vector<Commit> commits_;
  std::vector<std::string> events_;
  std::function<void(const std::vector<Partition>&)> revoke_;
  int polls_ = 0;
  int serves_ = 0;
  std::vector<std::size_t> to_serve_;
  std::set<std::thread::id> served_by_, polled_by_;
};

runtime::Wiring wiring() {
  runtime::Wiring w;
  w.pipeline = "p";
  w.step = "s";
  w.inputs = {"in"};
  w.outputs = {{"out", "out"}};
  w.group = "g";
  w.bind_host = "127.0.0.1";
  w.http_port = 0;
  w.metrics_port = 0;
  w.max_attempts = 3;
  w.backoff_initial = 1ms;
  w.backoff_max = 5ms;
  return w;
}

// Sends a test leaves unanswered do not hold the stop for the real 30 s.
runtime::RuntimeOptions options() {
  runtime::RuntimeOptions o;
  o.drain_timeout = 200ms;
  o.commit_interval = 0ms;  // every round: a commit too early shows at once
  return o;
}

// A Runtime on the doubles, run() on its own thread; stopped and joined at the end.
class Running {
 public:
  explicit Running(runtime::Runtime::Handler handler, runtime::Wiring w = wiring(),
                   runtime::RuntimeOptions options = ::pipewright::options(),
                   const std::function<void(runtime::Runtime&, Broker&)>& setup = {})
      : runtime(std::move(w), nlohmann::json::object(), options,
                std::unique_ptr<kafka::Producer>(broker.producer),
                std::unique_ptr<kafka::Consumer>(broker.consumer)) {
    if (setup) setup(runtime, broker);  // before run(): the loop reads what it sets
    thread = std::thread([this, handler = std::move(handler)] { code = runtime.run(handler); });
  }
  ~Running() { stop(); }
  Running(const Running&) = delete;
  Running& operator=(const Running&) = delete;

  int stop() {
    runtime.stop();
    if (thread.joinable()) thread.join();
    return code;
  }

  Broker broker;
  runtime::Runtime runtime;
  std::thread thread;
  int code = -1;
};

runtime::Runtime::Handler echo() {
  return [](const InMessage& m) {
    return std::vector<OutMessage>{
        {"out", m.key, std::to_string(m.partition) + "/" + std::to_string(m.offset), {}}};
  };
}

const Partition kP0{"in", 0};
const Partition kP1{"in", 1};

std::string header(const OutMessage& m, const std::string& key) {
  for (const auto& h : m.headers)
    if (h.key == key) return h.value;
  return "<absent>";
}

TEST(InFlight, TheCommitPointIsTheLowestOffsetNotDone) {
  runtime::InFlight<std::string> f;
  EXPECT_FALSE(f.committable()) << "nothing taken";
  f.begin(10, "a");
  f.begin(11, "b");
  f.begin(12, "c");
  EXPECT_FALSE(f.committable()) << "the first offset taken is where the commit already is";
  f.done(12);
  f.done(11);
  EXPECT_FALSE(f.committable()) << "10 is not acknowledged yet";
  f.done(10);
  ASSERT_TRUE(f.committable());
  EXPECT_EQ(*f.committable(), 13);
  f.committed(13);
  EXPECT_FALSE(f.committable()) << "nothing new since the last commit";
  f.begin(13, "d");
  f.done(13);
  EXPECT_EQ(f.committable(), 14) << "done at once (no outputs)";
  f.committed(12);
  EXPECT_EQ(f.committable(), 14) << "the commit point never moves back";
}

TEST(InFlight, PendingCountsWhatIsNotDoneWhateverTheOrder) {
  runtime::InFlight<std::string> f;
  f.begin(5, "five");
  f.begin(6, "six");
  f.begin(7, "seven");
  f.done(6);
  f.done(6);
  f.done(9);
  f.done(3);
  EXPECT_EQ(f.pending(), 2U) << "a repeated or unknown done changes nothing";
  f.done(5);
  EXPECT_EQ(f.pending(), 1U);
  f.begin(7, "seven again");
  EXPECT_EQ(f.pending(), 1U) << "an offset taken twice is pending once";
  f.begin(4, "four");
  EXPECT_EQ(f.pending(), 2U) << "an earlier offset taken late";
  f.done(7);
  f.done(4);
  EXPECT_EQ(f.pending(), 0U);
  ASSERT_TRUE(f.committable());
  EXPECT_EQ(*f.committable(), 8);
}

// A message with nothing to send (a consumer of its own, a dead letter refused) is done when
// taken: it moves the commit point only once everything before it is acknowledged.
TEST(InFlight, AMessageWithNothingToSendIsDoneAtOnceBehindThosePending) {
  runtime::InFlight<std::string> f;
  f.begin(10, "a");
  f.skip(11);
  EXPECT_EQ(f.pending(), 1U);
  EXPECT_EQ(f.find(11), nullptr) << "nothing of it is kept";
  EXPECT_FALSE(f.committable()) << "10 is not acknowledged yet";
  f.done(10);
  ASSERT_TRUE(f.committable());
  EXPECT_EQ(*f.committable(), 12);
  f.committed(12);
  f.skip(12);
  ASSERT_TRUE(f.committable());
  EXPECT_EQ(*f.committable(), 13) << "nothing pending: it is committable at once";
}

TEST(InFlight, APendingOffsetFindsItsPayloadWhereOffsetsWereSkipped) {
  runtime::InFlight<std::string> f;
  // Compaction and transaction markers leave gaps: 20, 21, 25, 26, 40.
  for (const std::int64_t o : {20, 21, 25, 26, 40})
    f.begin(o, "at " + std::to_string(o));
  for (const std::int64_t o : {20, 21, 25, 26, 40}) {
    ASSERT_NE(f.find(o), nullptr) << o;
    EXPECT_EQ(*f.find(o), "at " + std::to_string(o));
  }
  for (const std::int64_t o : {19, 22, 24, 27, 39, 41})
    EXPECT_EQ(f.find(o), nullptr) << o << " was never taken";
  f.done(25);
  EXPECT_EQ(f.find(25), nullptr) << "done: nothing to send any more";
  ASSERT_NE(f.find(26), nullptr);
  EXPECT_EQ(*f.find(26), "at 26");
  f.begin(30, "late");
  ASSERT_NE(f.find(30), nullptr);
  EXPECT_EQ(*f.find(30), "late");
  ASSERT_NE(f.find(40), nullptr);
  EXPECT_EQ(*f.find(40), "at 40");
  f.begin(21, "again");
  EXPECT_EQ(*f.find(21), "again") << "taken again: the new payload";
}

TEST(InFlight, AnOffsetDoneAndTakenAgainIsPendingAndHoldsTheCommitBack) {
  runtime::InFlight<std::string> f;
  for (const std::int64_t o : {1, 2, 3})
    f.begin(o, "first");
  f.done(2);
  EXPECT_EQ(f.find(2), nullptr);
  f.begin(2, "second");  // a resend of an assignment's message, its entry not popped yet
  EXPECT_EQ(f.pending(), 3U) << "done, then taken again: pending once more";
  ASSERT_NE(f.find(2), nullptr);
  EXPECT_EQ(*f.find(2), "second");
  f.done(1);
  ASSERT_TRUE(f.committable());
  EXPECT_EQ(*f.committable(), 2) << "2 is not done any more: the point stops there";
  f.done(3);
  f.done(2);
  EXPECT_EQ(f.pending(), 0U);
  EXPECT_EQ(f.committable(), 4);
}

TEST(InFlight, OffsetsWithGapsAreFoundAfterTheFirstIsDone) {
  runtime::InFlight<std::string> f;
  for (const std::int64_t o : {100, 103, 104, 110, 111})
    f.begin(o, "at " + std::to_string(o));
  f.done(100);
  EXPECT_EQ(f.committable(), 103) << "the next pending offset, not one past the done one";
  for (const std::int64_t o : {103, 104, 110, 111}) {
    ASSERT_NE(f.find(o), nullptr) << o;
    EXPECT_EQ(*f.find(o), "at " + std::to_string(o));
  }
  f.done(104);
  f.done(103);
  EXPECT_EQ(f.committable(), 110) << "103 and 104 popped together";
  EXPECT_EQ(f.find(104), nullptr);
  ASSERT_NE(f.find(111), nullptr);
  EXPECT_EQ(*f.find(111), "at 111");
}

TEST(PartitionLag, HighWatermarkMinusCommittedNeverNegative) {
  EXPECT_EQ(kafka::partition_lag(5, 0, 12), 7);
  EXPECT_EQ(kafka::partition_lag(kafka::kNoOffset, 3, 12), 9) << "nothing committed: retained";
  EXPECT_EQ(kafka::partition_lag(kafka::kNoOffset, -1, 12), 12);
  EXPECT_EQ(kafka::partition_lag(15, 0, 12), 0);
  EXPECT_EQ(kafka::partition_lag(5, 0, -1), 0) << "watermark unknown";
}

// Nothing is committed before its outputs (and those of every earlier offset) are
// acknowledged, and the before-commit hook runs before the commit that covers them.
TEST(Runtime, CommitsAnOffsetOnlyOnceItAndEverythingBeforeItIsAcknowledged) {
  Running r(echo());
  r.broker.script(std::vector<InMessage>{in("in", 0, 0), in("in", 0, 1), in("in", 0, 2)});
  ASSERT_TRUE(r.broker.sends_at_least(3));
  ASSERT_TRUE(r.broker.rounds(5));
  EXPECT_EQ(r.broker.committed(kP0), -1) << "committed before any acknowledgement";
  r.broker.ack(2);
  r.broker.ack(1);
  ASSERT_TRUE(r.broker.rounds(5));
  EXPECT_EQ(r.broker.committed(kP0), -1) << "offset 0 is not acknowledged yet";
  r.broker.ack(0);
  for (int i = 0; i < 100 && r.broker.committed(kP0) != 3; ++i)
    ASSERT_TRUE(r.broker.rounds(1));
  EXPECT_EQ(r.broker.committed(kP0), 3);
  EXPECT_EQ(r.stop(), 0);
}

// librdkafka runs delivery reports inside the poll of whoever polls the producer: the loop does
// it on its own thread, so no other thread is woken per batch of reports.
TEST(Runtime, TheLoopServesTheProducersDeliveryReportsOnItsOwnThread) {
  Running r(echo());
  r.broker.script(std::vector<InMessage>{in("in", 0, 0), in("in", 0, 1)});
  ASSERT_TRUE(r.broker.sends_at_least(2));
  r.broker.ack_when_served(0);
  r.broker.ack_when_served(1);
  for (int i = 0; i < 100 && r.broker.committed(kP0) != 2; ++i)
    ASSERT_TRUE(r.broker.rounds(1));
  EXPECT_EQ(r.broker.committed(kP0), 2) << "reports left unserved";
  EXPECT_EQ(r.broker.serving_threads(), r.broker.polling_threads());
  EXPECT_EQ(r.stop(), 0);
}

// An HTTP handler's publish waits for its reports: a consume loop in a slow handler or waiting
// for Kafka must not hold them, so the producer's own thread serves them from then on.
TEST(Runtime, AfterAPublishTheLoopLeavesTheReportsToTheProducer) {
  Running r(echo());
  ASSERT_TRUE(r.broker.rounds(2));
  EXPECT_GT(r.broker.serves(), 0) << "the loop serves while it is the only sender";
  std::atomic<bool> answered{false};
  r.runtime.publish_async({{"out", "k", "v", {}}}, [&](const std::string&) { answered = true; });
  ASSERT_TRUE(r.broker.sends_at_least(1));
  ASSERT_TRUE(r.broker.rounds(2));
  const auto served = r.broker.serves();
  ASSERT_TRUE(r.broker.rounds(5));
  EXPECT_EQ(r.broker.serves(), served);
  r.broker.ack(0);
  EXPECT_TRUE(answered.load());
  EXPECT_EQ(r.stop(), 0);
}

TEST(Runtime, TheBeforeCommitHookRunsBeforeEveryCommit) {
  Running r(echo(), wiring(), {}, [](runtime::Runtime& rt, Broker& broker) {
    rt.set_before_commit([&broker] { broker.event("hook"); });
  });
  r.broker.script(std::vector<InMessage>{in("in", 0, 0)});
  ASSERT_TRUE(r.broker.sends_at_least(1));
  r.broker.ack(0);
  for (int i = 0; i < 100 && r.broker.committed(kP0) != 1; ++i)
    ASSERT_TRUE(r.broker.rounds(1));
  ASSERT_EQ(r.broker.committed(kP0), 1);
  const auto events = r.broker.events();
  const auto commit = std::find(events.begin(), events.end(), "commit");
  ASSERT_NE(commit, events.end());
  EXPECT_NE(std::find(events.begin(), commit, "hook"), commit) << "commit before the hook";
  r.stop();
}

TEST(Runtime, AcknowledgementsOutOfOrderAcrossPartitionsCommitEachPartitionOnItsOwn) {
  Running r(echo());
  r.broker.script(
      std::vector<InMessage>{in("in", 0, 0), in("in", 1, 0), in("in", 0, 1), in("in", 1, 1)});
  ASSERT_TRUE(r.broker.sends_at_least(4));
  std::map<std::string, std::size_t> send_of;  // "partition/offset" -> send
  for (std::size_t i = 0; i < 4; ++i)
    send_of[r.broker.sent(i).at(0).value] = i;
  r.broker.ack(send_of.at("1/1"));
  r.broker.ack(send_of.at("1/0"));
  r.broker.ack(send_of.at("0/1"));
  for (int i = 0; i < 100 && r.broker.committed(kP1) != 2; ++i)
    ASSERT_TRUE(r.broker.rounds(1));
  EXPECT_EQ(r.broker.committed(kP1), 2);
  EXPECT_EQ(r.broker.committed(kP0), -1) << "p0's offset 0 is still in flight";
  r.broker.ack(send_of.at("0/0"));
  for (int i = 0; i < 100 && r.broker.committed(kP0) != 2; ++i)
    ASSERT_TRUE(r.broker.rounds(1));
  EXPECT_EQ(r.broker.committed(kP0), 2);
}

// A message too large (or a topic gone): no resend can fix it. The input goes to the dead-letter
// topic at once with the error, and the partition goes on.
TEST(Runtime, APermanentProduceErrorDeadLettersTheInputAndThePartitionGoesOn) {
  Running r(echo());
  r.broker.script(std::vector<InMessage>{in("in", 0, 0), in("in", 0, 1)});
  ASSERT_TRUE(r.broker.sends_at_least(2));
  r.broker.ack(0, {Delivery{"out: Broker: Message size too large", true}});
  ASSERT_TRUE(r.broker.sends_at_least(3));
  const auto dlq = r.broker.sent(2);
  ASSERT_EQ(dlq.size(), 1U);
  EXPECT_EQ(dlq[0].topic, "in.dlq");
  EXPECT_EQ(dlq[0].value, "v0") << "the input, not the output, is dead-lettered";
  EXPECT_NE(header(dlq[0], "pipewright-error").find("Message size too large"), std::string::npos)
      << header(dlq[0], "pipewright-error");
  EXPECT_EQ(header(dlq[0], "pipewright-source"), "in/0/0");
  EXPECT_EQ(header(dlq[0], "pipewright-attempt"), "1");
  r.broker.ack(1);
  r.broker.ack(2);
  for (int i = 0; i < 100 && r.broker.committed(kP0) != 2; ++i)
    ASSERT_TRUE(r.broker.rounds(1));
  EXPECT_EQ(r.broker.committed(kP0), 2);
  ASSERT_TRUE(r.broker.rounds(5));
  EXPECT_EQ(r.broker.send_count(), 3U) << "the refused output was sent again";
}

// A transient failure of one output of two: only that one is sent again.
TEST(Runtime, ATransientProduceErrorResendsOnlyWhatWasNotAcknowledged) {
  Running r([](const InMessage& m) {
    return std::vector<OutMessage>{{"out", m.key, "a", {}}, {"out", m.key, "b", {}}};
  });
  r.broker.script(std::vector<InMessage>{in("in", 0, 0)});
  ASSERT_TRUE(r.broker.sends_at_least(1));
  r.broker.ack(0, {Delivery{}, Delivery{"out: Local: Message timed out", false}});
  ASSERT_TRUE(r.broker.sends_at_least(2));
  const auto again = r.broker.sent(1);
  ASSERT_EQ(again.size(), 1U) << "the acknowledged output was sent again";
  EXPECT_EQ(again[0].value, "b");
  ASSERT_TRUE(r.broker.rounds(5));
  EXPECT_EQ(r.broker.committed(kP0), -1) << "committed before 'b' was acknowledged";
  r.broker.ack(1);
  for (int i = 0; i < 100 && r.broker.committed(kP0) != 1; ++i)
    ASSERT_TRUE(r.broker.rounds(1));
  EXPECT_EQ(r.broker.committed(kP0), 1);
}

// A revoke between two polls: the acknowledged part is committed while the partition is still
// ours, the rest forgotten (never committed later, its unprocessed messages never handled).
TEST(Runtime, ARevokeCommitsWhatIsAcknowledgedAndDropsTheRest) {
  std::mutex mu;
  std::vector<std::string> handled;
  Running r([&](const InMessage& m) {
    {
      const std::lock_guard lock(mu);
      handled.push_back(std::to_string(m.partition) + "/" + std::to_string(m.offset));
    }
    return std::vector<OutMessage>{{"out", m.key, m.value, {}}};
  });
  r.broker.script(std::vector<InMessage>{in("in", 0, 0), in("in", 0, 1)});
  ASSERT_TRUE(r.broker.sends_at_least(2));
  r.broker.ack(0);
  ASSERT_TRUE(r.broker.rounds(3));
  r.broker.script(Broker::Revoke{{kP0}});
  r.broker.script(std::vector<InMessage>{in("in", 1, 0)});
  ASSERT_TRUE(r.broker.sends_at_least(3));
  EXPECT_EQ(r.broker.committed(kP0), 1) << "the acknowledged offset 0 was not committed";
  r.broker.ack(1);  // p0/1, acknowledged after the partition went
  r.broker.ack(2);
  for (int i = 0; i < 100 && r.broker.committed(kP1) != 1; ++i)
    ASSERT_TRUE(r.broker.rounds(1));
  EXPECT_EQ(r.broker.committed(kP1), 1);
  EXPECT_EQ(r.broker.committed(kP0), 1) << "a revoked partition's offset was committed";
  EXPECT_EQ(r.stop(), 0);
  EXPECT_EQ(r.broker.committed(kP0), 1);
}

// A partition revoked and assigned again: the old assignment's late acknowledgement of an
// offset does not count for the new assignment's send of it; only the new one's moves the commit.
TEST(Runtime, AnAcknowledgementFromBeforeARevokeDoesNotCommitTheReassignedPartition) {
  Running r(echo());
  r.broker.script(std::vector<InMessage>{in("in", 0, 0), in("in", 0, 1)});
  ASSERT_TRUE(r.broker.sends_at_least(2));
  r.broker.ack(0);
  ASSERT_TRUE(r.broker.rounds(3));
  r.broker.script(Broker::Revoke{{kP0}});
  r.broker.script(std::vector<InMessage>{in("in", 0, 1)});  // read again from the commit
  ASSERT_TRUE(r.broker.sends_at_least(3));
  EXPECT_EQ(r.broker.committed(kP0), 1);
  r.broker.ack(1);  // the first assignment's send of p0/1
  ASSERT_TRUE(r.broker.rounds(5));
  EXPECT_EQ(r.broker.committed(kP0), 1) << "committed on the old assignment's acknowledgement";
  r.broker.ack(2);  // the new assignment's
  for (int i = 0; i < 100 && r.broker.committed(kP0) != 2; ++i)
    ASSERT_TRUE(r.broker.rounds(1));
  EXPECT_EQ(r.broker.committed(kP0), 2);
  EXPECT_EQ(r.stop(), 0);
}

// A failing handler does not sleep the loop: its partition is paused until the retry, the
// others are handled meanwhile, and the partition resumes.
TEST(Runtime, ARetryPausesItsPartitionWhileTheOthersGoOn) {
  std::mutex mu;
  std::vector<std::string> calls;
  int failures = 0;
  auto w = wiring();
  w.backoff_initial = 300ms;
  w.backoff_max = 300ms;
  Running r(
      [&](const InMessage& m) {
        const std::lock_guard lock(mu);
        calls.push_back(std::to_string(m.partition) + "/" + std::to_string(m.offset));
        if (m.partition == 0 && failures++ == 0) throw std::runtime_error("flaky");
        return std::vector<OutMessage>{{"out", m.key, m.value, {}}};
      },
      w);
  r.broker.script(std::vector<InMessage>{in("in", 0, 0), in("in", 1, 0)});
  ASSERT_TRUE(r.broker.sends_at_least(2));
  {
    const std::lock_guard lock(mu);
    EXPECT_EQ(calls, (std::vector<std::string>{"0/0", "1/0", "0/0"}))
        << "partition 1 waited for partition 0's retry";
  }
  const auto resumed = [&] {
    const auto events = r.broker.events();
    const auto pause = std::find(events.begin(), events.end(), "pause in/0");
    return pause != events.end() && std::find(pause, events.end(), "resume in/0") != events.end();
  };
  for (int i = 0; i < 100 && !resumed(); ++i)
    ASSERT_TRUE(r.broker.rounds(1));
  EXPECT_TRUE(resumed()) << "the failing partition was not paused, then resumed";
  const auto events = r.broker.events();
  EXPECT_EQ(std::count(events.begin(), events.end(), "pause in/1"), 0);
}

// A handler that notes each message it handles among the broker's events (after "send"s).
struct Noting {
  Broker* broker = nullptr;  // set by setup(), before the loop runs
  runtime::Runtime::Handler handler() {
    return [this](const InMessage& m) {
      broker->event("handled");
      return std::vector<OutMessage>{{"out", m.key, m.value, {}}};
    };
  }
  std::function<void(runtime::Runtime&, Broker&)> setup() {
    return [this](runtime::Runtime&, Broker& b) { broker = &b; };
  }
};

std::vector<InMessage> batch_of(int partition, std::int64_t first, int n) {
  std::vector<InMessage> out;
  for (int i = 0; i < n; ++i)
    out.push_back(in("in", partition, first + i));
  return out;
}

// Behind its input (polls come back full) the loop hands the outputs to the producer in one
// burst once it has caught up: Kafka gets a few large produce requests, not one per message.
TEST(Runtime, BehindItsInputTheLoopSendsTheOutputsInOneBurst) {
  auto o = options();
  o.batch = 4;
  o.output_linger = 60s;
  Noting noting;
  Running r(noting.handler(), wiring(), o, noting.setup());
  r.broker.script(batch_of(0, 0, 4));
  r.broker.script(batch_of(1, 0, 4));
  r.broker.script(batch_of(0, 4, 4));
  r.broker.script(batch_of(1, 4, 2));  // short: caught up
  ASSERT_TRUE(r.broker.sends_at_least(14));
  const auto events = r.broker.events();
  const auto first_send = std::find(events.begin(), events.end(), "send");
  EXPECT_EQ(std::count(events.begin(), first_send, "handled"), 14)
      << "outputs were sent while more input was ready";
  for (std::size_t i = 0; i < 14; ++i)
    r.broker.ack(i);
  for (int i = 0; i < 100 && r.broker.committed(kP1) != 6; ++i)
    ASSERT_TRUE(r.broker.rounds(1));
  EXPECT_EQ(r.broker.committed(kP0), 8);
  EXPECT_EQ(r.broker.committed(kP1), 6);
}

// A step keeping up with its input adds no latency: each output goes as soon as it is made.
TEST(Runtime, CaughtUpTheLoopSendsEachOutputAtOnce) {
  auto o = options();
  o.output_linger = 60s;
  Running r(echo(), wiring(), o);
  r.broker.script(std::vector<InMessage>{in("in", 0, 0)});
  EXPECT_TRUE(r.broker.sends_at_least(1)) << "the output waited for the linger";
}

// However long the backlog, no output is held longer than the linger.
TEST(Runtime, BehindItsInputTheLoopHoldsOutputsNoLongerThanTheLinger) {
  auto o = options();
  o.batch = 1;
  o.output_linger = 20ms;
  Noting noting;
  Running r(
      [&](const InMessage& m) {
        std::this_thread::sleep_for(2ms);  // 50 messages: a backlog of at least 100 ms
        return noting.handler()(m);
      },
      wiring(), o, noting.setup());
  for (int i = 0; i < 50; ++i)
    r.broker.script(batch_of(0, i, 1));
  ASSERT_TRUE(r.broker.sends_at_least(50));
  const auto events = r.broker.events();
  const auto first_send = std::find(events.begin(), events.end(), "send");
  EXPECT_LT(std::count(events.begin(), first_send, "handled"), 50)
      << "outputs were held for the whole backlog";
}

TEST(Runtime, AfterTheLastAttemptTheInputIsDeadLetteredWithItsAttempts) {
  Running r(
      [](const InMessage&) -> std::vector<OutMessage> { throw std::runtime_error("always"); });
  r.broker.script(std::vector<InMessage>{in("in", 0, 0)});
  ASSERT_TRUE(r.broker.sends_at_least(1));
  const auto dlq = r.broker.sent(0).at(0);
  EXPECT_EQ(dlq.topic, "in.dlq");
  EXPECT_EQ(header(dlq, "pipewright-attempt"), "3");
  EXPECT_EQ(header(dlq, "pipewright-error"), "always");
}

// SIGTERM (stop): what was sent is waited for and committed before run() returns.
TEST(Runtime, StopDrainsInFlightOutputsAndCommitsThem) {
  auto o = options();
  o.drain_timeout = 30s;
  Running r(echo(), wiring(), o);
  r.broker.script(std::vector<InMessage>{in("in", 0, 0)});
  ASSERT_TRUE(r.broker.sends_at_least(1));
  std::thread acker([&] {
    std::this_thread::sleep_for(200ms);  // after stop() below: the drain must wait for it
    r.broker.ack(0);
  });
  const int code = r.stop();
  acker.join();
  EXPECT_EQ(code, 0);
  EXPECT_EQ(r.broker.committed(kP0, true), 1) << "run() returned without the drained commit";
}

TEST(Runtime, ExportsConsumerLagPerAssignedPartitionAndForgetsRevokedOnes) {
  auto o = options();
  o.lag_interval = 10ms;
  std::mutex mu;
  std::vector<kafka::PartitionPosition> positions = {{kP0, 5, 0, 12}, {kP1, -1, 3, 10}};
  Running r(echo(), wiring(), o, [&](runtime::Runtime&, Broker& broker) {
    ON_CALL(*broker.consumer, positions(_)).WillByDefault([&](std::chrono::milliseconds) {
      const std::lock_guard lock(mu);
      return positions;
    });
  });
  const auto lag = [&](const std::string& partition) -> double {
    for (const auto& family : r.runtime.registry()->Collect()) {
      if (family.name != "pipewright_consumer_lag") continue;
      for (const auto& metric : family.metric) {
        std::map<std::string, std::string> labels;
        for (const auto& l : metric.label)
          labels[l.name] = l.value;
        if (labels["partition"] == partition && labels["topic"] == "in" &&
            labels["pipeline"] == "p" && labels["step"] == "s")
          return metric.gauge.value;
      }
    }
    return -1;
  };
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while ((lag("0") != 7 || lag("1") != 7) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(5ms);
  EXPECT_EQ(lag("0"), 7);
  EXPECT_EQ(lag("1"), 7) << "nothing committed: what is retained (10 - 3)";
  {
    const std::lock_guard lock(mu);
    positions = {{kP1, 8, 3, 10}};
  }
  while ((lag("0") != -1 || lag("1") != 2) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(5ms);
  EXPECT_EQ(lag("0"), -1) << "a revoked partition's gauge stayed";
  EXPECT_EQ(lag("1"), 2);
  r.stop();
}

// The message counters are looked up once per topic and then reused (no label lookup per
// message): each topic's count must still be its own, over many messages and both directions.
TEST(Runtime, CountsConsumedAndProducedMessagesPerTopic) {
  auto w = wiring();
  w.inputs = {"in", "in2"};
  w.outputs = {{"out", "out"}, {"side", "side"}};
  Running r(
      [](const InMessage& m) {
        std::vector<OutMessage> out{{"out", m.key, m.value, {}}};
        if (m.topic == "in2") out.push_back({"side", m.key, m.value, {}});
        return out;
      },
      w);
  std::vector<InMessage> batch;
  for (int i = 0; i < 5; ++i)
    batch.push_back(in("in", 0, i));
  for (int i = 0; i < 3; ++i)
    batch.push_back(in("in2", 0, i));
  r.broker.script(batch);
  ASSERT_TRUE(r.broker.sends_at_least(8));
  for (std::size_t i = 0; i < 8; ++i)
    r.broker.ack(i);
  const auto count = [&](const std::string& name, const std::string& topic) -> double {
    for (const auto& family : r.runtime.registry()->Collect()) {
      if (family.name != name) continue;
      for (const auto& metric : family.metric) {
        std::map<std::string, std::string> labels;
        for (const auto& l : metric.label)
          labels[l.name] = l.value;
        if (labels["topic"] == topic && labels["pipeline"] == "p" && labels["step"] == "s")
          return metric.counter.value;
      }
    }
    return 0;
  };
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while ((count("pipewright_messages_produced_total", "out") != 8 ||
          count("pipewright_messages_produced_total", "side") != 3) &&
         std::chrono::steady_clock::now() < deadline)
    ASSERT_TRUE(r.broker.rounds(1));
  EXPECT_EQ(count("pipewright_messages_consumed_total", "in"), 5);
  EXPECT_EQ(count("pipewright_messages_consumed_total", "in2"), 3);
  EXPECT_EQ(count("pipewright_messages_produced_total", "out"), 8);
  EXPECT_EQ(count("pipewright_messages_produced_total", "side"), 3);
  r.stop();
}

}  // namespace
}  // namespace pipewright
