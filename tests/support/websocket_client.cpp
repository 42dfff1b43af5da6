#include "tests/support/websocket_client.h"

// Before asio: Boost 1.74's awaitable.hpp uses std::exchange without including it.
#include <utility>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <future>
#include <stdexcept>
#include <thread>

namespace pipewright::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

struct WebSocketClient::Impl {
  WebSocketClientOptions options;
  asio::io_context io;
  websocket::stream<tcp::socket> ws{io};
  beast::flat_buffer buffer;
  std::thread thread;
  mutable std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> messages;
  std::size_t count = 0;
  bool ended = false;
  int code = 1006;
  std::string reason;

  void read() {
    ws.async_read(buffer, [this](beast::error_code ec, std::size_t) {
      if (ec) return finish(ec);
      std::string text = beast::buffers_to_string(buffer.data());
      buffer.consume(buffer.size());
      if (options.on_message) {
        options.on_message(text);
        const std::lock_guard lock(mu);
        ++count;
      } else {
        const std::lock_guard lock(mu);
        messages.push_back(std::move(text));
        ++count;
        cv.notify_all();
      }
      read();
    });
  }

  void finish(beast::error_code ec) {
    const std::lock_guard lock(mu);
    if (ended) return;
    ended = true;
    if (ec == websocket::error::closed) {
      code = ws.reason().code;
      reason = std::string(ws.reason().reason.data(), ws.reason().reason.size());
    } else {
      reason = ec.message();
    }
    cv.notify_all();
  }

  bool write(const std::string& data, bool text) {
    std::promise<bool> done;
    asio::post(io, [&] {
      ws.text(text);
      ws.async_write(asio::buffer(data), [&](beast::error_code ec, std::size_t) {
        if (ec) finish(ec);
        done.set_value(!ec);
      });
    });
    auto f = done.get_future();
    if (f.wait_for(std::chrono::seconds(30)) != std::future_status::ready) return false;
    return f.get();
  }
};

WebSocketClient::WebSocketClient(const std::string& url, WebSocketClientOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  auto rest = url.substr(url.find("://") == std::string::npos ? 0 : url.find("://") + 3);
  const auto slash = rest.find('/');
  const std::string hostport = rest.substr(0, slash);
  const std::string target = slash == std::string::npos ? "/" : rest.substr(slash);
  const auto colon = hostport.rfind(':');
  const std::string host = hostport.substr(0, colon);
  const std::string port = colon == std::string::npos ? "80" : hostport.substr(colon + 1);

  auto& sock = impl_->ws.next_layer();
  tcp::resolver resolver(impl_->io);
  const auto endpoints = resolver.resolve(host, port);
  sock.open(endpoints.begin()->endpoint().protocol());
  if (impl_->options.receive_buffer_bytes > 0)
    sock.set_option(asio::socket_base::receive_buffer_size(impl_->options.receive_buffer_bytes));
  sock.connect(endpoints.begin()->endpoint());
  websocket::response_type res;
  beast::error_code ec;
  impl_->ws.handshake(res, hostport, target, ec);
  if (ec) {
    throw std::runtime_error("websocket handshake with " + url + " failed: " + ec.message() +
                             " (HTTP " + std::to_string(res.result_int()) + " " + res.body() + ")");
  }
  if (impl_->options.read) impl_->read();
  impl_->thread = std::thread([this] {
    auto guard = asio::make_work_guard(impl_->io);
    impl_->io.run();
  });
}

WebSocketClient::~WebSocketClient() {
  asio::post(impl_->io, [this] {
    beast::error_code ec;
    impl_->ws.next_layer().close(ec);
  });
  impl_->io.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

bool WebSocketClient::send_text(const std::string& text) {
  return impl_->write(text, true);
}

bool WebSocketClient::send_binary(const std::string& bytes) {
  return impl_->write(bytes, false);
}

std::optional<std::string> WebSocketClient::next(std::chrono::milliseconds wait) {
  std::unique_lock lock(impl_->mu);
  impl_->cv.wait_for(lock, wait, [&] { return !impl_->messages.empty() || impl_->ended; });
  if (impl_->messages.empty()) return std::nullopt;
  auto out = std::move(impl_->messages.front());
  impl_->messages.pop_front();
  return out;
}

bool WebSocketClient::wait_closed(std::chrono::milliseconds wait) {
  std::unique_lock lock(impl_->mu);
  return impl_->cv.wait_for(lock, wait, [&] { return impl_->ended; });
}

bool WebSocketClient::closed() const {
  const std::lock_guard lock(impl_->mu);
  return impl_->ended;
}

int WebSocketClient::close_code() const {
  const std::lock_guard lock(impl_->mu);
  return impl_->code;
}

std::string WebSocketClient::close_reason() const {
  const std::lock_guard lock(impl_->mu);
  return impl_->reason;
}

std::size_t WebSocketClient::received() const {
  const std::lock_guard lock(impl_->mu);
  return impl_->count;
}

void WebSocketClient::close() {
  asio::post(impl_->io, [this] {
    impl_->ws.async_close(websocket::close_code::normal, [this](beast::error_code ec) {
      impl_->finish(ec ? ec : beast::error_code(websocket::error::closed));
    });
  });
  wait_closed(std::chrono::seconds(5));
}

}  // namespace pipewright::testing
