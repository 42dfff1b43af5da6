// The `pipewright` command as a user runs it: help and validate (`up` and `down`: up_test.cpp).

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

}  // namespace
}  // namespace pipewright
