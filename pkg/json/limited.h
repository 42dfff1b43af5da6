#pragma once
// JSON from outside (HTTP bodies, WebSocket frames, Kafka messages) is parsed here, and only
// here: a document nested deeper than a small fixed depth is refused while it is read, before
// any of it is built, because nlohmann's recursive copy, compare and dump of a value nested
// 100,000 deep overflows the stack.

#include <nlohmann/json.hpp>

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace pipewright::json {

// Deep enough for every document we accept (orders, events, envelopes, kube objects nest < 20).
inline constexpr int kMaxDepth = 64;

// Why a text is not accepted: malformed JSON, or nested deeper than the limit.
struct ParseError : std::runtime_error {
  enum class Code { Malformed, TooDeep };
  ParseError(Code c, const std::string& what) : std::runtime_error(what), code(c) {}
  Code code;
};

// The document, or ParseError. Objects and arrays count one level each; the top level is 1.
nlohmann::json parse(std::string_view text, int max_depth = kMaxDepth);

// The document, or nullopt with *error set (when given) to the reason.
std::optional<nlohmann::json> try_parse(std::string_view text, std::string* error = nullptr,
                                        int max_depth = kMaxDepth);

}  // namespace pipewright::json
