#pragma once
// An HTTP/1.1 client that keeps its connection open across requests, as load balancers' clients
// do, so tests can send thousands of requests through a router without a handshake each. Like
// every HTTP client it repeats a request once on a fresh connection when a reused connection
// closed before a single byte of the answer arrived (RFC 9112 section 9.3.1): that is a server
// closing an idle connection, not a failed request. Anything else is reported, not retried.

#include <chrono>
#include <map>
#include <string>

namespace pipewright::testing {

struct Reply {
  int status = 0;  // 0: no answer; `error` says why
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string error;
  std::string header(const std::string& lower_name) const {
    const auto it = headers.find(lower_name);
    return it == headers.end() ? "" : it->second;
  }
};

class KeepAliveClient {
 public:
  explicit KeepAliveClient(int port, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~KeepAliveClient();
  KeepAliveClient(const KeepAliveClient&) = delete;
  KeepAliveClient& operator=(const KeepAliveClient&) = delete;

  Reply request(const std::string& method, const std::string& target, const std::string& body = {},
                const std::string& content_type = {});
  Reply get(const std::string& target) { return request("GET", target); }
  // Requests repeated because an idle connection had been closed under them.
  int retries() const { return retries_; }

 private:
  bool connect();
  void close();
  // false with *received == 0 when the connection died before any answer byte.
  bool exchange(const std::string& wire, Reply& reply, std::size_t* received);
  bool read_more(std::string& buffer);

  int port_;
  std::chrono::milliseconds timeout_;
  int fd_ = -1;
  bool reused_ = false;
  int retries_ = 0;
  std::string buffer_;
};

}  // namespace pipewright::testing
