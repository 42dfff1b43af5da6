#include "pkg/kafka/admin.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <mutex>
#include <stdexcept>

namespace pipewright::kafka {
namespace {

class RdKafkaAdmin final : public TopicAdmin {
 public:
  RdKafkaAdmin(const std::string& bootstrap, std::chrono::milliseconds timeout)
      : timeout_(timeout) {
    char err[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof err) !=
        RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      throw std::runtime_error(std::string("kafka admin: ") + err);
    }
    rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (rk_ == nullptr) throw std::runtime_error(std::string("kafka admin: ") + err);
    queue_ = rd_kafka_queue_new(rk_);
  }
  ~RdKafkaAdmin() override {
    for (auto& [op, opts] : options_)
      rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_queue_destroy(queue_);
    rd_kafka_destroy(rk_);
  }
  RdKafkaAdmin(const RdKafkaAdmin&) = delete;
  RdKafkaAdmin& operator=(const RdKafkaAdmin&) = delete;

  std::vector<TopicResult> create(const std::vector<plan::TopicPlan>& topics) override {
    const std::lock_guard lock(mu_);
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
    rd_kafka_CreateTopics(rk_, news.data(), news.size(), options(RD_KAFKA_ADMIN_OP_CREATETOPICS),
                          queue_);
    Event ev = wait(RD_KAFKA_EVENT_CREATETOPICS_RESULT);
    if (!ev.error.empty()) {
      for (const auto& name : names)
        results.push_back({name, TopicOutcome::failed, ev.error});
    } else {
      size_t n = 0;
      const auto* res =
          rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev.ev.get()), &n);
      for (size_t i = 0; i < n; ++i) {
        const auto code = rd_kafka_topic_result_error(res[i]);
        TopicResult r{rd_kafka_topic_result_name(res[i]), TopicOutcome::created, {}};
        if (code == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
          r.outcome = TopicOutcome::exists;
        } else if (code != RD_KAFKA_RESP_ERR_NO_ERROR) {
          r.outcome = TopicOutcome::failed;
          const char* msg = rd_kafka_topic_result_error_string(res[i]);
          r.error = msg != nullptr ? msg : rd_kafka_err2str(code);
        }
        results.push_back(r);
      }
    }
    rd_kafka_NewTopic_destroy_array(news.data(), news.size());
    return results;
  }

  std::vector<TopicState> describe(const std::vector<std::string>& names) override {
    const std::lock_guard lock(mu_);
    std::vector<TopicState> out;
    const rd_kafka_metadata_t* md = nullptr;
    const auto code = rd_kafka_metadata(rk_, 1, nullptr, &md, static_cast<int>(timeout_.count()));
    if (code != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw std::runtime_error(std::string("kafka metadata: ") + rd_kafka_err2str(code));
    }
    for (const auto& name : names) {
      TopicState s{name, 0, {}};
      for (int i = 0; i < md->topic_cnt; ++i) {
        if (name == md->topics[i].topic && md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
          s.partitions = md->topics[i].partition_cnt;
        }
      }
      out.push_back(s);
    }
    rd_kafka_metadata_destroy(md);
    describe_configs(out);
    return out;
  }

  std::string grow_partitions(const std::string& name, int total) override {
    const std::lock_guard lock(mu_);
    char err[512];
    rd_kafka_NewPartitions_t* np =
        rd_kafka_NewPartitions_new(name.c_str(), static_cast<size_t>(total), err, sizeof err);
    if (np == nullptr) return err;
    rd_kafka_CreatePartitions(rk_, &np, 1, options(RD_KAFKA_ADMIN_OP_CREATEPARTITIONS), queue_);
    rd_kafka_NewPartitions_destroy(np);
    return topic_result(RD_KAFKA_EVENT_CREATEPARTITIONS_RESULT);
  }

  std::string set_config(const std::string& name,
                         const std::map<std::string, std::string>& config) override {
    const std::lock_guard lock(mu_);
    rd_kafka_ConfigResource_t* res =
        rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, name.c_str());
    for (const auto& [k, v] : config)
      rd_kafka_ConfigResource_set_config(res, k.c_str(), v.c_str());
    rd_kafka_AlterConfigs(rk_, &res, 1, options(RD_KAFKA_ADMIN_OP_ALTERCONFIGS), queue_);
    rd_kafka_ConfigResource_destroy(res);
    Event ev = wait(RD_KAFKA_EVENT_ALTERCONFIGS_RESULT);
    if (!ev.error.empty()) return ev.error;
    size_t n = 0;
    const auto* results =
        rd_kafka_AlterConfigs_result_resources(rd_kafka_event_AlterConfigs_result(ev.ev.get()), &n);
    for (size_t i = 0; i < n; ++i) {
      if (rd_kafka_ConfigResource_error(results[i]) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char* msg = rd_kafka_ConfigResource_error_string(results[i]);
        return msg != nullptr ? msg : rd_kafka_err2str(rd_kafka_ConfigResource_error(results[i]));
      }
    }
    return {};
  }

  std::string remove(const std::string& name) override {
    const std::lock_guard lock(mu_);
    rd_kafka_DeleteTopic_t* dt = rd_kafka_DeleteTopic_new(name.c_str());
    rd_kafka_DeleteTopics(rk_, &dt, 1, options(RD_KAFKA_ADMIN_OP_DELETETOPICS), queue_);
    rd_kafka_DeleteTopic_destroy(dt);
    const auto err = topic_result(RD_KAFKA_EVENT_DELETETOPICS_RESULT);
    return last_code_ == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ? std::string() : err;
  }

 private:
  struct EventDeleter {
    void operator()(rd_kafka_event_t* ev) const { rd_kafka_event_destroy(ev); }
  };
  struct Event {
    std::unique_ptr<rd_kafka_event_t, EventDeleter> ev;
    std::string error;  // the request as a whole failed (timeout, broker down)
  };

  // Options live as long as the handle; librdkafka copies what it needs when a call is made.
  rd_kafka_AdminOptions_t* options(rd_kafka_admin_op_t op) {
    auto& slot = options_[op];
    if (slot == nullptr) {
      char err[512];
      slot = rd_kafka_AdminOptions_new(rk_, op);
      rd_kafka_AdminOptions_set_request_timeout(slot, static_cast<int>(timeout_.count()), err,
                                                sizeof err);
      if (op != RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS) {
        rd_kafka_AdminOptions_set_operation_timeout(slot, static_cast<int>(timeout_.count()), err,
                                                    sizeof err);
      }
    }
    return slot;
  }

  Event wait(rd_kafka_event_type_t type) {
    Event out;
    out.ev.reset(rd_kafka_queue_poll(queue_, static_cast<int>(timeout_.count()) + 2000));
    if (!out.ev) {
      out.error = "timed out";
    } else if (rd_kafka_event_type(out.ev.get()) != type) {
      out.error = "unexpected admin result";
    } else if (rd_kafka_event_error(out.ev.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      out.error = rd_kafka_event_error_string(out.ev.get());
    }
    return out;
  }

  // The first topic result's error of a CreatePartitions or DeleteTopics answer, or "".
  std::string topic_result(rd_kafka_event_type_t type) {
    last_code_ = RD_KAFKA_RESP_ERR_NO_ERROR;
    Event ev = wait(type);
    if (!ev.error.empty()) return ev.error;
    size_t n = 0;
    const rd_kafka_topic_result_t** res =
        type == RD_KAFKA_EVENT_CREATEPARTITIONS_RESULT
            ? rd_kafka_CreatePartitions_result_topics(
                  rd_kafka_event_CreatePartitions_result(ev.ev.get()), &n)
            : rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev.ev.get()),
                                                  &n);
    if (n == 0) return {};
    last_code_ = rd_kafka_topic_result_error(res[0]);
    if (last_code_ == RD_KAFKA_RESP_ERR_NO_ERROR) return {};
    const char* msg = rd_kafka_topic_result_error_string(res[0]);
    return msg != nullptr ? msg : rd_kafka_err2str(last_code_);
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
    rd_kafka_DescribeConfigs(rk_, resources.data(), resources.size(),
                             options(RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS), queue_);
    rd_kafka_ConfigResource_destroy_array(resources.data(), resources.size());
    Event ev = wait(RD_KAFKA_EVENT_DESCRIBECONFIGS_RESULT);
    if (!ev.error.empty()) throw std::runtime_error("kafka describe configs: " + ev.error);
    size_t n = 0;
    const auto* results = rd_kafka_DescribeConfigs_result_resources(
        rd_kafka_event_DescribeConfigs_result(ev.ev.get()), &n);
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
        const char* value = rd_kafka_ConfigEntry_value(entries[j]);
        it->config[rd_kafka_ConfigEntry_name(entries[j])] = value != nullptr ? value : "";
      }
    }
  }

  // One request at a time: results come back on the one queue, so two callers would take each
  // other's answers.
  std::mutex mu_;
  std::map<rd_kafka_admin_op_t, rd_kafka_AdminOptions_t*> options_;
  rd_kafka_resp_err_t last_code_ = RD_KAFKA_RESP_ERR_NO_ERROR;
  std::chrono::milliseconds timeout_;
  rd_kafka_t* rk_ = nullptr;
  rd_kafka_queue_t* queue_ = nullptr;
};

}  // namespace

std::unique_ptr<TopicAdmin> make_admin(const std::string& bootstrap,
                                       std::chrono::milliseconds timeout) {
  return std::make_unique<RdKafkaAdmin>(bootstrap, timeout);
}

}  // namespace pipewright::kafka
