#include "pkg/kafka/admin.h"

#include <librdkafka/rdkafka.h>
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
    rd_kafka_queue_destroy(queue_);
    rd_kafka_destroy(rk_);
  }
  RdKafkaAdmin(const RdKafkaAdmin&) = delete;
  RdKafkaAdmin& operator=(const RdKafkaAdmin&) = delete;

  std::vector<TopicResult> create(const std::vector<plan::TopicPlan>& topics) override {
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
    rd_kafka_AdminOptions_t* opts = rd_kafka_AdminOptions_new(rk_, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(opts, static_cast<int>(timeout_.count()), err,
                                                sizeof err);
    rd_kafka_AdminOptions_set_request_timeout(opts, static_cast<int>(timeout_.count()), err,
                                              sizeof err);
    rd_kafka_CreateTopics(rk_, news.data(), news.size(), opts, queue_);
    rd_kafka_event_t* ev = rd_kafka_queue_poll(queue_, static_cast<int>(timeout_.count()) + 2000);
    if (ev == nullptr) {
      for (const auto& name : names)
        results.push_back({name, TopicOutcome::failed, "timed out"});
    } else if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      for (const auto& name : names)
        results.push_back({name, TopicOutcome::failed, rd_kafka_event_error_string(ev)});
    } else {
      size_t n = 0;
      const auto* res =
          rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
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
    if (ev != nullptr) rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_NewTopic_destroy_array(news.data(), news.size());
    return results;
  }

  std::vector<TopicState> describe(const std::vector<std::string>& names) override {
    std::vector<TopicState> out;
    const rd_kafka_metadata_t* md = nullptr;
    const auto code = rd_kafka_metadata(rk_, 1, nullptr, &md, static_cast<int>(timeout_.count()));
    if (code != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw std::runtime_error(std::string("kafka metadata: ") + rd_kafka_err2str(code));
    }
    for (const auto& name : names) {
      TopicState s{name, 0};
      for (int i = 0; i < md->topic_cnt; ++i) {
        if (name == md->topics[i].topic && md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
          s.partitions = md->topics[i].partition_cnt;
        }
      }
      out.push_back(s);
    }
    rd_kafka_metadata_destroy(md);
    return out;
  }

 private:
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
