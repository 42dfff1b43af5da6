#include "tests/support/suite_logs.h"

#include <gtest/gtest.h>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace pipewright::testing {

namespace {
std::filesystem::path logs_root() {
  const char* env = std::getenv("PIPEWRIGHT_TEST_LOGS");
  return env != nullptr ? std::filesystem::path(env)
                        : std::filesystem::temp_directory_path() / "pipewright-test-logs";
}
}  // namespace

std::filesystem::path suite_dir() {
  const auto* suite = ::testing::UnitTest::GetInstance()->current_test_suite();
  const std::string name = suite != nullptr ? suite->name() : "global";
  auto dir = logs_root() / name;
  std::filesystem::create_directories(dir);
  return dir;
}

std::filesystem::path component_dir(const std::string& name) {
  auto dir = suite_dir() / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

std::string read_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string tail(const std::filesystem::path& file, std::size_t max_bytes) {
  const std::string all = read_file(file);
  return all.size() > max_bytes ? all.substr(all.size() - max_bytes) : all;
}

std::filesystem::path source_dir() {
  const char* env = std::getenv("PIPEWRIGHT_SOURCE_DIR");
  return env != nullptr ? std::filesystem::path(env) : std::filesystem::path(PIPEWRIGHT_SOURCE_DIR);
}

// Keeps or removes a suite's logs once its components are torn down (TearDownTestSuite runs
// before OnTestSuiteEnd).
class KeepLogsOnFailure : public ::testing::EmptyTestEventListener {
  // Whatever an earlier run kept is stale for this one.
  void OnTestSuiteStart(const ::testing::TestSuite& suite) override {
    std::filesystem::remove_all(logs_root() / suite.name());
  }
  void OnTestSuiteEnd(const ::testing::TestSuite& suite) override {
    const auto dir = logs_root() / suite.name();
    if (!std::filesystem::exists(dir)) return;
    if (!suite.Failed()) {
      std::filesystem::remove_all(dir);
      return;
    }
    std::cout << "[ LOGS     ] " << suite.name() << " failed; component logs kept in " << dir
              << "\n";
    for (auto it = std::filesystem::recursive_directory_iterator(dir);
         it != std::filesystem::recursive_directory_iterator(); ++it) {
      // Component logs sit in the suite's folder or one below; deeper .log files are data
      // (Kafka's segments).
      if (it.depth() > 1) {
        it.disable_recursion_pending();
        continue;
      }
      const auto& entry = *it;
      if (!entry.is_regular_file() || entry.path().extension() != ".log") continue;
      std::cout << "----- tail of " << entry.path().string() << " -----\n"
                << tail(entry.path(), 2500) << "\n";
    }
  }
};

void install_log_listener() {
  ::testing::UnitTest::GetInstance()->listeners().Append(new KeepLogsOnFailure);
}

}  // namespace pipewright::testing
