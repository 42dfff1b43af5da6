// The microservices seed's workers: `mult` serves /mult, `calc` also /sum, /sub and /div; both
// on GET and POST, each answer carrying X-Served-By with the WeightedService backend's name.

#include "pkg/workers/calc.h"

#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <regex>
#include <variant>

#include "pkg/json/limited.h"
#include "pkg/workers/workers.h"

namespace pipewright::workers {
namespace {

using nlohmann::json;
using Number = std::variant<std::int64_t, double>;

struct Parsed {
  std::optional<Number> value;
  std::string error;
};

Parsed parse_number(const std::string& text) {
  static const std::regex kNumber(R"(-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)");
  if (text.size() > 400 || !std::regex_match(text, kNumber)) {
    return {std::nullopt, "is not a number"};
  }
  if (text.find_first_of(".eE") == std::string::npos) {
    std::int64_t v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec == std::errc::result_out_of_range) {
      return {std::nullopt, "is outside the 64-bit integer range"};
    }
    if (ec != std::errc() || end != text.data() + text.size()) {
      return {std::nullopt, "is not a number"};
    }
    return {Number{v}, ""};
  }
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size()) return {std::nullopt, "is not a number"};
  if (!std::isfinite(v)) return {std::nullopt, "overflows a double"};
  return {Number{v}, ""};
}

double as_double(const Number& n) {
  return std::holds_alternative<std::int64_t>(n) ? static_cast<double>(std::get<std::int64_t>(n))
                                                 : std::get<double>(n);
}

CalcResult fail(std::string error, std::string field) {
  return {json(), std::move(error), std::move(field)};
}

CalcResult integers(std::string_view op, std::int64_t a, std::int64_t b) {
  std::int64_t r = 0;
  bool overflow = false;
  if (op == "mult") {
    overflow = __builtin_mul_overflow(a, b, &r);
  } else if (op == "sum") {
    overflow = __builtin_add_overflow(a, b, &r);
  } else if (op == "sub") {
    overflow = __builtin_sub_overflow(a, b, &r);
  } else {  // div
    if (b == 0) return fail("division by zero", "op2");
    if (a == std::numeric_limits<std::int64_t>::min() && b == -1) {
      overflow = true;
    } else if (a % b != 0) {
      return {json(static_cast<double>(a) / static_cast<double>(b)), "", ""};
    } else {
      r = a / b;
    }
  }
  if (overflow) return fail("the result overflows a 64-bit integer", "op2");
  return {json(r), "", ""};
}

CalcResult doubles(std::string_view op, double a, double b) {
  double r = 0;
  if (op == "mult") {
    r = a * b;
  } else if (op == "sum") {
    r = a + b;
  } else if (op == "sub") {
    r = a - b;
  } else {
    if (b == 0) return fail("division by zero", "op2");
    r = a / b;
  }
  if (!std::isfinite(r)) return fail("the result overflows a double", "op2");
  return {json(r), "", ""};
}

// op1/op2 from the query string, or from a POST body: JSON {"op1": 3, "op2": 4} (numbers or
// numeric strings) or a form (op1=3&op2=4). Body values win over the query's.
struct Operands {
  std::optional<std::string> op1, op2;
  std::string error, field;
};

Operands operands(const http::Request& request) {
  Operands out{request.query("op1"), request.query("op2"), "", ""};
  const auto& body = request.body;
  if (body.find_first_not_of(" \t\r\n") == std::string::npos) return out;
  const auto type = request.header("content-type");
  const auto first = body[body.find_first_not_of(" \t\r\n")];
  if (type.starts_with("application/json") || first == '{' || first == '[') {
    const auto parsed = pipewright::json::try_parse(body);
    if (!parsed || !parsed->is_object()) {
      out.error = "the body is not a JSON object";
      out.field = "body";
      return out;
    }
    const auto& doc = *parsed;
    for (const auto* name : {"op1", "op2"}) {
      const auto it = doc.find(name);
      if (it == doc.end()) continue;
      auto& slot = std::string_view(name) == "op1" ? out.op1 : out.op2;
      if (it->is_string()) {
        slot = it->get<std::string>();
      } else if (it->is_number()) {
        slot = it->dump();
      } else {
        out.error = std::string(name) + " must be a number";
        out.field = name;
        return out;
      }
    }
    return out;
  }
  http::Request form;  // a form body reads like a query string
  form.target = "/?" + body;
  if (auto v = form.query("op1")) out.op1 = std::move(v);
  if (auto v = form.query("op2")) out.op2 = std::move(v);
  return out;
}

int run_calc(runtime::Runtime& runtime, const std::vector<std::string>& operations) {
  runtime::check_keys(runtime.config(), {});
  const auto& wiring = runtime.wiring();
  const auto served_by = !wiring.backend.empty() ? wiring.backend
                         : !wiring.step.empty()  ? wiring.step
                                                 : wiring.worker;
  const auto service = !wiring.service.empty() ? wiring.service : wiring.pipeline;
  auto& requests = prometheus::BuildCounter()
                       .Name("pipewright_backend_requests_total")
                       .Help("Requests answered by this backend of a WeightedService")
                       .Register(*runtime.registry())
                       .Add({{"service", service}, {"backend", served_by}});
  for (const auto& op : operations) {
    const auto handler = [op, served_by, &requests](const http::Request& request) {
      requests.Increment();
      http::Response response;
      const auto in = operands(request);
      if (!in.error.empty()) {
        response = http::Response::error(400, in.error, in.field);
      } else {
        const auto r = calculate(op, in.op1, in.op2);
        response = r.error.empty() ? http::Response::json(200, {{"result", r.result}})
                                   : http::Response::error(400, r.error, r.field);
      }
      response.headers["X-Served-By"] = served_by;
      return response;
    };
    runtime.route("GET", "/" + op, handler);
    runtime.route("POST", "/" + op, handler);
  }
  return runtime.run();
}

}  // namespace

CalcResult calculate(std::string_view operation, const std::optional<std::string>& op1,
                     const std::optional<std::string>& op2) {
  if (operation != "mult" && operation != "sum" && operation != "sub" && operation != "div") {
    return fail("unknown operation '" + std::string(operation) + "'", "operation");
  }
  const std::optional<std::string>* ops[] = {&op1, &op2};
  Number values[2];
  for (int i = 0; i < 2; ++i) {
    const std::string field = i == 0 ? "op1" : "op2";
    if (!ops[i]->has_value() || (*ops[i])->empty()) return fail(field + " is required", field);
    const auto parsed = parse_number(**ops[i]);
    if (!parsed.value) {
      const auto& text = **ops[i];
      const auto shown = text.size() > 40 ? text.substr(0, 40) + "..." : text;
      return fail(field + " '" + shown + "' " + parsed.error, field);
    }
    values[i] = *parsed.value;
  }
  if (std::holds_alternative<std::int64_t>(values[0]) &&
      std::holds_alternative<std::int64_t>(values[1])) {
    return integers(operation, std::get<std::int64_t>(values[0]),
                    std::get<std::int64_t>(values[1]));
  }
  return doubles(operation, as_double(values[0]), as_double(values[1]));
}

std::vector<Kind> calc_workers() {
  return {{"mult", [](runtime::Runtime& r) { return run_calc(r, {"mult"}); }},
          {"calc", [](runtime::Runtime& r) {
             return run_calc(r, {"sum", "sub", "mult", "div"});
           }}};
}

}  // namespace pipewright::workers
