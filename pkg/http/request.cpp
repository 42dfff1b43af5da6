// Request, Response and Responder: the values a handler reads and returns (server.h).

#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "pkg/http/server.h"

namespace pipewright::http {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// "%XX" becomes its byte (invalid escapes stay as they are); '+' is a space in query strings.
std::string percent_decode(std::string_view in, bool plus_is_space) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '%' && i + 2 < in.size()) {
      const int hi = hex_value(in[i + 1]);
      const int lo = hex_value(in[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_is_space && c == '+' ? ' ' : c);
  }
  return out;
}

}  // namespace

std::string Request::path() const {
  const auto q = target.find('?');
  return percent_decode(std::string_view(target).substr(0, q), false);
}

std::optional<std::string> Request::query(std::string_view name) const {
  const auto q = target.find('?');
  if (q == std::string::npos) return std::nullopt;
  std::string_view rest = std::string_view(target).substr(q + 1);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    const auto eq = pair.find('=');
    if (percent_decode(pair.substr(0, eq), true) != name) continue;
    if (eq == std::string_view::npos) return std::string();
    return percent_decode(pair.substr(eq + 1), true);
  }
  return std::nullopt;
}

std::string Request::header(std::string_view lower_name) const {
  const auto it = headers.find(std::string(lower_name));
  return it == headers.end() ? std::string() : it->second;
}

Response Response::json(int status, const nlohmann::json& body) {
  // Invalid UTF-8 in a string becomes U+FFFD rather than an exception in the middle of a reply.
  return {status,
          "application/json",
          body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
          {}};
}

Response Response::error(int status, std::string message, std::string field) {
  nlohmann::json body = {{"error", std::move(message)}};
  if (!field.empty()) body["field"] = std::move(field);
  return json(status, body);
}

Responder::Responder(std::function<void(Response)> send) : send_(std::move(send)) {}

Responder::~Responder() {
  std::function<void(Response)> send;
  {
    const std::lock_guard lock(mu_);
    send.swap(send_);
  }
  if (!send) return;
  try {
    send(Response::error(500, "the request was dropped without an answer"));
  } catch (...) {  // NOLINT(bugprone-empty-catch): a destructor must not throw
  }
}

void Responder::respond(Response response) {
  std::function<void(Response)> send;
  {
    const std::lock_guard lock(mu_);
    send.swap(send_);
  }
  if (send) send(std::move(response));
}

Response Request::later(std::function<void(std::shared_ptr<Responder>)> start) const {
  deferred = std::move(start);
  return Response::error(500, "answered later");  // replaced by what the Responder is given
}

}  // namespace pipewright::http
