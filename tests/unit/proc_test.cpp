#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>
#include <csignal>

#include "pkg/proc/net.h"
#include "pkg/proc/process.h"
#include "pkg/proc/run.h"
#include "tests/support/suite_logs.h"

namespace pipewright::proc {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(Run, CapturesOutputAndExitCode) {
  const auto r = run({"sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.output.find("out"), std::string::npos);
  EXPECT_NE(r.output.find("err"), std::string::npos);
  EXPECT_FALSE(r.timed_out);
}

TEST(Run, KillsACommandPastItsDeadline) {
  const auto start = std::chrono::steady_clock::now();
  const auto r = run({"sleep", "30"}, milliseconds(200));
  EXPECT_TRUE(r.timed_out);
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(10));
}

TEST(Process, AMissingProgramIsAClearError) {
  try {
    Process::start({{"/nonexistent/program"}, {}, {}, {}});
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/program"), std::string::npos) << e.what();
  }
}

TEST(Process, StopTakesTheWholeProcessGroup) {
  const auto pidfile = testing::suite_dir() / "grandchild.pid";
  // The shell starts a grandchild and waits; stopping the shell must stop the grandchild too.
  Process p = Process::start(
      {{"sh", "-c", "sleep 300 & echo $! > " + pidfile.string() + "; wait"}, {}, {}, {}});
  ASSERT_TRUE(poll_until(seconds(5), [&] {
    return std::filesystem::exists(pidfile) && std::filesystem::file_size(pidfile) > 0;
  }));
  const pid_t grandchild = std::stoi(testing::read_file(pidfile));
  ASSERT_EQ(::kill(grandchild, 0), 0);
  p.stop(seconds(5));
  EXPECT_TRUE(poll_until(seconds(5), [&] { return ::kill(grandchild, 0) != 0; }))
      << "grandchild " << grandchild << " outlived its group";
}

TEST(Process, EscalatesToSigkillWhenTermIsIgnored) {
  const auto ready = testing::suite_dir() / "trap.ready";
  std::filesystem::remove(ready);
  Process p = Process::start(
      {{"sh", "-c", "trap '' TERM; touch " + ready.string() + "; while :; do sleep 0.1; done"},
       {},
       {},
       {}});
  // Only once the shell ignores TERM does the test say anything about escalation.
  ASSERT_TRUE(poll_until(seconds(5), [&] { return std::filesystem::exists(ready); }));
  EXPECT_EQ(p.stop(milliseconds(300)), 128 + SIGKILL);
  EXPECT_FALSE(p.running());
}

TEST(Process, EnvironmentAndLogFileReachTheChild) {
  const auto log = testing::suite_dir() / "env.log";
  std::filesystem::remove(log);
  Process p = Process::start(
      {{"sh", "-c", "echo \"value=$PW_TEST_VALUE\""}, {{"PW_TEST_VALUE", "42"}}, log, {}});
  ASSERT_TRUE(poll_until(seconds(5), [&] { return !p.running(); }));
  EXPECT_EQ(p.exit_code(), 0);
  EXPECT_EQ(testing::read_file(log), "value=42\n");
}

TEST(Process, ChildrenInheritNoSocketsOfOurs) {
  // A socket without close-on-exec, as HTTP client libraries leave them.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 3);
  const auto r = run({"sh", "-c", "ls -l /proc/$$/fd | grep -c socket || true"});
  ::close(fd);
  EXPECT_EQ(r.output, "0\n");
}

TEST(Net, FreePortIsBindableAndClosedPortsAreReportedClosed) {
  const int port = free_port();
  EXPECT_GT(port, 0);
  EXPECT_FALSE(port_open(port));
}

TEST(Net, PollUntilGivesUpAtItsDeadline) {
  int calls = 0;
  EXPECT_FALSE(poll_until(
      milliseconds(100),
      [&] {
        ++calls;
        return false;
      },
      milliseconds(10)));
  EXPECT_GE(calls, 2);
  EXPECT_TRUE(poll_until(milliseconds(100), [] { return true; }));
}

}  // namespace
}  // namespace pipewright::proc
