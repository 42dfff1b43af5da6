#include "tests/support/faults.h"

#include <gtest/gtest.h>
#include <librdkafka/rdkafkacpp.h>

#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

#include "pkg/event/envelope.h"
#include "pkg/proc/net.h"

namespace pipewright::testing {

std::string DeliveryCount::summary() const {
  std::ostringstream s;
  s << what << ": " << accepted << " accepted, " << delivered << " delivered, " << lost << " lost, "
    << duplicated << " duplicated (" << extra << " extra)";
  const auto list = [&](const char* name, const std::vector<std::string>& ids) {
    if (ids.empty()) return;
    s << "; " << name << ":";
    for (const auto& id : ids)
      s << " " << id;
  };
  list("lost", lost_ids);
  list("duplicated", duplicated_ids);
  return s.str();
}

DeliveryCount count_delivery(const std::string& what, const std::vector<std::string>& accepted,
                             const std::vector<std::string>& seen) {
  std::map<std::string, std::size_t> times;
  for (const auto& id : accepted)
    times.emplace(id, 0);
  for (const auto& id : seen) {
    const auto it = times.find(id);
    if (it != times.end()) ++it->second;
  }
  DeliveryCount c;
  c.what = what;
  c.accepted = times.size();
  for (const auto& [id, n] : times) {
    if (n == 0) {
      ++c.lost;
      if (c.lost_ids.size() < 10) c.lost_ids.push_back(id);
      continue;
    }
    ++c.delivered;
    if (n > 1) {
      ++c.duplicated;
      c.extra += n - 1;
      if (c.duplicated_ids.size() < 10) c.duplicated_ids.push_back(id);
    }
  }
  return c;
}

void report(const DeliveryCount& count) {
  std::cout << "[faults] " << count.summary() << std::endl;
  const std::string key = [&] {
    std::string k;
    for (const char ch : count.what)
      k += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
    return k;
  }();
  ::testing::Test::RecordProperty(key + "_lost", static_cast<int>(count.lost));
  ::testing::Test::RecordProperty(key + "_duplicated", static_cast<int>(count.duplicated));
}

Load::Load(Send send, int threads, std::chrono::milliseconds pause) : send_(std::move(send)) {
  for (int t = 0; t < threads; ++t) {
    threads_.emplace_back([this, pause] {
      while (!stop_.load()) {
        const int n = next_.fetch_add(1);
        std::optional<std::string> id;
        try {
          id = send_(n);
        } catch (const std::exception&) {
          id.reset();
        }
        if (id) {
          const std::lock_guard lock(mutex_);
          accepted_.push_back(*id);
        } else {
          refused_.fetch_add(1);
        }
        // The pace of a steady client, not a synchronisation: stop() is checked every round.
        std::this_thread::sleep_for(pause);
      }
    });
  }
}

Load::~Load() {
  stop();
}

void Load::stop() {
  stop_.store(true);
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

std::vector<std::string> Load::accepted() const {
  const std::lock_guard lock(mutex_);
  return accepted_;
}

std::size_t Load::accepted_count() const {
  const std::lock_guard lock(mutex_);
  return accepted_.size();
}

bool Load::wait_more(std::size_t more, std::chrono::milliseconds timeout) const {
  const auto target = accepted_count() + more;
  return proc::poll_until(
      timeout, [&] { return accepted_count() >= target; }, std::chrono::milliseconds(50));
}

namespace {

std::unique_ptr<RdKafka::Conf> conf_for(const std::string& bootstrap) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  conf->set("bootstrap.servers", bootstrap, err);
  conf->set("log_level", "3", err);
  return conf;
}

class Reports : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& m) override {
    if (m.err() != RdKafka::ERR_NO_ERROR && error.empty()) error = m.errstr();
  }
  std::string error;
};

}  // namespace

std::vector<ConsumedMessage> read_all(const std::string& bootstrap, const std::string& topic,
                                      std::chrono::milliseconds timeout) {
  auto conf = conf_for(bootstrap);
  std::string err;
  conf->set("group.id", "pipewright-fault-checker", err);
  conf->set("enable.auto.commit", "false", err);
  conf->set("enable.partition.eof", "false", err);
  std::unique_ptr<RdKafka::KafkaConsumer> c(RdKafka::KafkaConsumer::create(conf.get(), err));
  if (!c) throw std::runtime_error("checker consumer: " + err);
  std::unique_ptr<RdKafka::Topic> t(RdKafka::Topic::create(c.get(), topic, nullptr, err));
  RdKafka::Metadata* raw = nullptr;
  if (c->metadata(false, t.get(), &raw, 10000) != RdKafka::ERR_NO_ERROR) {
    throw std::runtime_error("no metadata for " + topic);
  }
  std::unique_ptr<RdKafka::Metadata> md(raw);
  std::map<int, std::int64_t> end;  // partition -> high watermark now
  for (const auto* tm : *md->topics()) {
    if (tm->topic() != topic) continue;
    if (tm->err() != RdKafka::ERR_NO_ERROR)
      throw std::runtime_error(topic + ": " + RdKafka::err2str(tm->err()));
    for (const auto* pm : *tm->partitions()) {
      std::int64_t low = 0, high = 0;
      if (c->query_watermark_offsets(topic, pm->id(), &low, &high, 10000) != RdKafka::ERR_NO_ERROR)
        throw std::runtime_error("no watermarks for " + topic);
      if (high > low) end[pm->id()] = high;
    }
  }
  std::vector<RdKafka::TopicPartition*> parts;
  for (const auto& [p, high] : end)
    parts.push_back(RdKafka::TopicPartition::create(topic, p, RdKafka::Topic::OFFSET_BEGINNING));
  c->assign(parts);
  RdKafka::TopicPartition::destroy(parts);
  std::vector<ConsumedMessage> out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!end.empty()) {
    if (std::chrono::steady_clock::now() > deadline) {
      c->close();
      throw std::runtime_error("could not read " + topic + " to its end in time");
    }
    std::unique_ptr<RdKafka::Message> m(c->consume(200));
    if (m->err() != RdKafka::ERR_NO_ERROR) continue;
    const auto it = end.find(m->partition());
    if (it == end.end()) continue;
    ConsumedMessage cm;
    if (m->key() != nullptr) cm.key = *m->key();
    cm.value.assign(static_cast<const char*>(m->payload()), m->len());
    if (const auto* h = m->headers(); h != nullptr) {
      for (const auto& header : h->get_all()) {
        cm.headers[header.key()] =
            std::string(static_cast<const char*>(header.value()), header.value_size());
      }
    }
    out.push_back(std::move(cm));
    // Transaction markers take offsets too: done once the next offset reaches the watermark.
    if (m->offset() + 1 >= it->second) end.erase(it);
  }
  c->close();
  return out;
}

std::vector<std::string> event_ids(const std::vector<ConsumedMessage>& messages) {
  std::vector<std::string> out;
  for (const auto& m : messages) {
    try {
      out.push_back(event_json(m).at("id").get<std::string>());
    } catch (const std::exception&) {
      continue;
    }
  }
  return out;
}

std::vector<ConsumedMessage> wait_for_events(const std::string& bootstrap, const std::string& topic,
                                             const std::vector<std::string>& ids,
                                             std::chrono::milliseconds timeout) {
  std::vector<ConsumedMessage> last;
  const std::set<std::string> wanted(ids.begin(), ids.end());
  proc::poll_until(
      timeout,
      [&] {
        try {
          last = read_all(bootstrap, topic);
        } catch (const std::exception&) {
          return false;  // the broker is restarting, the topic is gone: try again
        }
        std::set<std::string> have;
        for (auto& id : event_ids(last))
          have.insert(std::move(id));
        return std::includes(have.begin(), have.end(), wanted.begin(), wanted.end());
      },
      std::chrono::milliseconds(500));
  return last;
}

void produce(const std::string& bootstrap, const std::string& topic,
             const std::vector<ConsumedMessage>& messages) {
  auto conf = conf_for(bootstrap);
  std::string err;
  conf->set("enable.idempotence", "true", err);
  conf->set("acks", "all", err);
  Reports reports;
  conf->set("dr_cb", &reports, err);
  std::unique_ptr<RdKafka::Producer> p(RdKafka::Producer::create(conf.get(), err));
  if (!p) throw std::runtime_error("checker producer: " + err);
  for (const auto& m : messages) {
    auto* headers = RdKafka::Headers::create();
    for (const auto& [k, v] : m.headers)
      headers->add(k, v);
    const auto code = p->produce(topic, RdKafka::Topic::PARTITION_UA,
                                 RdKafka::Producer::RK_MSG_COPY, const_cast<char*>(m.value.data()),
                                 m.value.size(), m.key.data(), m.key.size(), 0, headers, nullptr);
    if (code != RdKafka::ERR_NO_ERROR) {
      delete headers;
      throw std::runtime_error("produce to " + topic + ": " + RdKafka::err2str(code));
    }
  }
  if (p->flush(30000) != RdKafka::ERR_NO_ERROR || p->outq_len() > 0) {
    throw std::runtime_error("produce to " + topic + ": not acknowledged in 30 s");
  }
  if (!reports.error.empty())
    throw std::runtime_error("produce to " + topic + ": " + reports.error);
}

}  // namespace pipewright::testing
