#include "pkg/kafka/admin.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <thread>

#include "pkg/kafka/rdkafka_conf.h"

namespace pipewright::kafka {
namespace {

// One admin request: its own result queue and options, so callers on several threads never
// take each other's answers and need no lock.
class Call {
 public:
  Call(rd_kafka_t* rk, rd_kafka_admin_op_t op, std::chrono::milliseconds timeout)
      : queue_(rd_kafka_queue_new(rk)),
        options_(rd_kafka_AdminOptions_new(rk, op)),
        timeout_(timeout) {
    char err[512];
    const int ms = static_cast<int>(timeout.count());
    rd_kafka_AdminOptions_set_request_timeout(options_, ms, err, sizeof err);
    if (op != RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS) {
      rd_kafka_AdminOptions_set_operation_timeout(options_, ms, err, sizeof err);
    }
  }
  ~Call() {
    if (event_ != nullptr) rd_kafka_event_destroy(event_);
    rd_kafka_AdminOptions_destroy(options_);
    rd_kafka_queue_destroy(queue_);
  }
  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;

  rd_kafka_queue_t* queue() const { return queue_; }
  rd_kafka_AdminOptions_t* options() const { return options_; }

  // Waits for the answer; "" when the request as a whole succeeded, else why not.
  std::string wait(rd_kafka_event_type_t type) {
    event_ = rd_kafka_queue_poll(queue_, static_cast<int>(timeout_.count()) + 2000);
    if (event_ == nullptr) return "timed out";
    if (rd_kafka_event_type(event_) != type) return "unexpected admin result";
    if (rd_kafka_event_error(event_) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return rd_kafka_event_error_string(event_);
    }
    return {};
  }
  rd_kafka_event_t* event() const { return event_; }

 private:
  rd_kafka_queue_t* queue_;
  rd_kafka_AdminOptions_t* options_;
  std::chrono::milliseconds timeout_;
  rd_kafka_event_t* event_ = nullptr;
};

std::string topic_error(const rd_kafka_topic_result_t* result) {
  const auto code = rd_kafka_topic_result_error(result);
  if (code == RD_KAFKA_RESP_ERR_NO_ERROR) return {};
  const char* msg = rd_kafka_topic_result_error_string(result);
  return msg != nullptr ? msg : rd_kafka_err2str(code);
}

class RdKafkaAdmin final : public TopicAdmin {
 public:
  RdKafkaAdmin(const std::map<std::string, std::string>& properties,
               std::chrono::milliseconds timeout)
      : timeout_(timeout) {
    char err[512];
    rd_kafka_conf_t* conf = detail::quiet_conf(properties, "kafka admin");
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (rk_ == nullptr) throw std::runtime_error(std::string("kafka admin: ") + err);
  }
  ~RdKafkaAdmin() override { rd_kafka_destroy(rk_); }
  RdKafkaAdmin(const RdKafkaAdmin&) = delete;
  RdKafkaAdmin& operator=(const RdKafkaAdmin&) = delete;

  std::vector<TopicResult> create(const std::vector<TopicSpec>& topics) override {
    std::vector<TopicResult> results;
    if (topics.empty()) return results;
    char err[512];
    std::vector<rd_kafka_NewTopic_t*> news;
    std::vector<std::string> names;  // librdkafka 2.0 cannot tell a NewTopic's name
    for (const auto& t : topics) {
      rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(t.name.c_str(), t.partitions,
                                                      t.replication_factor, err, sizeof err);
      if (nt == nullptr) {
        results.push_back({t.name, TopicOutcome::failed, err});
        continue;
      }
      for (const auto& [k, v] : t.config)
        rd_kafka_NewTopic_set_config(nt, k.c_str(), v.c_str());
      news.push_back(nt);
      names.push_back(t.name);
    }
    Call call(rk_, RD_KAFKA_ADMIN_OP_CREATETOPICS, timeout_);
    rd_kafka_CreateTopics(rk_, news.data(), news.size(), call.options(), call.queue());
    rd_kafka_NewTopic_destroy_array(news.data(), news.size());
    if (const auto failed = call.wait(RD_KAFKA_EVENT_CREATETOPICS_RESULT); !failed.empty()) {
      for (const auto& name : names)
        results.push_back({name, TopicOutcome::failed, failed});
      return results;
    }
    size_t n = 0;
    const auto* res =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(call.event()), &n);
    for (size_t i = 0; i < n; ++i) {
      TopicResult r{rd_kafka_topic_result_name(res[i]), TopicOutcome::created, topic_error(res[i])};
      if (rd_kafka_topic_result_error(res[i]) == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        r = {r.name, TopicOutcome::exists, {}};
      } else if (!r.error.empty()) {
        r.outcome = TopicOutcome::failed;
      }
      results.push_back(r);
    }
    // "Created" means usable: wait until the broker's metadata shows the new topics, so a
    // producer started right after does not meet an unknown topic.
    for (const auto& r : results) {
      if (r.outcome == TopicOutcome::created) wait_visible(r.name, 1);
    }
    return results;
  }

  std::vector<TopicState> describe(const std::vector<std::string>& names) override {
    std::vector<TopicState> out;
    for (const auto& name : names)
      out.push_back({name, partitions(name), {}});
    describe_configs(out);
    return out;
  }

  std::string grow_partitions(const std::string& name, int total) override {
    char err[512];
    rd_kafka_NewPartitions_t* np =
        rd_kafka_NewPartitions_new(name.c_str(), static_cast<size_t>(total), err, sizeof err);
    if (np == nullptr) return err;
    Call call(rk_, RD_KAFKA_ADMIN_OP_CREATEPARTITIONS, timeout_);
    rd_kafka_CreatePartitions(rk_, &np, 1, call.options(), call.queue());
    rd_kafka_NewPartitions_destroy(np);
    if (auto failed = call.wait(RD_KAFKA_EVENT_CREATEPARTITIONS_RESULT); !failed.empty()) {
      return failed;
    }
    size_t n = 0;
    const auto* res = rd_kafka_CreatePartitions_result_topics(
        rd_kafka_event_CreatePartitions_result(call.event()), &n);
    if (n > 0) {
      if (auto failed = topic_error(res[0]); !failed.empty()) return failed;
    }
    wait_visible(name, total);
    return {};
  }

  std::string set_config(const std::string& name,
                         const std::map<std::string, std::string>& config) override {
    rd_kafka_ConfigResource_t* res =
        rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, name.c_str());
    for (const auto& [k, v] : config)
      rd_kafka_ConfigResource_set_config(res, k.c_str(), v.c_str());
    Call call(rk_, RD_KAFKA_ADMIN_OP_ALTERCONFIGS, timeout_);
    rd_kafka_AlterConfigs(rk_, &res, 1, call.options(), call.queue());
    rd_kafka_ConfigResource_destroy(res);
    if (auto failed = call.wait(RD_KAFKA_EVENT_ALTERCONFIGS_RESULT); !failed.empty()) return failed;
    size_t n = 0;
    const auto* results = rd_kafka_AlterConfigs_result_resources(
        rd_kafka_event_AlterConfigs_result(call.event()), &n);
    for (size_t i = 0; i < n; ++i) {
      if (const auto code = rd_kafka_ConfigResource_error(results[i]);
          code != RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char* msg = rd_kafka_ConfigResource_error_string(results[i]);
        return msg != nullptr ? msg : rd_kafka_err2str(code);
      }
    }
    return {};
  }

  std::string remove(const std::string& name) override {
    rd_kafka_DeleteTopic_t* dt = rd_kafka_DeleteTopic_new(name.c_str());
    Call call(rk_, RD_KAFKA_ADMIN_OP_DELETETOPICS, timeout_);
    rd_kafka_DeleteTopics(rk_, &dt, 1, call.options(), call.queue());
    rd_kafka_DeleteTopic_destroy(dt);
    if (auto failed = call.wait(RD_KAFKA_EVENT_DELETETOPICS_RESULT); !failed.empty()) return failed;
    size_t n = 0;
    const auto* res =
        rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(call.event()), &n);
    if (n == 0 || rd_kafka_topic_result_error(res[0]) == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
      return {};  // already gone is what was asked
    }
    return topic_error(res[0]);
  }

 private:
  // Polls metadata until `name` has at least `partitions` (or the timeout passes).
  void wait_visible(const std::string& name, int partitions_wanted) {
    const auto deadline = std::chrono::steady_clock::now() + timeout_;
    while (std::chrono::steady_clock::now() < deadline) {
      try {
        if (partitions(name) >= partitions_wanted) return;
      } catch (const std::exception&) {
        // A broker not answering yet: keep trying until the deadline.
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  // Metadata of one topic only: asking for all topics on every reconcile would cost O(topics)
  // per Pipeline, O(n^2) for a cluster. Throws when the cluster cannot be reached.
  int partitions(const std::string& name) {
    std::unique_ptr<rd_kafka_topic_t, decltype(&rd_kafka_topic_destroy)> topic(
        rd_kafka_topic_new(rk_, name.c_str(), nullptr), rd_kafka_topic_destroy);
    const rd_kafka_metadata_t* md = nullptr;
    const auto code =
        rd_kafka_metadata(rk_, 0, topic.get(), &md, static_cast<int>(timeout_.count()));
    if (code != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw std::runtime_error(std::string("kafka metadata: ") + rd_kafka_err2str(code));
    }
    int count = 0;
    for (int i = 0; i < md->topic_cnt; ++i) {
      if (name == md->topics[i].topic && md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        count = md->topics[i].partition_cnt;
      }
    }
    rd_kafka_metadata_destroy(md);
    return count;
  }

  // Fills each existing topic's settings that were set on the topic itself.
  void describe_configs(std::vector<TopicState>& topics) {
    std::vector<rd_kafka_ConfigResource_t*> resources;
    for (const auto& t : topics) {
      if (t.partitions > 0) {
        resources.push_back(rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, t.name.c_str()));
      }
    }
    if (resources.empty()) return;
    Call call(rk_, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, timeout_);
    rd_kafka_DescribeConfigs(rk_, resources.data(), resources.size(), call.options(), call.queue());
    rd_kafka_ConfigResource_destroy_array(resources.data(), resources.size());
    if (auto failed = call.wait(RD_KAFKA_EVENT_DESCRIBECONFIGS_RESULT); !failed.empty()) {
      throw std::runtime_error("kafka describe configs: " + failed);
    }
    size_t n = 0;
    const auto* results = rd_kafka_DescribeConfigs_result_resources(
        rd_kafka_event_DescribeConfigs_result(call.event()), &n);
    for (size_t i = 0; i < n; ++i) {
      const std::string name = rd_kafka_ConfigResource_name(results[i]);
      auto it = std::find_if(topics.begin(), topics.end(),
                             [&](const TopicState& t) { return t.name == name; });
      if (it == topics.end()) continue;
      size_t m = 0;
      const auto* entries = rd_kafka_ConfigResource_configs(results[i], &m);
      for (size_t j = 0; j < m; ++j) {
        if (rd_kafka_ConfigEntry_source(entries[j]) !=
            RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG) {
          continue;
        }
        if (rd_kafka_ConfigEntry_is_sensitive(entries[j]) != 0) it->sensitive = true;
        const char* value = rd_kafka_ConfigEntry_value(entries[j]);
        it->config[rd_kafka_ConfigEntry_name(entries[j])] = value != nullptr ? value : "";
      }
    }
  }

  std::chrono::milliseconds timeout_;
  rd_kafka_t* rk_ = nullptr;
};

}  // namespace

std::unique_ptr<TopicAdmin> make_admin(const std::string& bootstrap,
                                       std::chrono::milliseconds timeout) {
  return make_admin(std::map<std::string, std::string>{{"bootstrap.servers", bootstrap}}, timeout);
}

std::unique_ptr<TopicAdmin> make_admin(const std::map<std::string, std::string>& properties,
                                       std::chrono::milliseconds timeout) {
  return std::make_unique<RdKafkaAdmin>(properties, timeout);
}

}  // namespace pipewright::kafka
