#include "tests/support/http_server.h"

// Before asio: Boost 1.74's awaitable.hpp uses std::exchange without including it.
#include <utility>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <list>
#include <mutex>
#include <thread>

namespace pipewright::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

struct HttpServer::Impl {
  Handler handler;
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::thread thread;
  std::atomic<int> served{0};

  void accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec) return;
      auto stream = std::make_shared<beast::tcp_stream>(std::move(socket));
      read(stream, std::make_shared<beast::flat_buffer>());
      accept();
    });
  }

  void read(const std::shared_ptr<beast::tcp_stream>& stream,
            const std::shared_ptr<beast::flat_buffer>& buffer) {
    auto req = std::make_shared<bhttp::request<bhttp::string_body>>();
    bhttp::async_read(
        *stream, *buffer, *req, [this, stream, buffer, req](beast::error_code ec, std::size_t) {
          if (ec) return;
          const TestResponse r =
              handler({std::string(req->method_string()), std::string(req->target()), req->body()});
          auto res = std::make_shared<bhttp::response<bhttp::string_body>>(
              static_cast<bhttp::status>(r.status), req->version());
          res->set(bhttp::field::content_type, r.content_type);
          res->body() = r.body;
          res->keep_alive(req->keep_alive());
          res->prepare_payload();
          ++served;
          bhttp::async_write(*stream, *res,
                             [this, stream, buffer, res](beast::error_code wec, std::size_t) {
                               if (wec || !res->keep_alive()) return;
                               read(stream, buffer);
                             });
        });
  }
};

HttpServer::HttpServer(Handler handler) : impl_(std::make_unique<Impl>()) {
  impl_->handler = std::move(handler);
  const tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
  impl_->acceptor.open(ep.protocol());
  impl_->acceptor.set_option(asio::socket_base::reuse_address(true));
  impl_->acceptor.bind(ep);
  impl_->acceptor.listen();
  impl_->accept();
  impl_->thread = std::thread([this] { impl_->io.run(); });
}

HttpServer::~HttpServer() {
  impl_->io.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

int HttpServer::port() const {
  return impl_->acceptor.local_endpoint().port();
}
int HttpServer::requests() const {
  return impl_->served.load();
}

}  // namespace pipewright::testing
