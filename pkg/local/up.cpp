#include "pkg/local/up.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <thread>

#include "pkg/api/manifest.h"
#include "pkg/kafka/admin.h"
#include "pkg/local/kafka_broker.h"
#include "pkg/log/log.h"
#include "pkg/plan/topics.h"
#include "pkg/proc/net.h"

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

const char* outcome_text(kafka::TopicOutcome o) {
  switch (o) {
    case kafka::TopicOutcome::created:
      return "created";
    case kafka::TopicOutcome::exists:
      return "exists";
    case kafka::TopicOutcome::failed:
      return "FAILED";
  }
  return "?";
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
  out << "pipewright up: " << manifests.pipelines.size() << " Pipeline(s), "
      << manifests.weighted_services.size() << " WeightedService(s)\n"
      << std::flush;

  std::unique_ptr<KafkaBroker> broker;
  std::string bootstrap = options.bootstrap;
  if (bootstrap.empty()) {
    KafkaOptions ko;
    ko.dir = options.state_dir / "kafka";
    ko.port = proc::port_open(options.kafka_port) ? 0 : options.kafka_port;
    out << "[kafka] starting a local broker (first start formats its storage; log: "
        << (ko.dir / "kafka.log").string() << ")\n"
        << std::flush;
    try {
      broker = KafkaBroker::start(ko);
    } catch (const std::exception& e) {
      err << "pipewright up: the Kafka broker did not start: " << e.what() << "\n";
      return 1;
    }
    bootstrap = broker->bootstrap();
    out << "[kafka] ready at " << bootstrap << "\n" << std::flush;
  } else if (!kafka_answers(bootstrap, seconds(10))) {
    err << "pipewright up: no Kafka broker answers at " << bootstrap << "\n";
    return 1;
  }

  auto admin = kafka::make_admin(bootstrap);
  int failed = 0;
  for (const auto& p : manifests.pipelines) {
    const auto topics = plan::topics(p);
    for (const auto& r : admin->create(topics)) {
      out << "[" << p.meta.name << "] topic " << r.name << ": " << outcome_text(r.outcome)
          << (r.error.empty() ? "" : " (" + r.error + ")") << "\n";
      failed += r.outcome == kafka::TopicOutcome::failed;
    }
    for (const auto& s : p.steps) {
      out << "[" << p.meta.name << "/" << s.name << "] not yet: worker '"
          << (s.worker.empty() ? s.image : s.worker)
          << "' is not run by this version of local mode\n";
    }
  }
  for (const auto& w : manifests.weighted_services) {
    out << "[" << w.meta.name << "] not yet: the weighted router and its " << w.backends.size()
        << " backends are not run by this version of local mode\n";
  }
  if (failed > 0) {
    err << "pipewright up: " << failed << " topic(s) could not be created\n";
    return 1;
  }
  out << "\nRunning. Kafka: " << bootstrap << "\n"
      << "Stop with Ctrl-C or `pipewright down`.\n"
      << std::flush;
  log::info("up: running", {{"bootstrap", bootstrap}, {"state_dir", options.state_dir.string()}});

  while (!stop.load()) {
    if (broker && !broker->running()) {
      err << "pipewright up: the Kafka broker exited; see " << broker->log_file().string() << "\n";
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  out << "Stopping...\n" << std::flush;
  broker.reset();
  out << "Stopped.\n" << std::flush;
  return 0;
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
