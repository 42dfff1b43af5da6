#pragma once
// Reading a whole (small) topic and writing a batch atomically: what tools need that the data
// plane's group consumer and idempotent producer do not give — `pipewright dlq` reads a
// dead-letter topic from its start to its end without joining a group, and replays letters and
// records them as replayed in one Kafka transaction, so a replay happens exactly once.

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "pkg/kafka/client.h"

namespace pipewright::kafka {

// Every committed message of every partition of `topic`, from its first offset to its end at
// the time of the call (read_committed: aborted transactions never show), in partition then
// offset order. No consumer group is joined and nothing is committed. Throws KafkaError when the
// topic does not exist, holds more than `max_messages`, or cannot be read within `timeout`.
std::vector<InMessage> read_topic(const Properties& properties, const std::string& topic,
                                  std::chrono::milliseconds timeout, std::size_t max_messages);

class TransactionalProducer {
 public:
  virtual ~TransactionalProducer() = default;
  // All of the messages or none: one transaction, committed before this returns. Throws
  // KafkaError (the transaction is aborted, nothing becomes visible to read_committed readers).
  virtual void send_atomically(const std::vector<OutMessage>& messages,
                               std::chrono::milliseconds timeout) = 0;
};

// A producer with `transactional_id`; creating it fences any earlier producer with the same id
// (its open transaction is aborted), so two tools with one id never both commit.
std::unique_ptr<TransactionalProducer> make_transactional_producer(
    const Properties& properties, const std::string& transactional_id,
    std::chrono::milliseconds timeout);

}  // namespace pipewright::kafka
