#pragma once
// What the benchmark peers share: the workers' producer settings (pkg/kafka/client.cpp:
// idempotent, acks=all, linger 2 ms, 60 s message timeout), a stop flag set by SIGTERM/SIGINT,
// and the port file through which a peer tells the bench the port the OS gave it.

#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>

namespace pipewright::bench::peer {

inline std::atomic<bool>& stopping() {
  static std::atomic<bool> flag{false};
  return flag;
}

inline void on_signal(int /*signal*/) {
  stopping() = true;
}

inline void install_stop_signals() {
  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);
  std::signal(SIGPIPE, SIG_IGN);
}

inline void set(RdKafka::Conf& c, const std::string& key, const std::string& value) {
  std::string err;
  if (c.set(key, value, err) != RdKafka::Conf::CONF_OK) throw std::runtime_error(key + ": " + err);
}

inline std::unique_ptr<RdKafka::Conf> conf(const std::string& bootstrap) {
  std::unique_ptr<RdKafka::Conf> c(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  set(*c, "bootstrap.servers", bootstrap);
  return c;
}

// The same delivery guarantee as the workers' producer.
inline void producer_settings(RdKafka::Conf& c) {
  set(c, "enable.idempotence", "true");
  set(c, "acks", "all");
  set(c, "linger.ms", "2");
  set(c, "message.timeout.ms", "60000");
}

// Manual commits only: an offset is committed by the peer itself, after the work it stands for.
inline std::unique_ptr<RdKafka::KafkaConsumer> consumer(const std::string& bootstrap,
                                                        const std::string& group,
                                                        const std::string& reset) {
  auto c = conf(bootstrap);
  set(*c, "group.id", group);
  set(*c, "enable.auto.commit", "false");
  set(*c, "auto.offset.reset", reset);
  std::string err;
  std::unique_ptr<RdKafka::KafkaConsumer> k(RdKafka::KafkaConsumer::create(c.get(), err));
  if (!k) throw std::runtime_error("consumer: " + err);
  return k;
}

// Written whole under a temporary name and renamed, so a reader never sees half a number.
inline void write_port_file(const std::string& path, int port) {
  const auto tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    out << port << "\n";
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) throw std::runtime_error("cannot write " + path);
}

}  // namespace pipewright::bench::peer
