#pragma once
// The data plane's doors to Kafka: a producer that waits for acknowledgements and a consumer
// that commits only what the caller says is done. Small interfaces, librdkafka behind them
// (idempotent producer, acks=all, manual commits), so the worker runtime can be tested at the
// seam and every worker shares one delivery discipline (SPEC section 5).

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace pipewright::kafka {

// librdkafka properties: bootstrap.servers plus what a Secret adds (security.protocol,
// sasl.*, ssl.*), one property per file in the mounted Secret's folder.
using Properties = std::map<std::string, std::string>;

// {"bootstrap.servers": bootstrap} plus every regular file of `secret_dir` (file name = property,
// content without trailing newline = value). An empty dir adds nothing. Throws
// std::runtime_error when `secret_dir` is set but cannot be read.
Properties client_properties(const std::string& bootstrap,
                             const std::filesystem::path& secret_dir = {});

struct Header {
  std::string key, value;
};

struct OutMessage {
  std::string topic, key, value;
  std::vector<Header> headers;
};

struct InMessage {
  std::string topic;
  int partition = 0;
  std::int64_t offset = 0;
  std::string key, value;
  std::vector<Header> headers;
  std::int64_t timestamp_ms = 0;
};

class KafkaError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Producer {
 public:
  virtual ~Producer() = default;
  // Sends every message and returns once all are acknowledged by all in-sync replicas. Throws
  // KafkaError naming the first failure (or a timeout); messages of a failed batch may still
  // have been written, which at-least-once delivery allows.
  virtual void send(const std::vector<OutMessage>& messages,
                    std::chrono::milliseconds timeout = std::chrono::seconds(30)) = 0;
  // True once a metadata request has succeeded: the broker answers.
  virtual bool connected() = 0;
};

// Idempotent, acks=all, low linger. Throws KafkaError on bad properties.
std::unique_ptr<Producer> make_producer(const Properties& properties);

class Consumer {
 public:
  virtual ~Consumer() = default;
  // Up to `max` messages, waiting at most `wait` for the first. Never returns errors as
  // messages; transport problems are logged and retried by librdkafka.
  virtual std::vector<InMessage> poll(std::size_t max, std::chrono::milliseconds wait) = 0;
  // Commits the offsets after these messages (synchronously). Throws KafkaError, e.g. when
  // the partitions were taken away by a rebalance; the messages are then redelivered elsewhere.
  virtual void commit(const std::vector<InMessage>& done) = 0;
  // Leaves the group (its partitions move to the other members at once).
  virtual void close() = 0;
};

// Manual commits, earliest offset for a new group; `topics` are subscribed at once.
std::unique_ptr<Consumer> make_consumer(const Properties& properties, const std::string& group,
                                        const std::vector<std::string>& topics);

}  // namespace pipewright::kafka
