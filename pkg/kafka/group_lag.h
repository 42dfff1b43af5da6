#pragma once
// What the operator reads from Kafka to say whether a step keeps up: a consumer group's
// committed offsets (Admin API ListConsumerGroupOffsets) against the partitions' watermarks.
// A small interface, so the controller's decisions are tested with a fake.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "pkg/kafka/lag.h"

namespace pipewright::kafka {

struct PartitionOffsets {
  std::string topic;
  int partition = 0;
  std::int64_t committed = kNoOffset;  // the group's; kNoOffset when it committed nothing
  std::int64_t low = 0, high = 0;      // watermarks
};

class OffsetReader {
 public:
  virtual ~OffsetReader() = default;
  // Every partition of `topics` with its watermarks and, when `group` is not empty, the group's
  // committed offset. A topic that does not exist has no partitions. Throws std::runtime_error
  // when Kafka does not answer within the reader's timeout (one deadline for the whole call).
  virtual std::vector<PartitionOffsets> offsets(const std::string& group,
                                                const std::vector<std::string>& topics) = 0;
};

// Sum of partition_lag (lag.h) over the partitions.
std::int64_t total_lag(const std::vector<PartitionOffsets>& partitions);
// Sum of high - low: the messages the partitions still hold (a dead-letter topic's depth).
std::int64_t retained(const std::vector<PartitionOffsets>& partitions);

// librdkafka settings as a worker's (bootstrap.servers, SASL, TLS). Throws std::runtime_error
// naming a refused setting (never its value).
std::unique_ptr<OffsetReader> make_offset_reader(
    const std::map<std::string, std::string>& properties,
    std::chrono::milliseconds timeout = std::chrono::seconds(5));

}  // namespace pipewright::kafka
