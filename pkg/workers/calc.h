#pragma once
// The arithmetic of the `mult` and `calc` workers, apart from HTTP so it can be tested alone.
// Operands are decimal numbers as text ("3", "-2.5", "1e3"). Two integers give an exact 64-bit
// integer result (a division that leaves a remainder gives a double); anything else is a
// double. Overflow, division by zero and non-numbers are errors naming the field.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace pipewright::workers {

struct CalcResult {
  nlohmann::json result;  // a number when error is empty
  std::string error, field;
};

// `operation` is one of "mult", "sum", "sub", "div"; a missing operand is nullopt.
CalcResult calculate(std::string_view operation, const std::optional<std::string>& op1,
                     const std::optional<std::string>& op2);

}  // namespace pipewright::workers
