#include "pkg/kafka/group_lag.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <stdexcept>

#include "pkg/kafka/rdkafka_conf.h"

namespace pipewright::kafka {

std::int64_t total_lag(const std::vector<PartitionOffsets>& partitions) {
  std::int64_t sum = 0;
  for (const auto& p : partitions)
    sum += partition_lag(p.committed, p.low, p.high);
  return sum;
}

std::int64_t retained(const std::vector<PartitionOffsets>& partitions) {
  std::int64_t sum = 0;
  for (const auto& p : partitions)
    sum += std::max<std::int64_t>(0, p.high - std::max<std::int64_t>(0, p.low));
  return sum;
}

namespace {

using Clock = std::chrono::steady_clock;

int ms_left(Clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::max<long long>(1, left));
}

class RdOffsetReader final : public OffsetReader {
 public:
  RdOffsetReader(const std::map<std::string, std::string>& properties,
                 std::chrono::milliseconds timeout)
      : timeout_(timeout) {
    char err[512];
    rd_kafka_conf_t* conf = detail::quiet_conf(properties, "kafka offsets");
    // A consumer handle with a group of its own, never joined: librdkafka 2.0.2 answers a
    // NOT_COORDINATOR reply to ListConsumerGroupOffsets (a group the broker has not loaded yet)
    // by poking the handle's own group, and a handle without one crashes there (rdk:main
    // SIGSEGV, seen in operator_test; confluent-kafka-python#1982).
    rd_kafka_conf_set(conf, "group.id", "pipewright-operator-offsets", err, sizeof err);
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err);
    rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (rk_ == nullptr) throw std::runtime_error(std::string("kafka offsets: ") + err);
  }
  ~RdOffsetReader() override { rd_kafka_destroy(rk_); }
  RdOffsetReader(const RdOffsetReader&) = delete;
  RdOffsetReader& operator=(const RdOffsetReader&) = delete;

  std::vector<PartitionOffsets> offsets(const std::string& group,
                                        const std::vector<std::string>& topics) override {
    const auto deadline = Clock::now() + timeout_;
    std::vector<PartitionOffsets> out;
    for (const auto& topic : topics) {
      const int n = partitions(topic, deadline);
      for (int p = 0; p < n; ++p) {
        PartitionOffsets po{topic, p, kNoOffset, 0, 0};
        const auto code = rd_kafka_query_watermark_offsets(rk_, topic.c_str(), p, &po.low, &po.high,
                                                           ms_left(deadline));
        if (code != RD_KAFKA_RESP_ERR_NO_ERROR)
          throw std::runtime_error("kafka watermarks of " + topic + ": " + rd_kafka_err2str(code));
        out.push_back(po);
      }
    }
    if (!group.empty() && !out.empty()) committed(group, out, deadline);
    return out;
  }

 private:
  int partitions(const std::string& name, Clock::time_point deadline) {
    std::unique_ptr<rd_kafka_topic_t, decltype(&rd_kafka_topic_destroy)> topic(
        rd_kafka_topic_new(rk_, name.c_str(), nullptr), rd_kafka_topic_destroy);
    const rd_kafka_metadata_t* md = nullptr;
    const auto code = rd_kafka_metadata(rk_, 0, topic.get(), &md, ms_left(deadline));
    if (code != RD_KAFKA_RESP_ERR_NO_ERROR)
      throw std::runtime_error(std::string("kafka metadata: ") + rd_kafka_err2str(code));
    int count = 0;
    for (int i = 0; i < md->topic_cnt; ++i) {
      if (name == md->topics[i].topic && md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR)
        count = md->topics[i].partition_cnt;
    }
    rd_kafka_metadata_destroy(md);
    return count;
  }

  // Fills `out`'s committed offsets from the group's (one ListConsumerGroupOffsets request).
  void committed(const std::string& group, std::vector<PartitionOffsets>& out,
                 Clock::time_point deadline) {
    rd_kafka_topic_partition_list_t* list =
        rd_kafka_topic_partition_list_new(static_cast<int>(out.size()));
    for (const auto& p : out)
      rd_kafka_topic_partition_list_add(list, p.topic.c_str(), p.partition);
    rd_kafka_ListConsumerGroupOffsets_t* request =
        rd_kafka_ListConsumerGroupOffsets_new(group.c_str(), list);
    rd_kafka_topic_partition_list_destroy(list);

    char err[512];
    rd_kafka_queue_t* queue = rd_kafka_queue_new(rk_);
    rd_kafka_AdminOptions_t* options =
        rd_kafka_AdminOptions_new(rk_, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS);
    rd_kafka_AdminOptions_set_request_timeout(options, ms_left(deadline), err, sizeof err);
    rd_kafka_ListConsumerGroupOffsets(rk_, &request, 1, options, queue);
    rd_kafka_ListConsumerGroupOffsets_destroy(request);
    rd_kafka_event_t* event = rd_kafka_queue_poll(queue, ms_left(deadline) + 1000);
    std::string failed;
    if (event == nullptr) {
      failed = "timed out";
    } else if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      failed = rd_kafka_event_error_string(event);
    } else if (const auto* result = rd_kafka_event_ListConsumerGroupOffsets_result(event);
               result == nullptr) {
      failed = "unexpected admin result";
    } else {
      size_t n = 0;
      const auto** groups = rd_kafka_ListConsumerGroupOffsets_result_groups(result, &n);
      for (size_t g = 0; g < n; ++g) {
        if (const auto* e = rd_kafka_group_result_error(groups[g]); e != nullptr) {
          failed = rd_kafka_error_string(e);
          break;
        }
        const auto* parts = rd_kafka_group_result_partitions(groups[g]);
        for (int i = 0; parts != nullptr && i < parts->cnt; ++i) {
          const auto& tp = parts->elems[i];
          // A partition the group never committed comes back with offset -1 (kNoOffset).
          if (tp.err != RD_KAFKA_RESP_ERR_NO_ERROR) continue;
          for (auto& p : out) {
            if (p.partition == tp.partition && p.topic == tp.topic) p.committed = tp.offset;
          }
        }
      }
    }
    if (event != nullptr) rd_kafka_event_destroy(event);
    rd_kafka_AdminOptions_destroy(options);
    rd_kafka_queue_destroy(queue);
    if (!failed.empty())
      throw std::runtime_error("kafka committed offsets of " + group + ": " + failed);
  }

  std::chrono::milliseconds timeout_;
  rd_kafka_t* rk_ = nullptr;
};

}  // namespace

std::unique_ptr<OffsetReader> make_offset_reader(
    const std::map<std::string, std::string>& properties, std::chrono::milliseconds timeout) {
  return std::make_unique<RdOffsetReader>(properties, timeout);
}

}  // namespace pipewright::kafka
