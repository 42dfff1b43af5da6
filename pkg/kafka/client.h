#pragma once
// The data plane's doors to Kafka: a producer that waits for acknowledgements and a consumer
// that commits only what the caller says is done. Small interfaces, librdkafka behind them
// (idempotent producer, acks=all, manual commits), so the worker runtime can be tested at the
// seam and every worker shares one delivery discipline (SPEC section 5).

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <tuple>
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

// What Kafka said about one message of a send: acknowledged (error empty), or refused; a
// permanent refusal is one no resend can fix (too large, topic gone, not authorised, invalid).
struct Delivery {
  std::string error;
  bool permanent = false;
  bool ok() const { return error.empty(); }
};

// Called once per send_async, from the producer's background thread (or inside serve_reports),
// when every message has its report: one Delivery per message, in the order given. Must not
// block.
using DeliveryCallback = std::function<void(std::vector<Delivery>)>;

class Producer {
 public:
  virtual ~Producer() = default;
  // Sends every message and returns once all are acknowledged by all in-sync replicas. Throws
  // KafkaError naming the first failure (or a timeout); messages of a failed batch may still
  // have been written, which at-least-once delivery allows. The default timeout outlasts
  // librdkafka's message.timeout.ms, so a failure thrown here is what the delivery report said.
  virtual void send(const std::vector<OutMessage>& messages,
                    std::chrono::milliseconds timeout = kSendTimeout) = 0;
  // Queues every message and returns at once (it blocks only while librdkafka's queue is full);
  // `done` gets the per-message reports. The default (for doubles) sends synchronously. The
  // messages are read, not kept (librdkafka copies them): a caller that keeps them for a resend
  // does not copy every output per send.
  virtual void send_async(const std::vector<OutMessage>& messages, DeliveryCallback done);
  // True once a metadata request has succeeded: the broker answers.
  virtual bool connected() = 0;
  // Serves the delivery reports that are due on the caller's thread (their callbacks run inside)
  // and returns at once. A caller doing it every few milliseconds, like the consume loop, stands
  // in for the background thread while it does: no thread is woken per batch of reports. When it
  // stops, the background thread serves them again within kHandover (HTTP publishers' callbacks
  // stay prompt). The default does nothing: a double calls its callbacks itself.
  virtual void serve_reports();

  static constexpr std::chrono::milliseconds kMessageTimeout{60'000};  // message.timeout.ms
  static constexpr std::chrono::milliseconds kSendTimeout{70'000};
  static constexpr std::chrono::milliseconds kHandover{20};
};

// Idempotent, acks=all, low linger. Throws KafkaError on bad properties.
std::unique_ptr<Producer> make_producer(const Properties& properties);

struct Partition {
  std::string topic;
  int partition = 0;
  bool operator==(const Partition&) const = default;
  bool operator<(const Partition& o) const {
    return std::tie(topic, partition) < std::tie(o.topic, o.partition);
  }
};

// The next offset to read of one partition, as a commit stores it.
struct Offset {
  Partition tp;
  std::int64_t next = 0;
};

// The group's committed offset (kNoOffset when none) and the partition's watermarks.
struct PartitionPosition {
  Partition tp;
  std::int64_t committed = -1, low = -1, high = -1;
};

class Consumer {
 public:
  virtual ~Consumer() = default;
  // Up to `max` messages, waiting at most `wait` for the first. Never returns errors as
  // messages; transport problems are logged and retried by librdkafka. Rebalance listeners run
  // inside poll, on its thread; no message of a partition revoked during a poll is returned.
  virtual std::vector<InMessage> poll(std::size_t max, std::chrono::milliseconds wait) = 0;
  // Commits the offsets after these messages (synchronously). Throws KafkaError, e.g. when
  // the partitions were taken away by a rebalance; the messages are then redelivered elsewhere.
  virtual void commit(const std::vector<InMessage>& done) = 0;
  // Commits these next offsets; asynchronously unless `sync` (then throws KafkaError). A failed
  // asynchronous commit is logged: a later one covers it, or the partition's new owner re-reads.
  virtual void commit_offsets(const std::vector<Offset>& offsets, bool sync);
  // Stops / restarts returning these partitions' messages from poll() (what poll() returned
  // stays returned). What was fetched for them is kept, not fetched again, and fetching stops
  // once librdkafka's per-partition prefetch limits are reached: memory stays bounded.
  virtual void pause(const std::vector<Partition>& partitions);
  virtual void resume(const std::vector<Partition>& partitions);
  // `revoked` is called inside poll() before the partitions go (their commits still count).
  virtual void on_revoke(std::function<void(const std::vector<Partition>&)> revoked);
  // Committed offsets and watermarks of the assigned partitions, each broker question bounded
  // by `timeout`; callable from another thread than poll's.
  virtual std::vector<PartitionPosition> positions(std::chrono::milliseconds timeout);
  // Leaves the group (its partitions move to the other members at once).
  virtual void close() = 0;
};

// Manual commits, earliest offset for a new group; `topics` are subscribed at once.
std::unique_ptr<Consumer> make_consumer(const Properties& properties, const std::string& group,
                                        const std::vector<std::string>& topics);

}  // namespace pipewright::kafka
