#pragma once
// Inside pkg/kafka only: the C API's configuration for the operator's clients (the topic admin
// and the offset reader), one rule for both.

#include <librdkafka/rdkafka.h>

#include <map>
#include <stdexcept>
#include <string>

namespace pipewright::kafka::detail {

// Every property set, librdkafka's logs at errors only, and no topic ever created by a metadata
// request (topics come from the plan; a dead-letter topic not made yet must stay absent). A
// refused setting throws std::runtime_error "<who>: invalid setting '<name>'" — librdkafka's
// own message may quote the value, which may be a password.
inline rd_kafka_conf_t* quiet_conf(const std::map<std::string, std::string>& properties,
                                   const std::string& who) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  for (const auto& [name, value] : properties) {
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      throw std::runtime_error(who + ": invalid setting '" + name + "'");
    }
  }
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
  rd_kafka_conf_set(conf, "allow.auto.create.topics", "false", err, sizeof err);
  return conf;
}

}  // namespace pipewright::kafka::detail
