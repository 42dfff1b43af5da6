#pragma once
// A test fixture whose suite shares one real Kafka broker (started once, torn down after).

#include <gtest/gtest.h>

#include "pkg/local/kafka_broker.h"
#include "tests/support/shared.h"
#include "tests/support/suite_logs.h"

namespace pipewright::testing {

class KafkaSuite : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    broker.start([] { return local::KafkaBroker::start({component_dir("kafka")}); });
  }
  static void TearDownTestSuite() { broker.reset(); }
  void SetUp() override { ASSERT_TRUE(broker) << broker.error; }
  static inline Shared<local::KafkaBroker> broker;
};

}  // namespace pipewright::testing
