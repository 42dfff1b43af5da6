// The `pipewright` command as a user runs it: help, validate, and `up` on the shipped examples
// with a real local Kafka broker, then `down`, leaving nothing behind.

#include <gtest/gtest.h>
#include <fstream>

#include "pkg/kafka/admin.h"
#include "pkg/proc/net.h"
#include "pkg/proc/process.h"
#include "pkg/proc/run.h"
#include "tests/support/suite_logs.h"

namespace pipewright {
namespace {

using std::chrono::seconds;

proc::RunResult cli(std::vector<std::string> args) {
  args.insert(args.begin(), PIPEWRIGHT_CLI);
  return proc::run(args, seconds(60));
}

TEST(Cli, EveryCommandHasHelp) {
  for (const std::string c : {"up", "down", "validate", "render", "version"}) {
    const auto r = cli({c, "--help"});
    EXPECT_EQ(r.exit_code, 0) << c;
    EXPECT_NE(r.output.find("Usage: pipewright " + c), std::string::npos) << r.output;
  }
  EXPECT_EQ(cli({"--help"}).exit_code, 0);
  const auto bad = cli({"upp"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.output.find("unknown command 'upp'"), std::string::npos);
  const auto flag = cli({"up", "--fil", "x"});
  EXPECT_EQ(flag.exit_code, 2);
  EXPECT_NE(flag.output.find("unknown flag '--fil'"), std::string::npos);
}

TEST(Cli, ValidateNamesTheFileLineAndField) {
  const auto ok = cli({"validate", "-f", (testing::source_dir() / "examples").string()});
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_NE(ok.output.find("valid"), std::string::npos);

  const auto bad_file = testing::suite_dir() / "bad.yaml";
  std::ofstream(bad_file)
      << "apiVersion: pipewright.io/v1alpha1\nkind: Pipeline\nmetadata: {name: x}\n"
         "spec:\n  steps:\n    - {name: a, worker: rotat}\n";
  const auto bad = cli({"validate", "-f", bad_file.string()});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.output.find(bad_file.string() + ":6: spec.steps[0].worker: unknown worker 'rotat'"),
            std::string::npos)
      << bad.output;
}

TEST(Cli, UpCreatesTheExamplesTopicsOnALocalBrokerAndDownStopsEverything) {
  const auto state = testing::suite_dir() / "state";
  const auto log = testing::suite_dir() / "up.log";
  auto up = proc::Process::start(
      {{PIPEWRIGHT_CLI, "up", "-f", (testing::source_dir() / "examples").string(), "--state-dir",
        state.string()},
       {},
       log,
       {}});
  std::string bootstrap;
  ASSERT_TRUE(proc::poll_until(
      seconds(120),
      [&] {
        const auto out = testing::read_file(log);
        const auto at = out.find("Running. Kafka: ");
        if (at != std::string::npos) bootstrap = out.substr(at + 16, out.find('\n', at) - at - 16);
        return !bootstrap.empty() || !up.running();
      },
      std::chrono::milliseconds(200)))
      << testing::tail(log);
  ASSERT_FALSE(bootstrap.empty()) << testing::tail(log);

  const auto topics = kafka::make_admin(bootstrap)->describe(
      {"demo.images.images", "demo.orders.orders-valid", "demo.events.enriched"});
  EXPECT_EQ(topics[0].partitions, 3);
  EXPECT_EQ(topics[1].partitions, 3);
  EXPECT_EQ(topics[2].partitions, 4);

  // A second `up` on the same state folder refuses instead of colliding.
  const auto second = cli(
      {"up", "-f", (testing::source_dir() / "examples").string(), "--state-dir", state.string()});
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_NE(second.output.find("another run"), std::string::npos) << second.output;

  const int port = std::stoi(bootstrap.substr(bootstrap.rfind(':') + 1));
  const auto down = cli({"down", "--state-dir", state.string()});
  EXPECT_EQ(down.exit_code, 0) << down.output;
  EXPECT_TRUE(proc::poll_until(seconds(30), [&] { return !up.running(); }));
  EXPECT_EQ(up.exit_code(), 0) << testing::tail(log);
  EXPECT_FALSE(proc::port_open(port)) << "the Kafka broker outlived `pipewright down`";
  EXPECT_NE(testing::read_file(log).find("Stopped."), std::string::npos);
}

}  // namespace
}  // namespace pipewright
