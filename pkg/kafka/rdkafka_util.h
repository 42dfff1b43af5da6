#pragma once
// Inside pkg/kafka only: librdkafka configuration and messages, shared by the data plane's
// clients (client.cpp) and the tools' reader and transactional producer (topic_reader.cpp).

#include <librdkafka/rdkafka.h>
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
  // Key and headers straight from the C message: the C++ accessors build a string (the key)
  // and a vector of copied headers per message first, copied again here.
  if (m.key_pointer() != nullptr)
    in.key.assign(static_cast<const char*>(m.key_pointer()), m.key_len());
  in.value.assign(static_cast<const char*>(m.payload()), m.len());
  in.timestamp_ms = m.timestamp().timestamp;
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(m.c_ptr(), &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char* name = nullptr;
    const void* value = nullptr;
    std::size_t size = 0;
    in.headers.reserve(rd_kafka_header_cnt(headers));
    for (std::size_t i = 0;
         rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
         ++i) {
      in.headers.push_back({name, value == nullptr
                                      ? std::string()
                                      : std::string(static_cast<const char*>(value), size)});
    }
  }
  return in;
}

}  // namespace pipewright::kafka::detail
