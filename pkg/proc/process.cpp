#include "pkg/proc/process.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace pipewright::proc {
namespace {

int status_to_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

Process Process::start(const Spec& spec) {
  if (spec.argv.empty()) throw std::runtime_error("proc: empty argv");

  // Everything the child needs is prepared before fork: after fork only async-signal-safe calls.
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    const std::string key = entry.substr(0, entry.find('='));
    if (!spec.env.contains(key)) env_strings.push_back(entry);
  }
  for (const auto& [k, v] : spec.env)
    env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings)
    envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = spec.argv;
  std::vector<char*> argv;
  for (auto& s : args)
    argv.push_back(s.data());
  argv.push_back(nullptr);

  int log_fd = -1;
  if (!spec.log_file.empty()) {
    std::filesystem::create_directories(spec.log_file.parent_path());
    log_fd = ::open(spec.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  } else {
    log_fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  }
  if (log_fd < 0) {
    throw std::runtime_error("proc: cannot open log " + spec.log_file.string() + ": " +
                             std::strerror(errno));
  }
  // A pipe closed on exec tells us whether exec worked.
  int exec_pipe[2];
  if (::pipe2(exec_pipe, O_CLOEXEC) != 0) {
    ::close(log_fd);
    throw std::runtime_error(std::string("proc: pipe: ") + std::strerror(errno));
  }
  const pid_t parent = ::getpid();
  const std::string cwd = spec.cwd.string();

  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log_fd);
    ::close(exec_pipe[0]);
    ::close(exec_pipe[1]);
    throw std::runtime_error(std::string("proc: fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the parent died before prctl took effect
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    // Descriptors we inherited (sockets of HTTP clients, other children's pipes) must not leak
    // into the child: mark them close-on-exec (the exec pipe already is).
    if (::syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
      for (int fd = 3; fd < 4096; ++fd)
        ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
    const int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, 0);
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) {
      const int err = errno;
      [[maybe_unused]] auto n = ::write(exec_pipe[1], &err, sizeof err);
      ::_exit(127);
    }
    ::execvpe(argv[0], argv.data(), envp.data());
    const int err = errno;
    [[maybe_unused]] auto n = ::write(exec_pipe[1], &err, sizeof err);
    ::_exit(127);
  }
  ::close(log_fd);
  ::close(exec_pipe[1]);
  int child_errno = 0;
  const auto n = ::read(exec_pipe[0], &child_errno, sizeof child_errno);
  ::close(exec_pipe[0]);
  if (n == static_cast<ssize_t>(sizeof child_errno)) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    throw std::runtime_error("proc: cannot start " + spec.argv[0] + ": " +
                             std::strerror(child_errno));
  }
  Process p;
  p.pid_ = pid;
  p.name_ = std::filesystem::path(spec.argv[0]).filename().string();
  return p;
}

Process::Process(Process&& other) noexcept
    : pid_(other.pid_), exit_code_(other.exit_code_), name_(std::move(other.name_)) {
  other.pid_ = -1;
}

Process& Process::operator=(Process&& other) noexcept {
  if (this != &other) {
    stop();
    pid_ = other.pid_;
    exit_code_ = other.exit_code_;
    name_ = std::move(other.name_);
    other.pid_ = -1;
  }
  return *this;
}

Process::~Process() {
  stop();
}

bool Process::reap(bool block) {
  if (pid_ < 0) return true;
  if (exit_code_ >= 0) return true;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
  if (r == pid_) {
    exit_code_ = status_to_code(status);
    return true;
  }
  if (r < 0 && errno == ECHILD) {
    exit_code_ = 0;
    return true;
  }
  return false;
}

bool Process::running() {
  return pid_ > 0 && !reap(false);
}

void Process::kill(int signal) {
  if (pid_ > 0 && exit_code_ < 0) ::kill(-pid_, signal);
}

int Process::stop(std::chrono::milliseconds grace) {
  if (pid_ < 0) return exit_code_;
  if (!reap(false)) {
    ::kill(-pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + grace;
    while (!reap(false) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (exit_code_ < 0) {
      ::kill(-pid_, SIGKILL);
      reap(true);
    }
  }
  // Whatever the leader left behind in its group goes too.
  ::kill(-pid_, SIGKILL);
  pid_ = -1;
  return exit_code_;
}

}  // namespace pipewright::proc
