#include "pkg/http/server.h"

// Before asio: Boost 1.74's awaitable.hpp uses std::exchange without including it.
#include <utility>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <cstdint>
#include <stdexcept>
#include <thread>

namespace pipewright::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

struct Server::Impl {
  Handler handler;
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::thread thread;
  std::atomic<int> served{0};

  void accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec) return;
      socket.set_option(tcp::no_delay(true));
      auto stream = std::make_shared<beast::tcp_stream>(std::move(socket));
      read(stream, std::make_shared<beast::flat_buffer>());
      accept();
    });
  }

  void read(const std::shared_ptr<beast::tcp_stream>& stream,
            const std::shared_ptr<beast::flat_buffer>& buffer) {
    auto parser = std::make_shared<bhttp::request_parser<bhttp::string_body>>();
    parser->body_limit(std::uint64_t{1024} * 1024);
    bhttp::async_read(*stream, *buffer, *parser,
                      [this, stream, buffer, parser](beast::error_code ec, std::size_t) {
                        if (ec) return;
                        respond(stream, buffer, parser->release());
                      });
  }

  void respond(const std::shared_ptr<beast::tcp_stream>& stream,
               const std::shared_ptr<beast::flat_buffer>& buffer,
               bhttp::request<bhttp::string_body> req) {
    Request in{std::string(req.method_string()), std::string(req.target()), req.body(), {}};
    for (const auto& field : req) {
      std::string name(field.name_string());
      for (auto& c : name)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      in.headers[name] = std::string(field.value());
    }
    Response out;
    try {
      out = handler(in);
    } catch (const std::exception& e) {
      out = {500, "application/json", std::string(R"({"error":"internal error"})"), {}};
    }
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>(
        static_cast<bhttp::status>(out.status), req.version());
    res->set(bhttp::field::content_type, out.content_type);
    for (const auto& [k, v] : out.headers)
      res->set(k, v);
    res->body() = std::move(out.body);
    res->keep_alive(req.keep_alive());
    res->prepare_payload();
    ++served;
    bhttp::async_write(*stream, *res,
                       [this, stream, buffer, res](beast::error_code ec, std::size_t) {
                         if (!ec && res->keep_alive()) read(stream, buffer);
                       });
  }
};

Server::Server(const std::string& bind, Handler handler) : impl_(std::make_unique<Impl>()) {
  impl_->handler = std::move(handler);
  const auto colon = bind.rfind(':');
  if (colon == std::string::npos) throw std::runtime_error("bind address needs host:port: " + bind);
  const std::string host = bind.substr(0, colon).empty() ? "0.0.0.0" : bind.substr(0, colon);
  const int port = std::stoi(bind.substr(colon + 1));
  try {
    const tcp::endpoint ep(asio::ip::make_address(host), static_cast<unsigned short>(port));
    impl_->acceptor.open(ep.protocol());
    impl_->acceptor.set_option(asio::socket_base::reuse_address(true));
    impl_->acceptor.bind(ep);
    impl_->acceptor.listen();
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot listen on " + bind + ": " + e.what());
  }
  impl_->accept();
  impl_->thread = std::thread([this] { impl_->io.run(); });
}

Server::~Server() {
  impl_->io.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

int Server::port() const {
  return impl_->acceptor.local_endpoint().port();
}
int Server::requests() const {
  return impl_->served.load();
}

}  // namespace pipewright::http
