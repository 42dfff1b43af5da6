#include "tests/support/workers.h"

#include <librdkafka/rdkafkacpp.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "pkg/event/envelope.h"
#include "pkg/kafka/admin.h"
#include "pkg/plan/env.h"
#include "pkg/plan/topics.h"
#include "pkg/proc/net.h"
#include "tests/support/http_client.h"
#include "tests/support/suite_logs.h"

namespace pipewright::testing {
namespace {

std::unique_ptr<RdKafka::KafkaConsumer> make_consumer(const std::string& bootstrap) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  conf->set("bootstrap.servers", bootstrap, err);
  conf->set("group.id", "pipewright-test-reader", err);
  conf->set("enable.auto.commit", "false", err);
  conf->set("auto.offset.reset", "earliest", err);
  std::unique_ptr<RdKafka::KafkaConsumer> c(RdKafka::KafkaConsumer::create(conf.get(), err));
  if (!c) throw std::runtime_error("test consumer: " + err);
  return c;
}

std::vector<int> partitions_of(RdKafka::KafkaConsumer& c, const std::string& topic) {
  std::string err;
  std::unique_ptr<RdKafka::Topic> t(RdKafka::Topic::create(&c, topic, nullptr, err));
  RdKafka::Metadata* raw = nullptr;
  if (c.metadata(false, t.get(), &raw, 5000) != RdKafka::ERR_NO_ERROR) return {};
  std::unique_ptr<RdKafka::Metadata> md(raw);
  std::vector<int> out;
  for (const auto* tm : *md->topics()) {
    if (tm->topic() != topic || tm->err() != RdKafka::ERR_NO_ERROR) continue;
    for (const auto* pm : *tm->partitions())
      out.push_back(pm->id());
  }
  return out;
}

}  // namespace

std::filesystem::path worker_binary() {
  // A benchmark's before/after: another build's worker, same bench binary, same run.
  if (const char* other = std::getenv("PIPEWRIGHT_BENCH_WORKER"); other != nullptr && *other != 0)
    return other;
  return PIPEWRIGHT_WORKER;
}

PipelineRun::PipelineRun(api::Pipeline pipeline, std::string bootstrap,
                         const std::string& namespace_)
    : pipeline_(std::move(pipeline)), bootstrap_(std::move(bootstrap)) {
  pipeline_.meta.namespace_ = namespace_;
  dir_ = component_dir(namespace_ + "-" + pipeline_.meta.name);
  data_dir_ = dir_ / "data";
  std::filesystem::create_directories(data_dir_);
}

PipelineRun::~PipelineRun() {
  for (auto& p : processes_)
    p->process.stop(std::chrono::seconds(10));
}

void PipelineRun::set_config(const std::string& step, nlohmann::json config) {
  for (auto& s : pipeline_.steps) {
    if (s.name == step) {
      s.config = std::move(config);
      return;
    }
  }
  throw std::invalid_argument("no step " + step);
}

void PipelineRun::create_topics() {
  auto admin = kafka::make_admin(bootstrap_);
  for (const auto& r : admin->create(plan::topics(pipeline_))) {
    if (r.outcome == kafka::TopicOutcome::failed) {
      throw std::runtime_error("topic " + r.name + ": " + r.error);
    }
  }
}

std::string PipelineRun::topic(const std::string& logical) const {
  for (const auto& t : plan::topics(pipeline_)) {
    if (t.logical == logical) return t.name;
  }
  throw std::invalid_argument("no topic " + logical);
}

WorkerProcess& PipelineRun::start(const std::string& step,
                                  const std::map<std::string, std::string>& extra_env) {
  const api::Step* s = nullptr;
  for (const auto& candidate : pipeline_.steps) {
    if (candidate.name == step) s = &candidate;
  }
  if (s == nullptr) throw std::invalid_argument("no step " + step);
  const auto config_path = dir_ / (step + ".json");
  std::ofstream(config_path) << s->config.dump();

  auto w = std::make_unique<WorkerProcess>();
  w->step = step;
  w->http_port = proc::free_port();
  w->metrics_port = proc::free_port();
  w->log_file = dir_ / (step + "-" + std::to_string(processes_.size()) + ".log");
  plan::RenderOptions options;
  options.default_bootstrap_servers = bootstrap_;
  auto env = plan::step_env(pipeline_, *s, options, config_path.string());
  plan::set_env(env, "PIPEWRIGHT_KAFKA_BOOTSTRAP", bootstrap_);
  plan::set_env(env, "PIPEWRIGHT_HTTP_PORT", std::to_string(w->http_port));
  plan::set_env(env, "PIPEWRIGHT_METRICS_PORT", std::to_string(w->metrics_port));
  plan::set_env(env, "PIPEWRIGHT_BIND_HOST", "127.0.0.1");
  if (s->storage) plan::set_env(env, "PIPEWRIGHT_DATA_DIR", data_dir_.string());
  for (const auto& [k, v] : extra_env)
    plan::set_env(env, k, v);
  proc::Spec spec{{worker_binary().string(), s->worker}, {}, w->log_file, {}};
  for (const auto& [k, v] : env)
    spec.env[k] = v;
  w->process = proc::Process::start(spec);
  const std::string readyz = w->url() + "/readyz";
  const bool ready = proc::poll_until(std::chrono::seconds(30), [&] {
    if (!w->process.running()) return true;
    return http_get(readyz).status == 200;
  });
  if (!ready || !w->process.running()) {
    throw std::runtime_error("worker " + step + " did not become ready:\n" + tail(w->log_file));
  }
  processes_.push_back(std::move(w));
  return *processes_.back();
}

std::vector<WorkerProcess*> PipelineRun::processes(const std::string& step) {
  std::vector<WorkerProcess*> out;
  for (auto& p : processes_) {
    if (p->step == step) out.push_back(p.get());
  }
  return out;
}

std::string Form::body() const {
  std::string out;
  for (const auto& f : fields) {
    out += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + f.name + "\"";
    if (!f.filename.empty() || !f.content_type.empty()) out += "; filename=\"" + f.filename + "\"";
    out += "\r\n";
    if (!f.content_type.empty()) out += "Content-Type: " + f.content_type + "\r\n";
    out += "\r\n" + f.data + "\r\n";
  }
  return out + "--" + boundary + "--\r\n";
}

double metric_value(const std::string& metrics_url, const std::string& name,
                    const std::string& label_filter) {
  const auto res = http_get(metrics_url);
  if (res.status != 200) return 0;
  double sum = 0;
  std::istringstream in(res.body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (line.compare(0, name.size(), name) != 0) continue;
    if (line.size() > name.size() && line[name.size()] != '{' && line[name.size()] != ' ') continue;
    if (!label_filter.empty() && line.find(label_filter) == std::string::npos) continue;
    sum += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return sum;
}

long long topic_messages(const std::string& bootstrap, const std::string& topic) {
  auto c = make_consumer(bootstrap);
  long long total = 0;
  for (const int p : partitions_of(*c, topic)) {
    int64_t low = 0, high = 0;
    if (c->query_watermark_offsets(topic, p, &low, &high, 5000) == RdKafka::ERR_NO_ERROR) {
      total += high;
    }
  }
  c->close();
  return total;
}

std::vector<ConsumedMessage> read_topic(const std::string& bootstrap, const std::string& topic,
                                        std::size_t min, std::chrono::milliseconds wait) {
  auto c = make_consumer(bootstrap);
  std::vector<RdKafka::TopicPartition*> parts;
  for (const int p : partitions_of(*c, topic))
    parts.push_back(RdKafka::TopicPartition::create(topic, p, RdKafka::Topic::OFFSET_BEGINNING));
  c->assign(parts);
  RdKafka::TopicPartition::destroy(parts);
  std::vector<ConsumedMessage> out;
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (std::chrono::steady_clock::now() < deadline) {
    std::unique_ptr<RdKafka::Message> m(c->consume(100));
    if (m->err() != RdKafka::ERR_NO_ERROR) {
      if (out.size() >= min && m->err() == RdKafka::ERR__TIMED_OUT) break;
      continue;
    }
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
  }
  c->close();
  return out;
}

nlohmann::json event_json(const ConsumedMessage& m) {
  const event::Headers headers(m.headers.begin(), m.headers.end());
  return event::to_structured(event::from_kafka(m.value, headers).event);
}

}  // namespace pipewright::testing
