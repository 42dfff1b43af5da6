// Append-only line files read while (or after) a writer appends: an unterminated last line is
// not a line yet, in the JSON-lines logs (audit, orders) and in the SeenLog alike.

#include <gtest/gtest.h>

#include <fstream>

#include "pkg/runtime/seen.h"
#include "pkg/workers/orders_store.h"
#include "tests/support/suite_logs.h"

namespace pipewright {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

fs::path fresh(const std::string& name) {
  const auto dir = testing::suite_dir() / "json-lines";
  fs::create_directories(dir);
  fs::remove(dir / name);
  return dir / name;
}

TEST(ReadJsonLines, StopsAtAnUnterminatedLastLineEvenWhenItParses) {
  const auto file = fresh("audit.jsonl");
  // A writer mid-line: `{"offset":12}` would parse, but `{"offset":123}` is what comes.
  std::ofstream(file, std::ios::binary) << "{\"offset\":1}\nnot json\n{\"offset\":12}";
  std::vector<json> lines;
  std::vector<std::size_t> numbers;
  const auto good = workers::orders::read_json_lines(file, [&](json line, std::size_t number) {
    lines.push_back(std::move(line));
    numbers.push_back(number);
  });
  ASSERT_EQ(lines.size(), 2U);
  EXPECT_EQ(lines[0]["offset"], 1);
  EXPECT_TRUE(lines[1].is_discarded());
  EXPECT_EQ(numbers, (std::vector<std::size_t>{1, 2}));
  EXPECT_EQ(good, std::string("{\"offset\":1}\nnot json\n").size());
  EXPECT_EQ(workers::orders::read_json_lines(fresh("missing.jsonl"), [](json, std::size_t) {}), 0U);
}

TEST(SeenLog, AKeyCutShortByACrashIsNotSeenAndTheNextKeyGetsItsOwnLine) {
  const auto file = fresh("notify.sent");
  std::ofstream(file, std::ios::binary) << "evt-1/smtp\nevt-2/sm";  // died mid-write
  {
    runtime::SeenLog log(file);
    EXPECT_TRUE(log.contains("evt-1/smtp"));
    EXPECT_FALSE(log.contains("evt-2/sm"));
    log.add("evt-3/smtp");
  }
  runtime::SeenLog again(file);
  EXPECT_TRUE(again.contains("evt-1/smtp"));
  EXPECT_TRUE(again.contains("evt-3/smtp")) << "appended to the torn fragment";
  EXPECT_FALSE(again.contains("evt-2/smevt-3/smtp"));
}

}  // namespace
}  // namespace pipewright
