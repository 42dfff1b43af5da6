#pragma once
// A plain HTTP client for tests (cpprestsdk), and a TLS-aware GET for component health checks.

#include <map>
#include <string>

namespace pipewright::testing {

struct HttpResult {
  int status = 0;  // 0 when the connection failed; `error` then says why
  std::string body;
  std::map<std::string, std::string> headers;
  std::string error;
};

HttpResult http_request(const std::string& method, const std::string& url,
                        const std::string& body = {}, const std::string& content_type = {});
inline HttpResult http_get(const std::string& url) {
  return http_request("GET", url);
}

}  // namespace pipewright::testing
