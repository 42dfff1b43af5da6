#include "tests/support/http_client.h"

#include <cpprest/http_client.h>

namespace pipewright::testing {

HttpResult http_request(const std::string& method, const std::string& url, const std::string& body,
                        const std::string& content_type) {
  HttpResult result;
  try {
    web::http::client::http_client_config cfg;
    cfg.set_timeout(std::chrono::seconds(10));
    web::http::client::http_client client(url, cfg);
    web::http::http_request req(method);
    if (!body.empty() || !content_type.empty()) req.set_body(body, content_type);
    auto resp = client.request(req).get();
    result.status = resp.status_code();
    result.body = resp.extract_utf8string(true).get();
    for (const auto& [k, v] : resp.headers())
      result.headers[k] = v;
  } catch (const std::exception& e) {
    result.error = e.what();
  }
  return result;
}

}  // namespace pipewright::testing
