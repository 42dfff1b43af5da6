// The arithmetic of the mult and calc workers: exact integers, doubles, and every refusal names
// the operand a user has to fix.

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

#include "pkg/workers/calc.h"

namespace pipewright::workers {
namespace {

using nlohmann::json;

json ok(std::string_view op, const std::string& a, const std::string& b) {
  const auto r = calculate(op, a, b);
  EXPECT_EQ(r.error, "") << op << " " << a << " " << b;
  return r.result;
}

std::string refused(std::string_view op, const std::optional<std::string>& a,
                    const std::optional<std::string>& b) {
  const auto r = calculate(op, a, b);
  EXPECT_FALSE(r.error.empty()) << op;
  return r.field;
}

TEST(Calc, IntegersStayExact) {
  EXPECT_EQ(ok("mult", "3", "4"), json(12));
  EXPECT_EQ(ok("mult", "-7", "6"), json(-42));
  EXPECT_EQ(ok("mult", "3037000499", "3037000499"), json(std::int64_t{9223372030926249001}));
  EXPECT_EQ(ok("sum", "9007199254740993", "0"), json(std::int64_t{9007199254740993}));
  EXPECT_EQ(ok("sub", "5", "8"), json(-3));
  EXPECT_EQ(ok("div", "12", "4"), json(3));
  EXPECT_TRUE(ok("div", "12", "4").is_number_integer());
}

TEST(Calc, DecimalsAndInexactDivisionGiveDoubles) {
  EXPECT_DOUBLE_EQ(ok("div", "7", "2").get<double>(), 3.5);
  EXPECT_DOUBLE_EQ(ok("mult", "2.5", "4").get<double>(), 10.0);
  EXPECT_DOUBLE_EQ(ok("mult", "1e3", "-0.5").get<double>(), -500.0);
  EXPECT_DOUBLE_EQ(ok("sum", ".5", "1.").get<double>(), 1.5);
}

TEST(Calc, RefusalsNameTheOperand) {
  EXPECT_EQ(refused("mult", std::nullopt, "2"), "op1");
  EXPECT_EQ(refused("mult", "2", std::nullopt), "op2");
  EXPECT_EQ(refused("mult", "", "2"), "op1");
  for (const char* bad : {"abc", "1,5", "0x10", "1e", "--1", "+1", " 1", "1 ", "nan", "inf",
                          "1e999", "99999999999999999999"}) {
    EXPECT_EQ(refused("mult", bad, "2"), "op1") << bad;
    EXPECT_EQ(refused("sum", "2", bad), "op2") << bad;
  }
  EXPECT_EQ(refused("div", "1", "0"), "op2");
  EXPECT_EQ(refused("div", "1.5", "0.0"), "op2");
}

TEST(Calc, OverflowIsRefusedNotWrapped) {
  const auto max = std::to_string(std::numeric_limits<std::int64_t>::max());
  const auto min = std::to_string(std::numeric_limits<std::int64_t>::min());
  EXPECT_FALSE(calculate("mult", max, "2").error.empty());
  EXPECT_FALSE(calculate("sum", max, "1").error.empty());
  EXPECT_FALSE(calculate("sub", min, "1").error.empty());
  EXPECT_FALSE(calculate("div", min, "-1").error.empty());
  EXPECT_FALSE(calculate("mult", "1e300", "1e300").error.empty());
  EXPECT_EQ(ok("sum", max, "0"), json(std::numeric_limits<std::int64_t>::max()));
}

}  // namespace
}  // namespace pipewright::workers
