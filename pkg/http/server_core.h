#pragma once
// The HTTP server's internals shared by its parts (not an API): an I/O thread's Context and the
// server's Core, which the listener (server.cpp), the HTTP connection (http_session.cpp) and the
// WebSocket connection (websocket_session.cpp) refer to.

// Before asio: Boost 1.74's awaitable.hpp uses std::exchange without including it.
#include <utility>

#include <atomic>
#include <boost/asio.hpp>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "pkg/http/server.h"

namespace pipewright::http {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

// What one read asks of a socket, HTTP or WebSocket.
inline constexpr std::size_t kReadChunk = std::size_t{16} * 1024;

// The Date header's value now (IMF-fixdate); refreshed by the sweep once a second.
std::string http_date();

struct Session;    // http_session.cpp
struct WsSession;  // websocket_session.cpp

// Whether a Context's io_context may still be posted to: threads outside the server (a Responder,
// a WebSocket's sender) check it under the lock, and stop() clears it before the io_context goes.
struct Life {
  std::mutex mu;
  bool alive = true;
};

template <class F>
void post_if_alive(Life& life, asio::io_context& io, F&& f) {
  const std::lock_guard lock(life.mu);
  if (life.alive) asio::post(io, std::forward<F>(f));
}

// One I/O thread: its io_context and the connections it owns (touched only on that thread).
struct Context {
  std::unordered_set<Session*> sessions;
  std::unordered_set<WsSession*> websockets;
  std::string date = http_date();
  std::shared_ptr<Life> life = std::make_shared<Life>();
  asio::io_context io{1};
  asio::steady_timer sweep{io};
  // Connections whose answer comes later (Request::later), kept alive until it does. Declared
  // after `io`, so they go before it.
  std::unordered_map<Session*, std::shared_ptr<Session>> parked;
  std::thread thread;
};

// The server's state, outside Server so that connections can refer to it.
struct Core {
  Server::Handler handler;
  ServerOptions options;
  std::atomic<int> served{0};
  std::atomic<bool> stopping{false};
  std::atomic<int> live{0};  // open connections
  std::mutex live_mu;
  std::condition_variable live_cv;
  int port = 0;
  bool stopped = false;
  std::vector<std::unique_ptr<Context>> contexts;
  // The acceptor has a thread of its own: a handler busy on an I/O thread never delays
  // accepting, nor stop() closing the acceptor.
  std::unique_ptr<Context> accept_ctx;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::size_t next = 0;  // round-robin over contexts, on accept_ctx's thread

  std::atomic<int> refused{0};  // connections closed at once, over every limit

  void accept();
  void refuse(tcp::socket& socket);
  void sweep(Context& ctx);
  void release() {
    if (live.fetch_sub(1) == 1) {
      const std::lock_guard lock(live_mu);
      live_cv.notify_all();
    }
  }
};

}  // namespace pipewright::http
