#include "pkg/local/up.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "pkg/api/manifest.h"
#include "pkg/kafka/admin.h"
#include "pkg/local/dashboard.h"
#include "pkg/local/gateway.h"
#include "pkg/local/kafka_broker.h"
#include "pkg/local/prometheus.h"
#include "pkg/local/smtp_catcher.h"
#include "pkg/local/supervisor.h"
#include "pkg/local/tools.h"
#include "pkg/local/weighted_router.h"
#include "pkg/log/log.h"
#include "pkg/plan/env.h"
#include "pkg/plan/topics.h"
#include "pkg/proc/net.h"
#include "pkg/units/backoff.h"

namespace pipewright::local {
namespace {

using std::chrono::seconds;

// Holds the state folder's lock for the life of a run; the kernel drops it if we die.
class RunLock {
 public:
  explicit RunLock(const std::filesystem::path& dir) : pid_file_(dir / "up.pid") {
    std::filesystem::create_directories(dir);
    fd_ = ::open((dir / "up.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ >= 0 && ::flock(fd_, LOCK_EX | LOCK_NB) == 0) {
      std::ofstream(pid_file_) << ::getpid() << "\n";
      held_ = true;
    }
  }
  ~RunLock() {
    if (held_) std::filesystem::remove(pid_file_);
    if (fd_ >= 0) ::close(fd_);
  }
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;
  bool held() const { return held_; }

 private:
  std::filesystem::path pid_file_;
  int fd_ = -1;
  bool held_ = false;
};

pid_t read_pid(const std::filesystem::path& dir) {
  std::ifstream in(dir / "up.pid");
  long pid = 0;
  in >> pid;
  return static_cast<pid_t>(pid);
}

bool lock_is_held(const std::filesystem::path& dir) {
  const int fd = ::open((dir / "up.lock").c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return false;
  const bool held = ::flock(fd, LOCK_EX | LOCK_NB) != 0;
  ::close(fd);
  return held;
}

// Local mode brings topics to their plan by the operator's policy (kafka::reconcile_topics):
// create, grow, put back the settings the plan names, refuse a decrease. Its record of the
// topics it created (what it may alter) is <state_dir>/topics.created, "broker<TAB>topic" lines,
// the broker being "local" (the one `up` runs, whatever its port) or the --bootstrap given: a
// topic `up` did not create on that broker is used as it is.
std::set<std::string> created_topics(const std::filesystem::path& record,
                                     const std::string& broker) {
  std::set<std::string> out;
  std::ifstream in(record);
  for (std::string line; std::getline(in, line);) {
    const auto tab = line.find('\t');
    if (tab != std::string::npos && line.substr(0, tab) == broker) out.insert(line.substr(tab + 1));
  }
  return out;
}

// Returns the number of topics that are not usable (`up` stops); a refused decrease only warns,
// as the operator keeps the workloads running on the larger topic.
int reconcile_local_topics(const std::string& bootstrap, const std::string& broker,
                           const std::filesystem::path& record,
                           const std::vector<api::Pipeline>& pipelines,
                           const std::function<void(const std::string&)>& say) {
  auto admin = kafka::make_admin(bootstrap);
  auto created = created_topics(record, broker);
  int failed = 0;
  for (const auto& p : pipelines) {
    const auto result = kafka::reconcile_topics(*admin, plan::topics(p), {created, {}});
    std::ofstream out(record, std::ios::app);
    for (const auto& name : result.created) {
      created.insert(name);
      out << broker << '\t' << name << '\n';
    }
    for (const auto& t : result.topics) {
      const bool fresh =
          std::find(result.created.begin(), result.created.end(), t.name) != result.created.end();
      std::string line = "[" + p.meta.name + "] topic " + t.name + ": ";
      if (t.ready) {
        line += fresh ? "created" : "ready";
      } else {
        line += (t.problem == kafka::TopicProblem::partition_decrease_refused ? "WARNING "
                                                                              : "FAILED ") +
                t.reason();
        failed += t.problem != kafka::TopicProblem::partition_decrease_refused &&
                  t.problem != kafka::TopicProblem::created_elsewhere;
      }
      say(line + (t.message.empty() ? "" : " (" + t.message + ")"));
    }
  }
  return failed;
}

// Everything a run starts, in the order it is stopped (reverse of start).
struct Running {
  std::unique_ptr<KafkaBroker> broker;
  std::unique_ptr<SmtpCatcher> smtp;
  std::unique_ptr<Supervisor> supervisor;
  std::vector<std::unique_ptr<WeightedRouter>> routers;
  std::unique_ptr<Dashboard> dashboard;
  std::unique_ptr<Prometheus> prometheus;
  std::unique_ptr<Gateway> gateway;

  void stop(const std::function<void(const std::string&)>& say) {
    if (gateway) gateway->stop();
    if (prometheus) prometheus->stop();
    dashboard.reset();
    if (supervisor) {
      say("[up] stopping the workers (they finish what they hold and commit)");
      supervisor->stop_all();
    }
    for (auto& r : routers)
      r->stop();
    if (smtp) smtp->stop();
    if (broker) {
      say("[kafka] stopping");
      broker->stop();
    }
  }
};

std::string slug(const std::string& s) {
  std::string out;
  for (const char c : s)
    out += std::isalnum(static_cast<unsigned char>(c)) || c == '-' ? c : '.';
  return out;
}

// The step's config as local mode runs it: `smtp` channels without a host go to the catcher.
nlohmann::json local_config(const api::Step& step, int smtp_port) {
  auto config = step.config;
  if (step.worker != "notify" || !config.is_object()) return config;
  const auto channels = config.value("channels", nlohmann::json::array());
  const bool smtp =
      channels.is_array() && std::find(channels.begin(), channels.end(), "smtp") != channels.end();
  if (!smtp) return config;
  auto& settings = config["smtp"];
  if (!settings.is_object()) settings = nlohmann::json::object();
  if (!settings.contains("host")) {
    settings["host"] = "127.0.0.1";
    settings["port"] = smtp_port;
    settings["starttls"] = false;  // the catcher is plain SMTP on loopback
  }
  return config;
}

// The local broker supervised like the workers: when it dies (SIGKILL, the OOM killer, a JVM
// crash) it is started again on the same ports and data folder, with capped backoff, and the
// workers, whose clients keep dialling the same bootstrap address, reconnect by themselves.
// Its state is read by the dashboard's threads, hence the lock.
class BrokerWatch {
 public:
  void started(KafkaBroker* broker) {
    const std::lock_guard lock(mutex_);
    broker_ = broker;
    if (broker_ != nullptr) pid_ = broker_->pid();
  }
  // Called by the run loop when the broker is not running. Blocks while it starts (seconds).
  void restart(const std::function<void(const std::string&)>& say) {
    const auto now = std::chrono::steady_clock::now();
    if (broker_ == nullptr || now < next_try_) return;
    {
      const std::lock_guard lock(mutex_);
      up_ = false;
    }
    say("[kafka] the broker exited; starting it again on " + broker_->bootstrap() +
        " with the same data (log: " + broker_->log_file().string() + ")");
    try {
      broker_->restart();
      backoff_.reset();
      const std::lock_guard lock(mutex_);
      up_ = true;
      pid_ = broker_->pid();
      ++restarts_;
      say("[kafka] ready again at " + broker_->bootstrap());
    } catch (const std::exception& e) {
      const auto wait = backoff_.next();
      say(std::string("[kafka] did not come back (") + e.what() + "); trying again in " +
          std::to_string(wait.count() / 1000) + " s");
      next_try_ = now + wait;
      const std::lock_guard lock(mutex_);
      ++restarts_;
    }
  }
  SupervisedStatus status() const {
    const std::lock_guard lock(mutex_);
    return {"kafka", pid_, up_, up_, restarts_, 0};
  }

 private:
  mutable std::mutex mutex_;
  KafkaBroker* broker_ = nullptr;
  int pid_ = -1;
  bool up_ = true;
  int restarts_ = 0;
  units::Backoff backoff_{seconds(1), seconds(30)};
  std::chrono::steady_clock::time_point next_try_{};
};

int run(const api::Manifests& manifests, const UpOptions& options,
        const std::filesystem::path& worker, const std::atomic<bool>& stop,
        const std::function<void(const std::string&)>& say, std::ostream& out,
        std::mutex& out_mutex, std::ostream& err, const std::filesystem::path& run_file) {
  // Declared before `running`: the dashboard (stopped with `running`) reads it.
  BrokerWatch broker_watch;
  Running running;
  const auto cleanup = [&] {
    running.stop(say);
    std::filesystem::remove(run_file);
  };
  std::string bootstrap = options.bootstrap;
  if (bootstrap.empty()) {
    KafkaOptions ko;
    ko.dir = options.state_dir / "kafka";
    ko.port =
        options.kafka_port == 0 || proc::port_open(options.kafka_port) ? 0 : options.kafka_port;
    say("[kafka] starting a local broker (first start formats its storage; log: " +
        (ko.dir / "kafka.log").string() + ")");
    running.broker = KafkaBroker::start(ko);
    bootstrap = running.broker->bootstrap();
    say("[kafka] ready at " + bootstrap);
  } else if (!kafka_answers(bootstrap, seconds(10))) {
    err << "pipewright up: no Kafka broker answers at " << bootstrap << "\n";
    return 1;
  }

  try {
    const std::string broker = running.broker ? "local" : bootstrap;
    if (const int failed = reconcile_local_topics(
            bootstrap, broker, options.state_dir / "topics.created", manifests.pipelines, say);
        failed > 0) {
      err << "pipewright up: " << failed << " topic(s) could not be brought to their plan\n";
      cleanup();
      return 1;
    }
  } catch (const std::exception& e) {
    err << "pipewright up: Kafka at " << bootstrap << ": " << e.what() << "\n";
    cleanup();
    return 1;
  }

  running.smtp = std::make_unique<SmtpCatcher>(options.smtp_port, options.state_dir / "mail.jsonl");
  say("[mail] catching SMTP on 127.0.0.1:" + std::to_string(running.smtp->port()));

  // Every process of the plan, with its ports chosen once (a restart keeps them).
  const auto logs = options.state_dir / "logs";
  std::filesystem::create_directories(logs);
  running.supervisor = std::make_unique<Supervisor>(out, out_mutex, options.echo_logs);
  std::vector<ScrapeTarget> targets;
  std::vector<GatewayRoute> routes;
  nlohmann::json processes = nlohmann::json::array();
  const auto launch = [&](const std::string& name, const std::string& type, plan::EnvVars env,
                          const std::string& kind, const std::string& owner) {
    const int http_port = proc::free_port();
    const int metrics_port = proc::free_port();
    contract::set(env, contract::env::kHttpPort, http_port);
    contract::set(env, contract::env::kMetricsPort, metrics_port);
    contract::set(env, contract::env::kBindHost, "127.0.0.1");
    Supervised child;
    child.name = name;
    child.metrics_port = metrics_port;
    child.spec.argv = {worker.string(), type};
    for (const auto& [k, v] : env)
      child.spec.env[k] = v;
    child.spec.log_file = logs / (slug(name) + ".log");
    running.supervisor->add(child);
    targets.push_back(
        {"127.0.0.1:" + std::to_string(metrics_port), {{"process", name}, {kind, owner}}});
    processes.push_back({{"name", name},
                         {"worker", type},
                         {"http_port", http_port},
                         {"metrics_port", metrics_port},
                         {"log", child.spec.log_file.string()}});
    return http_port;
  };
  plan::RenderOptions render;
  render.default_bootstrap_servers = bootstrap;
  for (const auto& p : manifests.pipelines) {
    const auto dir = options.state_dir / "pipelines" / p.meta.namespace_ / p.meta.name;
    std::filesystem::create_directories(dir / "data");
    for (const auto& s : p.steps) {
      if (s.worker.empty()) {
        say("[" + p.meta.name + "/" + s.name + "] skipped: image '" + s.image +
            "' steps run only in a cluster");
        continue;
      }
      const auto config_path = dir / (s.name + ".json");
      std::ofstream(config_path) << local_config(s, running.smtp->port()).dump(2) << "\n";
      auto env = plan::step_env(p, s, render, config_path.string());
      contract::set(env, contract::env::kKafkaBootstrap, bootstrap);
      if (s.storage) contract::set(env, contract::env::kDataDir, (dir / "data").string());
      GatewayRoute route{s.expose_path, {}};
      for (int i = 0; i < s.replicas; ++i) {
        const auto name =
            p.meta.name + "/" + s.name + (s.replicas > 1 ? "-" + std::to_string(i) : "");
        route.ports.push_back(launch(name, s.worker, env, "pipeline", p.meta.name));
      }
      if (!s.expose_path.empty() && !route.ports.empty()) routes.push_back(route);
    }
  }
  for (const auto& w : manifests.weighted_services) {
    const auto dir = options.state_dir / "services" / w.meta.namespace_ / w.meta.name;
    std::filesystem::create_directories(dir);
    const auto config_path = dir / "config.json";
    std::ofstream(config_path) << w.config.dump(2) << "\n";
    std::map<std::string, int> ports;
    for (const auto& b : w.backends) {
      ports[b.name] =
          launch(w.meta.name + "/" + b.name, w.worker,
                 plan::service_backend_env(w, b, config_path.string()), "service", w.meta.name);
    }
    running.routers.push_back(WeightedRouter::start(
        w, [&](const api::Backend& b) { return "127.0.0.1:" + std::to_string(ports.at(b.name)); },
        {dir / "router", 0, 1}));
    say("[" + w.meta.name + "] router (nginx) on " + running.routers.back()->url() + ", config " +
        running.routers.back()->config_file().string());
    if (!w.expose_path.empty()) routes.push_back({w.expose_path, {running.routers.back()->port()}});
  }

  running.prometheus =
      Prometheus::start(options.state_dir / "prometheus", options.prometheus_port, targets);
  say("[prometheus] scraping " + std::to_string(targets.size()) + " process(es) on " +
      running.prometheus->url());

  // The gateway's address is fixed first, so the dashboard can link to everything.
  const int gateway_port = options.gateway_port != 0 ? options.gateway_port : proc::free_port();
  const auto gateway_url = "http://127.0.0.1:" + std::to_string(gateway_port);
  nlohmann::json urls = {{"dashboard", gateway_url + "/"},
                         {"prometheus", running.prometheus->url()},
                         {"mail", gateway_url + "/api/mail"}};
  for (const auto& r : routes)
    urls[r.path] = gateway_url + r.path;
  DashboardSources sources;
  sources.manifests = manifests;
  sources.processes = [&running, &broker_watch] {
    auto all = running.supervisor->status();
    if (running.broker) all.insert(all.begin(), broker_watch.status());
    return all;
  };
  sources.mail = [&running] { return running.smtp->messages(); };
  sources.prometheus_port = running.prometheus->port();
  for (const auto& [name, url] : urls.items())
    sources.urls[name] = url.get<std::string>();
  running.dashboard = std::make_unique<Dashboard>(sources, 0);
  running.gateway = std::make_unique<Gateway>(options.state_dir / "gateway", routes, gateway_port,
                                              running.dashboard->port());

  say("\nRunning. Open:");
  for (const auto& [name, url] : urls.items())
    say("  " + name + std::string(name.size() < 12 ? 12 - name.size() : 1, ' ') +
        url.get<std::string>());
  say("  kafka       " + bootstrap + "\n  smtp        127.0.0.1:" +
      std::to_string(running.smtp->port()) + "\nStop with Ctrl-C or `pipewright down`.");
  {
    nlohmann::json info = {{"pid", ::getpid()},
                           {"gateway", running.gateway->url()},
                           {"gateway_port", running.gateway->port()},
                           {"prometheus", running.prometheus->url()},
                           {"smtp_port", running.smtp->port()},
                           {"kafka", bootstrap},
                           {"urls", urls},
                           {"processes", processes}};
    std::ofstream(run_file.string() + ".tmp") << info.dump(2) << "\n";
    std::filesystem::rename(run_file.string() + ".tmp", run_file);
  }
  log::info("up: running", {{"bootstrap", bootstrap}, {"state_dir", options.state_dir.string()}});

  bool announced = false;
  int code = 0;
  broker_watch.started(running.broker.get());
  while (!stop.load()) {
    running.supervisor->tick();
    if (!announced && running.supervisor->all_ready()) {
      announced = true;
      say("[up] every process is ready (" + std::to_string(processes.size()) + ")");
    }
    if (running.broker && !running.broker->running()) broker_watch.restart(say);
    if (!running.gateway->running()) {
      err << "pipewright up: the gateway (nginx) exited; see "
          << (options.state_dir / "gateway" / "error.log").string() << "\n";
      code = 1;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  say("Stopping...");
  cleanup();
  say("Stopped.");
  return code;
}
}  // namespace

std::filesystem::path default_state_dir() {
  if (const char* s = std::getenv("XDG_STATE_HOME"); s != nullptr && *s != '\0') {
    return std::filesystem::path(s) / "pipewright";
  }
  const char* home = std::getenv("HOME");
  return std::filesystem::path(home != nullptr ? home : "/tmp") / ".local" / "state" / "pipewright";
}

int up(const UpOptions& options, const std::atomic<bool>& stop, std::ostream& out,
       std::ostream& err) {
  api::Manifests manifests;
  try {
    manifests = api::load(options.files);
  } catch (const api::ManifestError& e) {
    err << "pipewright up: invalid manifests:\n" << e.what() << "\n";
    return 1;
  }
  RunLock lock(options.state_dir);
  if (!lock.held()) {
    err << "pipewright up: another run (pid " << read_pid(options.state_dir) << ") is using "
        << options.state_dir.string() << "; stop it with `pipewright down` or pass --state-dir\n";
    return 1;
  }
  // Fixed ports that are taken mean another run (or another program): say which, start nothing.
  for (const auto& [flag, port] : {std::pair{"--gateway-port", options.gateway_port},
                                   std::pair{"--prometheus-port", options.prometheus_port},
                                   std::pair{"--smtp-port", options.smtp_port}}) {
    if (port != 0 && proc::port_open(port)) {
      err << "pipewright up: 127.0.0.1:" << port
          << " is already in use (another `pipewright up`? stop it with `pipewright down`, or "
             "pass "
          << flag << " 0 to let the system pick a port)\n";
      return 1;
    }
  }
  std::filesystem::path worker;
  try {
    worker = worker_binary();
  } catch (const std::exception& e) {
    err << "pipewright up: " << e.what() << "\n";
    return 1;
  }
  std::mutex out_mutex;
  const auto say = [&](const std::string& line) {
    const std::lock_guard guard(out_mutex);
    out << line << "\n" << std::flush;
  };
  say("pipewright up: " + std::to_string(manifests.pipelines.size()) + " Pipeline(s), " +
      std::to_string(manifests.weighted_services.size()) + " WeightedService(s); state in " +
      options.state_dir.string());
  const auto run_file = options.state_dir / "run.json";
  std::filesystem::remove(run_file);

  try {
    return run(manifests, options, worker, stop, say, out, out_mutex, err, run_file);
  } catch (const std::exception& e) {
    err << "pipewright up: " << e.what() << "\n";
    std::filesystem::remove(run_file);
    return 1;
  }
}

int down(const std::filesystem::path& state_dir, std::ostream& out, std::ostream& err) {
  if (!lock_is_held(state_dir)) {
    out << "pipewright down: nothing is running (state folder " << state_dir.string() << ")\n";
    return 0;
  }
  const pid_t pid = read_pid(state_dir);
  if (pid <= 0 || ::kill(pid, SIGTERM) != 0) {
    err << "pipewright down: cannot signal pid " << pid << ": " << std::strerror(errno) << "\n";
    return 1;
  }
  out << "pipewright down: stopping pid " << pid << "\n" << std::flush;
  if (!proc::poll_until(
          seconds(60), [&] { return !lock_is_held(state_dir); }, std::chrono::milliseconds(100))) {
    err << "pipewright down: pid " << pid << " did not stop within 60 s\n";
    return 1;
  }
  out << "pipewright down: stopped\n";
  return 0;
}

}  // namespace pipewright::local
