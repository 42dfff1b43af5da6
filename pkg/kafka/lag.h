#pragma once
// Consumer lag of one partition, the one rule every reader of lag uses (the worker's
// pipewright_consumer_lag gauge, the operator's status.steps[].lag, local mode's dashboard).
// As KEDA's Kafka scaler computes it: high watermark minus the group's committed offset. A group
// that has committed nothing yet reads from the earliest offset (our consumers' reset policy), so
// its lag is what is still retained (high - low); KEDA counts the whole high watermark there,
// which overstates lag once retention has deleted the head of the log.

#include <algorithm>
#include <cstdint>

namespace pipewright::kafka {

inline constexpr std::int64_t kNoOffset = -1;  // librdkafka's RD_KAFKA_OFFSET_INVALID

// Never negative: a committed offset past the watermark (read before the watermark was) is 0.
inline std::int64_t partition_lag(std::int64_t committed, std::int64_t low, std::int64_t high) {
  if (high < 0) return 0;
  const std::int64_t from = committed < 0 ? std::max<std::int64_t>(low, 0) : committed;
  return std::max<std::int64_t>(0, high - from);
}

}  // namespace pipewright::kafka
