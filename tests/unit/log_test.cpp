#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "pkg/log/log.h"

namespace pipewright::log {
namespace {

TEST(Log, OneJsonObjectPerLineWithFields) {
  const auto line =
      format_line(Level::warn, "topic created", {{"topic", "demo.images"}, {"partitions", 3}});
  EXPECT_EQ(line.find('\n'), std::string::npos);
  const auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["level"], "warn");
  EXPECT_EQ(j["msg"], "topic created");
  EXPECT_EQ(j["topic"], "demo.images");
  EXPECT_EQ(j["partitions"], 3);
  EXPECT_EQ(j["time"].get<std::string>().back(), 'Z');
}

TEST(Log, FieldsCannotOverwriteTheReservedKeys) {
  const auto j = nlohmann::json::parse(
      format_line(Level::info, "real", {{"msg", "fake"}, {"level", "error"}}));
  EXPECT_EQ(j["msg"], "real");
  EXPECT_EQ(j["level"], "info");
}

TEST(Log, InvalidUtf8IsReplacedNotThrown) {
  const std::string bad = "file \xff\xfe.jpg";
  std::string line;
  ASSERT_NO_THROW(line = format_line(Level::error, bad, {{"name", bad}}));
  EXPECT_TRUE(nlohmann::json::accept(line)) << line;
}

}  // namespace
}  // namespace pipewright::log
