// The server: its listener (an acceptor on a thread of its own handing connections round-robin
// to the I/O threads), the once-a-second sweep, and stop(). The connections are
// http_session.cpp's and websocket_session.cpp's.

#include "pkg/http/server.h"

#include <array>
#include <boost/beast/core/error.hpp>
#include <ctime>
#include <stdexcept>

#include "pkg/http/http_session.h"
#include "pkg/http/server_core.h"
#include "pkg/http/websocket_session.h"
#include "pkg/log/log.h"

namespace pipewright::http {

namespace beast = boost::beast;

namespace {

constexpr auto kStopGrace = std::chrono::seconds(5);

}  // namespace

std::string http_date() {
  std::array<char, 64> buf{};
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  const auto n = std::strftime(buf.data(), buf.size(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return {buf.data(), n};
}

struct Server::Impl : Core {};

void Core::accept() {
  Context& target = *contexts[next];
  next = (next + 1) % contexts.size();
  acceptor->async_accept(target.io, [this, &target](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor->is_open()) return;
    if (!ec) {
      beast::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      const auto open = static_cast<std::size_t>(live.load());
      if (open >= options.max_connections + options.probe_reserve) {
        refuse(socket);
        return accept();
      }
      live.fetch_add(1);
      const bool reserved = open >= options.max_connections;
      asio::post(target.io, [this, &target, reserved, s = std::move(socket)]() mutable {
        start_http_session(*this, target, std::move(s), reserved);
      });
      return accept();
    }
    // Out of file descriptors and the like: try again shortly instead of spinning.
    log::warn("http accept failed", {{"error", ec.message()}});
    auto timer =
        std::make_shared<asio::steady_timer>(accept_ctx->io, std::chrono::milliseconds(100));
    timer->async_wait([this, timer](beast::error_code) {
      if (acceptor->is_open()) accept();
    });
  });
}

// Over every limit: a short answer if the socket takes it at once (never waiting), then closed.
void Core::refuse(tcp::socket& socket) {
  static constexpr std::string_view kBusy =
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
      "Content-Length: 39\r\nConnection: close\r\nRetry-After: 1\r\n\r\n"
      "{\"error\":\"too many connections; retry\"}";
  static_assert(kBusy.size() - kBusy.find("\r\n\r\n") - 4 == 39);
  beast::error_code ec;
  socket.non_blocking(true, ec);
  if (!ec) socket.write_some(asio::buffer(kBusy.data(), kBusy.size()), ec);
  socket.shutdown(tcp::socket::shutdown_both, ec);
  socket.close(ec);
  refused.fetch_add(1, std::memory_order_relaxed);
}

void Core::sweep(Context& ctx) {
  ctx.date = http_date();
  const auto now = Clock::now();
  expire_http_sessions(ctx, now);
  ctx.sweep.expires_after(std::chrono::seconds(1));
  ctx.sweep.async_wait([this, &ctx](beast::error_code ec) {
    if (!ec) sweep(ctx);
  });
}

Server::Server(const ServerOptions& options, Handler handler) : impl_(std::make_unique<Impl>()) {
  impl_->handler = std::move(handler);
  impl_->options = options;
  const int threads = options.threads < 1 ? 1 : options.threads;
  for (int i = 0; i < threads; ++i)
    impl_->contexts.push_back(std::make_unique<Context>());
  impl_->accept_ctx = std::make_unique<Context>();

  const std::string& bind = options.bind;
  const auto colon = bind.rfind(':');
  if (colon == std::string::npos) throw std::runtime_error("bind address needs host:port: " + bind);
  std::string host = bind.substr(0, colon);
  if (host.empty()) host = "0.0.0.0";
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  try {
    const int port = std::stoi(bind.substr(colon + 1));
    const tcp::endpoint ep(asio::ip::make_address(host), static_cast<unsigned short>(port));
    impl_->acceptor = std::make_unique<tcp::acceptor>(impl_->accept_ctx->io);
    impl_->acceptor->open(ep.protocol());
    impl_->acceptor->set_option(asio::socket_base::reuse_address(true));
    impl_->acceptor->bind(ep);
    impl_->acceptor->listen(asio::socket_base::max_listen_connections);
    impl_->port = impl_->acceptor->local_endpoint().port();
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot listen on " + bind + ": " + e.what());
  }
  impl_->accept();
  for (auto& ctx : impl_->contexts) {
    impl_->sweep(*ctx);
    ctx->thread = std::thread([c = ctx.get()] { c->io.run(); });
  }
  impl_->accept_ctx->thread = std::thread([c = impl_->accept_ctx.get()] { c->io.run(); });
}

Server::Server(const std::string& bind, Handler handler)
    : Server(ServerOptions{bind, 1, std::size_t{1024} * 1024}, std::move(handler)) {}

Server::~Server() {
  stop();
}

void Server::stop() {
  auto& impl = *impl_;
  if (impl.stopped) return;
  impl.stopped = true;
  impl.stopping = true;
  asio::post(impl.accept_ctx->io, [&impl] {
    beast::error_code ec;
    impl.acceptor->close(ec);
  });
  // Idle connections close now; the others close after their current answer. WebSockets get
  // a close frame.
  for (auto& ctx : impl.contexts) {
    asio::post(ctx->io, [c = ctx.get()] {
      close_idle_http_sessions(*c);
      close_websockets(*c, kCloseGoingAway, "server shutting down");
    });
  }
  {
    std::unique_lock lock(impl.live_mu);
    impl.live_cv.wait_for(lock, kStopGrace, [&impl] { return impl.live.load() == 0; });
  }
  impl.contexts.push_back(std::move(impl.accept_ctx));
  for (auto& ctx : impl.contexts)
    ctx->io.stop();
  for (auto& ctx : impl.contexts)
    if (ctx->thread.joinable()) ctx->thread.join();
  // Nothing may be posted to an io_context from now on (Responders, WebSocket senders).
  for (auto& ctx : impl.contexts) {
    const std::lock_guard lock(ctx->life->mu);
    ctx->life->alive = false;
  }
  // Connections still open past the grace die with their io_context, while `impl` is alive.
  // The acceptor's context goes first: its pending accept holds a socket of an I/O context,
  // which must still exist when that operation is destroyed (ASan: use after free otherwise).
  impl.acceptor.reset();
  impl.contexts.back().reset();
  impl.contexts.clear();
}

int Server::port() const {
  return impl_->port;
}
int Server::requests() const {
  return impl_->served.load();
}

int Server::open_connections() const {
  return impl_->live.load();
}

}  // namespace pipewright::http
