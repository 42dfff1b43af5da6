#include <gtest/gtest.h>
#include <thread>

#include "pkg/controller/workqueue.h"

namespace pipewright::controller {
namespace {

using std::chrono::milliseconds;

TEST(WorkQueue, AKeyIsQueuedOnce) {
  WorkQueue q;
  q.add("demo/a");
  q.add("demo/a");
  q.add("demo/b");
  EXPECT_EQ(q.depth(), 2u);
  EXPECT_EQ(q.get(milliseconds(10)), "demo/a");
  EXPECT_EQ(q.get(milliseconds(10)), "demo/b");
  EXPECT_EQ(q.get(milliseconds(10)), std::nullopt);
}

TEST(WorkQueue, AKeyAddedWhileProcessedComesBackAfterDoneNotBefore) {
  WorkQueue q;
  q.add("k");
  ASSERT_EQ(q.get(milliseconds(10)), "k");
  q.add("k");
  EXPECT_EQ(q.get(milliseconds(20)), std::nullopt) << "handed out twice at once";
  q.done("k");
  EXPECT_EQ(q.get(milliseconds(10)), "k");
}

TEST(WorkQueue, FailuresBackOffExponentiallyAndForgetResets) {
  WorkQueue q(milliseconds(40), milliseconds(1000));
  // Timed from before the add: a thread preempted between the add and its clock reading would
  // otherwise measure less than the delay it waited (39 ms of 40, truncated).
  const auto timed_get = [&](WorkQueue::Clock::time_point start) {
    const auto key = q.get(milliseconds(5000));
    EXPECT_EQ(key, "k");
    q.done("k");
    return std::chrono::duration_cast<milliseconds>(WorkQueue::Clock::now() - start);
  };
  auto start = WorkQueue::Clock::now();
  q.add_rate_limited("k");
  const auto first = timed_get(start);
  start = WorkQueue::Clock::now();
  q.add_rate_limited("k");
  q.add_rate_limited("k");  // queued once; the failure count still grows
  const auto second = timed_get(start);
  EXPECT_GE(first, milliseconds(40));
  EXPECT_GE(second, milliseconds(80));
  EXPECT_EQ(q.failures("k"), 3);
  q.forget("k");
  EXPECT_EQ(q.failures("k"), 0);
}

TEST(WorkQueue, DelayedRetriesOfOneKeyDoNotPileUp) {
  WorkQueue q;
  q.add_after("k", milliseconds(30));
  q.add_after("k", milliseconds(10));  // earlier: replaces the first
  q.add_after("k", milliseconds(50));  // later: dropped
  EXPECT_EQ(q.get(milliseconds(1000)), "k");
  q.done("k");
  EXPECT_EQ(q.get(milliseconds(150)), std::nullopt) << "a second retry chain fired";
}

TEST(WorkQueue, ShutdownWakesAWaitingWorker) {
  WorkQueue q;
  std::optional<std::string> got = "sentinel";
  std::thread worker([&] { got = q.get(milliseconds(60000)); });
  q.shutdown();
  worker.join();
  EXPECT_EQ(got, std::nullopt);
}

}  // namespace
}  // namespace pipewright::controller
