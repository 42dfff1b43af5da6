#pragma once
// Inside pkg/kafka only: librdkafka configuration and messages, shared by the data plane's
// clients (client.cpp) and the tools' reader and transactional producer (topic_reader.cpp).

#include <librdkafka/rdkafkacpp.h>

#include <memory>
#include <string>

#include "pkg/kafka/client.h"
#include "pkg/log/log.h"

namespace pipewright::kafka::detail {

// Every property set, or KafkaError naming the one librdkafka refused.
inline std::unique_ptr<RdKafka::Conf> make_conf(const Properties& properties) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  for (const auto& [k, v] : properties) {
    if (conf->set(k, v, err) != RdKafka::Conf::CONF_OK)
      throw KafkaError("Kafka setting " + k + ": " + err);
  }
  return conf;
}

inline void set(RdKafka::Conf& conf, const std::string& key, const std::string& value) {
  std::string err;
  if (conf.set(key, value, err) != RdKafka::Conf::CONF_OK)
    throw KafkaError("Kafka setting " + key + ": " + err);
}

// librdkafka's own log lines as ours, so a process's stderr stays JSON lines.
class LogBridge : public RdKafka::EventCb {
 public:
  void event_cb(RdKafka::Event& event) override {
    if (event.type() == RdKafka::Event::EVENT_ERROR) {
      log::warn("kafka", {{"error", RdKafka::err2str(event.err())}, {"detail", event.str()}});
    } else if (event.type() == RdKafka::Event::EVENT_LOG && event.severity() <= 4) {
      log::warn("kafka", {{"facility", event.fac()}, {"detail", event.str()}});
    }
  }
};

// A consumed message as ours: topic, partition, offset, key, value, timestamp and headers.
inline InMessage to_in_message(RdKafka::Message& m) {
  InMessage in;
  in.topic = m.topic_name();
  in.partition = m.partition();
  in.offset = m.offset();
  if (m.key() != nullptr) in.key = *m.key();
  in.value.assign(static_cast<const char*>(m.payload()), m.len());
  in.timestamp_ms = m.timestamp().timestamp;
  if (const RdKafka::Headers* headers = m.headers(); headers != nullptr) {
    for (const auto& h : headers->get_all()) {
      in.headers.push_back(
          {h.key(), h.value() == nullptr
                        ? std::string()
                        : std::string(static_cast<const char*>(h.value()), h.value_size())});
    }
  }
  return in;
}

}  // namespace pipewright::kafka::detail
