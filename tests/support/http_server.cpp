#include "tests/support/http_server.h"

#include "pkg/http/server.h"

namespace pipewright::testing {

// The product's own small server, bound to a port the OS picks on 127.0.0.1.
struct HttpServer::Impl {
  explicit Impl(Handler handler)
      : server("127.0.0.1:0", [h = std::move(handler)](const http::Request& req) {
          const TestResponse r = h({req.method, req.target, req.body});
          return http::Response{r.status, r.content_type, r.body, {}};
        }) {}
  http::Server server;
};

HttpServer::HttpServer(Handler handler) : impl_(std::make_unique<Impl>(std::move(handler))) {}
HttpServer::~HttpServer() = default;
int HttpServer::port() const {
  return impl_->server.port();
}
int HttpServer::requests() const {
  return impl_->server.requests();
}

}  // namespace pipewright::testing
