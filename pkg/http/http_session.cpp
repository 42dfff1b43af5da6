#include "pkg/http/http_session.h"

#include <algorithm>
#include <array>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <cctype>
#include <cstdint>
#include <optional>
#include <string_view>

#include "pkg/http/websocket_session.h"
#include "pkg/log/log.h"

namespace pipewright::http {

namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace websocket = beast::websocket;

namespace {

constexpr std::uint32_t kHeaderLimit = std::uint32_t{16} * 1024;
// What the parser may leave unconsumed while it waits for more: a request head, a chunk header
// with its extensions, or the trailers. Beast 1.74 applies header_limit to the head only, so
// this is checked here too (an endless `1;aaaa...` chunk extension was buffered whole).
constexpr std::size_t kMaxPending = kHeaderLimit;
// The read buffer never grows past what is pending plus one read.
constexpr std::size_t kMaxBuffer = kMaxPending + kReadChunk;
// Idle keep-alive connections, stalled reads and requests past their deadline are closed by a
// sweep once a second (a timestamp per read is cheaper than a timer per request).
constexpr auto kIdleTimeout = std::chrono::seconds(60);
constexpr auto kStallTimeout = std::chrono::seconds(60);
// A connection over max_connections (in the probe reserve) gets this for its whole request.
constexpr auto kReserveTimeout = std::chrono::seconds(2);
constexpr auto kDrainTimeout = std::chrono::seconds(2);

bool has_crlf(std::string_view s) {
  return s.find_first_of("\r\n") != std::string_view::npos;
}

}  // namespace

// One connection: reads a request into Beast's parser, calls the handler, writes the answer as
// one gather write (status line and headers, then the body: no copy, no Nagle delay), repeats
// while the connection is kept alive.
struct Session : std::enable_shared_from_this<Session> {
  enum class State { idle, reading, handling, writing, draining };

  Session(Core& s, Context& c, tcp::socket sock) : server(s), ctx(c), socket(std::move(sock)) {
    ctx.sessions.insert(this);
  }
  ~Session() {
    ctx.sessions.erase(this);
    server.release();
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  Core& server;
  Context& ctx;
  tcp::socket socket;
  beast::flat_buffer buffer{kMaxBuffer};
  std::optional<bhttp::request_parser<bhttp::string_body>> parser;
  bool expect_checked = false;
  State state = State::idle;
  Clock::time_point last_activity = Clock::now();
  Clock::time_point started;  // the current request's first byte
  bool reserved = false;      // over max_connections: probes only, short deadlines
  bool timed_out = false;     // the sweep cut the read: answer 408
  Request request;
  Response response;
  std::string head;
  bool keep_alive = true;
  bool head_only = false;
  std::array<char, 4096> discard{};

  void start_request() {
    parser.emplace();
    parser->header_limit(kHeaderLimit);
    parser->body_limit(server.options.max_body_bytes);
    expect_checked = false;
    state = buffer.size() > 0 ? State::reading : State::idle;
    started = Clock::now();
    if (server.stopping && state == State::idle) return close();
    parse();
  }

  std::chrono::milliseconds head_timeout() const {
    return reserved ? kReserveTimeout : server.options.head_timeout;
  }
  std::chrono::milliseconds request_timeout() const {
    return reserved ? kReserveTimeout : server.options.request_timeout;
  }
  // Whether the sweep must end this connection now.
  bool expired(Clock::time_point now) const {
    const auto quiet = now - last_activity;
    switch (state) {
      case State::idle:
        return quiet > (reserved ? Clock::duration(kReserveTimeout) : kIdleTimeout);
      case State::reading:
        return quiet > kStallTimeout || now - started > request_timeout() ||
               (!parser->is_header_done() && now - started > head_timeout());
      case State::writing:
        return quiet > std::max<Clock::duration>(kStallTimeout, request_timeout());
      case State::draining:
        return quiet > kDrainTimeout;
      case State::handling:
        return false;
    }
    return false;
  }
  // Past its deadline while reading: the read is cancelled and on_read answers 408.
  void expire() {
    if (state != State::reading) return close();
    timed_out = true;
    beast::error_code ec;
    socket.cancel(ec);
  }

  // Feeds buffered bytes to the parser; reads more when it needs them.
  void parse() {
    for (;;) {
      if (parser->is_done()) return handle();
      if (buffer.size() == 0) return read();
      beast::error_code ec;
      const auto n = parser->put(buffer.data(), ec);
      buffer.consume(n);
      if (ec == bhttp::error::need_more) {
        // Only a head, a chunk header or trailers stay unconsumed; the parser bounds the head.
        if (buffer.size() > kMaxPending) return reject(bhttp::error::header_limit);
        return read();
      }
      if (ec) return reject(ec);
      if (parser->is_header_done() && !expect_checked) {
        expect_checked = true;
        const auto& h = parser->get();
        if (!parser->is_done() && h.version() >= 11 &&
            beast::iequals(h[bhttp::field::expect], "100-continue")) {
          return send_continue();
        }
      }
    }
  }

  void read() {
    // A parser that wants a header larger than the limit reports it itself; this bounds what a
    // client can make us buffer before that.
    auto self = shared_from_this();
    socket.async_read_some(buffer.prepare(kReadChunk),
                           [self](beast::error_code ec, std::size_t n) { self->on_read(ec, n); });
  }

  void on_read(beast::error_code ec, std::size_t n) {
    if (ec && timed_out) return answer_timeout();
    if (ec) return close();  // EOF, reset, or closed by stop() / the sweep
    buffer.commit(n);
    last_activity = Clock::now();
    if (state == State::idle) started = last_activity;
    state = State::reading;
    parse();
  }

  void answer_timeout() {
    keep_alive = false;
    head_only = false;
    response = Response::error(
        408, "the request did not arrive within " +
                 std::to_string(
                     (parser->is_header_done() ? request_timeout() : head_timeout()).count()) +
                 "ms");
    write(parser->is_header_done() ? parser->get().version() : 11);
  }

  void send_continue() {
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    auto self = shared_from_this();
    asio::async_write(socket, asio::buffer(kContinue.data(), kContinue.size()),
                      [self](beast::error_code ec, std::size_t) {
                        if (ec) return self->close();
                        self->parse();
                      });
  }

  void reject(beast::error_code ec) {
    keep_alive = false;
    head_only = false;
    if (ec == bhttp::error::body_limit) {
      response = Response::error(
          413, "request body is over " + std::to_string(server.options.max_body_bytes) + " bytes",
          "body");
    } else if (ec == bhttp::error::header_limit) {
      response = Response::error(
          431,
          parser->is_header_done()
              ? "a chunk header or the trailers are over " + std::to_string(kMaxPending) + " bytes"
              : "request header is over " + std::to_string(kHeaderLimit) + " bytes",
          "headers");
    } else {
      response = Response::error(400, "malformed request: " + ec.message());
    }
    write(parser->is_header_done() ? parser->get().version() : 11);
  }

  void handle() {
    state = State::handling;
    auto& msg = parser->get();
    request.method.assign(msg.method_string().data(), msg.method_string().size());
    request.target.assign(msg.target().data(), msg.target().size());

    request.body = std::move(msg.body());
    request.headers.clear();
    request.params.clear();
    for (const auto& field : msg) {
      std::string name(field.name_string());
      for (auto& c : name)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      const std::string_view value(field.value().data(), field.value().size());
      auto [it, inserted] = request.headers.try_emplace(std::move(name), value);
      // Repeated fields are one comma-separated list (RFC 9110 5.3).
      if (!inserted) it->second.append(", ").append(value);
    }
    head_only = msg.method() == bhttp::verb::head;
    request.deferred = nullptr;
    request.websocket.reset();
    if (reserved && !is_reserved_path()) {
      keep_alive = false;
      response = Response::error(503, "too many connections (" +
                                          std::to_string(server.options.max_connections) +
                                          " open); try again shortly");
      response.headers["Retry-After"] = "1";
      return write(msg.version());
    }
    try {
      response = server.handler(request);
    } catch (const std::exception& e) {
      log::error("http handler failed",
                 {{"method", request.method}, {"target", request.target}, {"error", e.what()}});
      response = Response::error(500, "internal error");
      request.deferred = nullptr;
      request.websocket.reset();
    } catch (...) {
      log::error("http handler failed", {{"method", request.method}, {"target", request.target}});
      response = Response::error(500, "internal error");
      request.deferred = nullptr;
      request.websocket.reset();
    }
    // stop() may have begun meanwhile; a reserve connection is not kept.
    keep_alive = msg.keep_alive() && !server.stopping && !reserved;
    if (request.websocket) {
      if (websocket::is_upgrade(msg) && !server.stopping) return upgrade();
      request.websocket.reset();
      response = Response::error(426, "not a WebSocket upgrade", "upgrade");
    }
    if (request.deferred) return defer(msg.version());
    write(msg.version());
  }

  bool is_reserved_path() const {
    const auto path = request.path();
    const auto& paths = server.options.reserved_paths;
    return std::find(paths.begin(), paths.end(), path) != paths.end();
  }

  // The socket goes to a WebSocket session on this thread; this session ends here.
  void upgrade() {
    server.served.fetch_add(1, std::memory_order_relaxed);
    auto handler = std::move(request.websocket);
    request.websocket.reset();
    start_websocket(server, ctx, std::move(socket), std::move(handler), parser->release());
  }

  // Parks this connection until the Responder answers (from any thread).
  void defer(unsigned version) {
    auto start = std::move(request.deferred);
    request.deferred = nullptr;
    ctx.parked[this] = shared_from_this();
    std::weak_ptr<Session> weak = weak_from_this();
    auto responder =
        std::make_shared<Responder>([weak, life = ctx.life, io = &ctx.io, version](Response r) {
          post_if_alive(*life, *io, [weak, version, r = std::move(r)]() mutable {
            auto self = weak.lock();
            if (!self) return;
            self->ctx.parked.erase(self.get());
            self->response = std::move(r);
            self->keep_alive = self->keep_alive && !self->server.stopping;
            self->write(version);
          });
        });
    try {
      start(responder);
    } catch (const std::exception& e) {
      log::error("http handler failed",
                 {{"method", request.method}, {"target", request.target}, {"error", e.what()}});
      responder->respond(Response::error(500, "internal error"));
    }
  }

  void write(unsigned version) {
    state = State::writing;
    last_activity = Clock::now();
    const int status = response.status;
    head.clear();
    head.append(version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
    head.append(std::to_string(status)).push_back(' ');
    const auto reason = bhttp::obsolete_reason(static_cast<bhttp::status>(status));
    head.append(reason.data(), reason.size());
    head.append("\r\nDate: ").append(ctx.date);
    head.append("\r\nContent-Type: ").append(response.content_type);
    head.append("\r\nContent-Length: ").append(std::to_string(response.body.size()));
    for (const auto& [name, value] : response.headers) {
      if (has_crlf(name) || has_crlf(value)) continue;  // no response splitting
      head.append("\r\n").append(name).append(": ").append(value);
    }
    if (!keep_alive) {
      head.append("\r\nConnection: close");
    } else if (version == 10) {
      head.append("\r\nConnection: keep-alive");
    }
    head.append("\r\n\r\n");
    const bool body = !head_only && status >= 200 && status != 204 && status != 304;
    const std::array<asio::const_buffer, 2> buffers{
        asio::buffer(head), body ? asio::buffer(response.body) : asio::const_buffer()};
    auto self = shared_from_this();
    server.served.fetch_add(1, std::memory_order_relaxed);  // before the client can see it
    asio::async_write(socket, buffers, [self](beast::error_code ec, std::size_t) {
      if (ec) return self->close();
      self->response.body.clear();
      self->response.body.shrink_to_fit();
      if (!self->keep_alive || self->server.stopping) return self->drain();
      self->start_request();
    });
  }

  // Half-close, then read and drop what the client still sends (the rest of a refused body)
  // until it closes or kDrainTimeout: closing with unread data would reset the connection and
  // could destroy the answer before the client reads it.
  void drain() {
    state = State::draining;
    last_activity = Clock::now();
    beast::error_code ec;
    socket.shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return close();
    drain_some();
  }
  void drain_some() {
    auto self = shared_from_this();
    socket.async_read_some(asio::buffer(discard), [self](beast::error_code ec, std::size_t) {
      if (ec) return self->close();
      self->drain_some();
    });
  }

  void close() {
    beast::error_code ec;
    socket.close(ec);
  }
};

void start_http_session(Core& core, Context& ctx, tcp::socket socket, bool reserved) {
  auto session = std::make_shared<Session>(core, ctx, std::move(socket));
  session->reserved = reserved;
  session->start_request();
}

void expire_http_sessions(Context& ctx, Clock::time_point now) {
  std::vector<Session*> expired;
  for (Session* s : ctx.sessions) {
    if (s->expired(now)) expired.push_back(s);
  }
  for (Session* s : expired)
    s->expire();
}

void close_idle_http_sessions(Context& ctx) {
  for (Session* s : ctx.sessions)
    if (s->state == Session::State::idle) s->close();
}

}  // namespace pipewright::http
