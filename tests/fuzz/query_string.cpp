// Request targets as handlers read them: Request::path() (percent-decoding) and
// Request::query() (pairs, '+', escapes), for fixed names and for the input's own first name.

#include <string>

#include "pkg/http/server.h"
#include "tests/fuzz/fuzz.h"

PW_FUZZ_TARGET(query_string) {
  pipewright::http::Request request;
  request.method = "GET";
  request.target = std::string(pipewright::fuzz::as_text(data, size));
  const auto path = request.path();
  pipewright::fuzz::check(path.size() <= request.target.size(), "decoding made the path longer");
  for (const char* name : {"a", "op1", "op2", "wait", "id", ""}) {
    if (const auto v = request.query(name)) {
      pipewright::fuzz::check(v->size() <= request.target.size(), "a value longer than the target");
    }
  }
  // The first parameter, named without escapes, is found under its own name.
  const auto q = request.target.find('?');
  if (q == std::string::npos) return;
  const auto rest = request.target.substr(q + 1);
  if (rest.empty()) return;  // "?" alone has no parameter
  const auto name = rest.substr(0, rest.find_first_of("=&"));
  if (name.find_first_of("%+") != std::string::npos) return;
  pipewright::fuzz::check(request.query(name).has_value(), "the first query parameter not found");
}
