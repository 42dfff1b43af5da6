#include "bench/support/pipeline_bench.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>

#include "pkg/kafka/admin.h"
#include "pkg/proc/net.h"
#include "tests/support/suite_logs.h"

namespace pipewright::bench {
namespace {

using nlohmann::json;

void set(RdKafka::Conf& c, const std::string& key, const std::string& value) {
  std::string err;
  if (c.set(key, value, err) != RdKafka::Conf::CONF_OK) throw std::runtime_error(err);
}

std::unique_ptr<RdKafka::Conf> conf(const std::string& bootstrap) {
  std::unique_ptr<RdKafka::Conf> c(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  set(*c, "bootstrap.servers", bootstrap);
  return c;
}

double self_cpu_seconds() {
  // Every thread this process ever had, ended ones included (a round's producer is gone by the
  // time the round's CPU is read).
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  const auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(u.ru_utime) + seconds(u.ru_stime);
}

}  // namespace

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::vector<int> env_ints(const char* name, const std::vector<int>& fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  std::vector<int> out;
  std::stringstream in(v);
  for (std::string item; std::getline(in, item, ',');)
    out.push_back(std::stoi(item));
  return out;
}

std::unique_ptr<RdKafka::Producer> producer(const std::string& bootstrap) {
  auto c = conf(bootstrap);
  set(*c, "enable.idempotence", "true");
  set(*c, "acks", "all");
  set(*c, "linger.ms", "2");
  std::string err;
  std::unique_ptr<RdKafka::Producer> p(RdKafka::Producer::create(c.get(), err));
  if (!p) throw std::runtime_error(err);
  return p;
}

void produce(RdKafka::Producer& p, const std::string& topic, const std::string& key,
             const std::string& value) {
  for (;;) {
    const auto err = p.produce(topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                               const_cast<char*>(value.data()), value.size(), key.data(),
                               key.size(), 0, nullptr);
    if (err == RdKafka::ERR_NO_ERROR) return;
    if (err != RdKafka::ERR__QUEUE_FULL) throw std::runtime_error(RdKafka::err2str(err));
    p.poll(10);
  }
}

void produce(RdKafka::Producer& p, const std::string& topic, const std::string& key,
             const std::string& value,
             const std::vector<std::pair<std::string, std::string>>& headers) {
  for (;;) {
    auto* h = RdKafka::Headers::create();
    for (const auto& [name, v] : headers)
      h->add(name, v);
    // On success librdkafka owns the headers; on failure they are still ours.
    const auto err = p.produce(topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                               const_cast<char*>(value.data()), value.size(), key.data(),
                               key.size(), 0, h, nullptr);
    if (err == RdKafka::ERR_NO_ERROR) return;
    delete h;
    if (err != RdKafka::ERR__QUEUE_FULL) throw std::runtime_error(RdKafka::err2str(err));
    p.poll(10);
  }
}

void create_topics(const std::string& bootstrap, const std::vector<std::string>& topics,
                   int partitions) {
  auto admin = kafka::make_admin(bootstrap);
  std::vector<kafka::TopicSpec> specs;
  for (const auto& t : topics)
    specs.push_back({t, t, partitions, 1, {}, false, false});
  for (const auto& r : admin->create(specs)) {
    if (r.outcome == kafka::TopicOutcome::failed) throw std::runtime_error(r.error);
  }
}

Watcher::Watcher(const std::string& bootstrap, const std::vector<std::string>& topics,
                 std::string prefix, std::size_t n)
    : prefix_(std::move(prefix)), n_(n) {
  auto c = conf(bootstrap);
  set(*c, "group.id", "bench-watcher");
  set(*c, "enable.auto.commit", "false");
  std::string err;
  consumer_.reset(RdKafka::KafkaConsumer::create(c.get(), err));
  if (!consumer_) throw std::runtime_error(err);
  std::vector<RdKafka::TopicPartition*> parts;
  for (const auto& t : topics) {
    RdKafka::Metadata* raw = nullptr;
    std::unique_ptr<RdKafka::Topic> handle(
        RdKafka::Topic::create(consumer_.get(), t, nullptr, err));
    if (consumer_->metadata(false, handle.get(), &raw, 10000) != RdKafka::ERR_NO_ERROR)
      throw std::runtime_error("no metadata for " + t);
    const std::unique_ptr<RdKafka::Metadata> md(raw);
    for (const auto* tm : *md->topics()) {
      for (const auto* pm : *tm->partitions()) {
        int64_t low = 0, high = 0;
        if (consumer_->query_watermark_offsets(t, pm->id(), &low, &high, 10000) !=
            RdKafka::ERR_NO_ERROR)
          throw std::runtime_error("no watermarks for " + t);
        parts.push_back(RdKafka::TopicPartition::create(t, pm->id(), high));
      }
    }
  }
  consumer_->assign(parts);
  RdKafka::TopicPartition::destroy(parts);
  thread_ = std::thread([this] { loop(); });
}

Watcher::~Watcher() {
  stop_ = true;
  thread_.join();
  consumer_->close();
}

bool Watcher::wait(std::chrono::seconds limit) {
  return proc::poll_until(limit, [&] {
    const std::lock_guard lock(mutex_);
    return seen_.size() >= n_;
  });
}

std::map<std::string, Clock::time_point> Watcher::seen() {
  const std::lock_guard lock(mutex_);
  return seen_;
}

void Watcher::loop() {
  while (!stop_) {
    const std::unique_ptr<RdKafka::Message> m(consumer_->consume(50));
    if (m->err() != RdKafka::ERR_NO_ERROR) continue;
    const auto now = Clock::now();
    const auto* v = static_cast<const char*>(m->payload());
    const auto e = json::parse(v, v + m->len(), nullptr, false);
    if (!e.is_object()) continue;
    // A binary-mode CloudEvent's value is its data; a structured one or an envelope has it
    // under "data"; a peer's copy is the posted body itself.
    const auto id = e.contains("data") && e["data"].is_object()
                        ? e["data"].value("id", e.value("id", ""))
                        : e.value("id", "");
    if (!id.starts_with(prefix_)) continue;
    const std::lock_guard lock(mutex_);
    seen_.try_emplace(id, now);
  }
}

Rate measure(const std::map<std::string, Clock::time_point>& sent, Watcher& watcher,
             Clock::time_point start) {
  Rate r;
  auto last = start;
  for (const auto& [id, at] : watcher.seen()) {
    const auto s = sent.find(id);
    if (s == sent.end()) continue;
    last = std::max(last, at);
    r.latency_ms.push_back(std::chrono::duration<double, std::milli>(at - s->second).count());
  }
  const double seconds = std::chrono::duration<double>(last - start).count();
  r.rate = seconds > 0 ? static_cast<double>(r.latency_ms.size()) / seconds : 0;
  r.p50_ms = percentile(r.latency_ms, 0.5);
  r.p99_ms = percentile(r.latency_ms, 0.99);
  return r;
}

double cpu_seconds(pid_t pid) {
  // Nanoseconds on CPU per thread (schedstat) rather than stat's 10 ms ticks: a relay's round
  // can take less than one tick. Threads that ended took their time with them; the workers'
  // and peers' threads live as long as the process.
  double ns = 0;
  const std::filesystem::path tasks = "/proc/" + std::to_string(pid) + "/task";
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator(tasks, ec)) {
    std::ifstream in(task.path() / "schedstat");
    double on_cpu = 0;
    if (in >> on_cpu) ns += on_cpu;
  }
  if (ec) throw std::runtime_error("no " + tasks.string() + ": " + ec.message());
  return ns / 1e9;
}

CpuWindow::CpuWindow(std::map<std::string, pid_t> processes)
    : processes_(std::move(processes)), bench_(self_cpu_seconds()), machine_(machine()) {
  for (const auto& [name, pid] : processes_)
    start_[name] = cpu_seconds(pid);
}

CpuWindow::Machine CpuWindow::machine() {
  // "cpu  user nice system idle iowait irq softirq steal guest guest_nice" in USER_HZ ticks;
  // guest time is inside user already.
  std::ifstream in("/proc/stat");
  std::string label;
  double user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  if (!(in >> label >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal) ||
      label != "cpu")
    throw std::runtime_error("cannot read /proc/stat");
  const auto hz = static_cast<double>(sysconf(_SC_CLK_TCK));
  return {(user + nice + system + irq + softirq + steal) / hz, (idle + iowait) / hz};
}

std::map<std::string, double> CpuWindow::finish() const {
  const auto now = machine();
  std::map<std::string, double> out;
  out["bench"] = self_cpu_seconds() - bench_;
  double known = out["bench"];
  for (const auto& [name, pid] : processes_) {
    out[name] = cpu_seconds(pid) - start_.at(name);
    known += out[name];
  }
  const double busy = now.busy - machine_.busy;
  out["idle"] = now.idle - machine_.idle;
  out["other"] = busy - known;
  out["machine"] = busy + out["idle"];
  return out;
}

Peer::Peer(const std::string& program, std::vector<std::string> args, bool port_file) {
  const auto dir = testing::component_dir(program);
  const auto file = dir / "port";
  args.insert(args.begin(), (std::filesystem::path(PIPEWRIGHT_BENCH_PEERS) / program).string());
  if (port_file) args.push_back(file.string());
  process_ = proc::Process::start({args, {}, dir / (program + ".log"), dir});
  if (!port_file) return;
  const bool ready = proc::poll_until(std::chrono::seconds(30), [&] {
    return !process_.running() || std::filesystem::exists(file);
  });
  if (!ready || !process_.running())
    throw std::runtime_error(program +
                             " did not start: " + testing::tail(dir / (program + ".log")));
  std::ifstream in(file);
  in >> port_;
}

Peer::~Peer() {
  process_.stop();
}

void record(const nlohmann::json& result) {
  std::cout << "BENCH_RESULT " << result.dump() << std::endl;
  if (const char* path = std::getenv("PIPEWRIGHT_BENCH_RESULTS"); path != nullptr && *path != 0) {
    std::ofstream out(path, std::ios::app);
    out << result.dump() << "\n";
  }
}

}  // namespace pipewright::bench
