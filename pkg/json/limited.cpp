#include "pkg/json/limited.h"

#include <cstddef>

namespace pipewright::json {
namespace {

using Json = nlohmann::json;
using Dom = nlohmann::detail::json_sax_dom_parser<Json>;

// nlohmann's own DOM builder behind a depth gate: one pass, and the parser itself is iterative,
// so nothing recurses while the text is read.
class LimitedSax {
 public:
  LimitedSax(Json& root, int max_depth) : dom_(root, false), max_depth_(max_depth) {}

  bool null() { return dom_.null(); }
  bool boolean(bool v) { return dom_.boolean(v); }
  bool number_integer(Json::number_integer_t v) { return dom_.number_integer(v); }
  bool number_unsigned(Json::number_unsigned_t v) { return dom_.number_unsigned(v); }
  bool number_float(Json::number_float_t v, const Json::string_t& s) {
    return dom_.number_float(v, s);
  }
  bool string(Json::string_t& v) { return dom_.string(v); }
  bool binary(Json::binary_t& v) { return dom_.binary(v); }
  bool key(Json::string_t& v) { return dom_.key(v); }
  bool start_object(std::size_t n) { return deeper() && dom_.start_object(n); }
  bool end_object() {
    --depth_;
    return dom_.end_object();
  }
  bool start_array(std::size_t n) { return deeper() && dom_.start_array(n); }
  bool end_array() {
    --depth_;
    return dom_.end_array();
  }
  bool parse_error(std::size_t /*position*/, const std::string& /*token*/,
                   const nlohmann::detail::exception& ex) {
    error_ = ParseError::Code::Malformed;
    message_ = ex.what();
    return false;
  }

  [[nodiscard]] std::optional<ParseError> error() const {
    if (!error_) return std::nullopt;
    return ParseError(*error_, message_);
  }

 private:
  bool deeper() {
    if (++depth_ <= max_depth_) return true;
    error_ = ParseError::Code::TooDeep;
    message_ = "nested deeper than " + std::to_string(max_depth_) + " levels";
    return false;
  }

  Dom dom_;
  int max_depth_;
  int depth_ = 0;
  std::optional<ParseError::Code> error_;
  std::string message_;
};

}  // namespace

Json parse(std::string_view text, int max_depth) {
  Json root;
  LimitedSax sax(root, max_depth);
  const bool ok = Json::sax_parse(text.begin(), text.end(), &sax);
  if (auto e = sax.error()) throw *e;
  if (!ok) throw ParseError(ParseError::Code::Malformed, "not JSON");
  return root;
}

std::optional<Json> try_parse(std::string_view text, std::string* error, int max_depth) {
  try {
    return parse(text, max_depth);
  } catch (const ParseError& e) {
    if (error != nullptr) *error = e.what();
    return std::nullopt;
  }
}

}  // namespace pipewright::json
