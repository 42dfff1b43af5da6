#include "pkg/http/server.h"

// Before asio: Boost 1.74's awaitable.hpp uses std::exchange without including it.
#include <utility>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <deque>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "pkg/http/websocket.h"
#include "pkg/log/log.h"

namespace pipewright::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kReadChunk = std::size_t{16} * 1024;
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
constexpr auto kStopGrace = std::chrono::seconds(5);
// A WebSocket whose peer does not take our close frame within this is cut off.
constexpr auto kCloseGrace = std::chrono::seconds(2);
constexpr std::size_t kCloseReasonMax = 123;  // RFC 6455 5.5: control frame payload 125 bytes
// One gather write takes at most this many queued WebSocket messages, or about this many
// bytes; payloads up to kCopyBelow are copied next to their frame header.
constexpr std::size_t kMaxFramesPerWrite = 1024;
constexpr std::size_t kMaxBytesPerWrite = std::size_t{1} << 20;
constexpr std::size_t kCopyBelow = 2048;
constexpr std::size_t kMaxFrameHeader = 10;

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// "%XX" becomes its byte (invalid escapes stay as they are); '+' is a space in query strings.
std::string percent_decode(std::string_view in, bool plus_is_space) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '%' && i + 2 < in.size()) {
      const int hi = hex_value(in[i + 1]);
      const int lo = hex_value(in[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_is_space && c == '+' ? ' ' : c);
  }
  return out;
}

std::string http_date() {
  std::array<char, 64> buf{};
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  const auto n = std::strftime(buf.data(), buf.size(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return {buf.data(), n};
}

bool has_crlf(std::string_view s) {
  return s.find_first_of("\r\n") != std::string_view::npos;
}

}  // namespace

std::string Request::path() const {
  const auto q = target.find('?');
  return percent_decode(std::string_view(target).substr(0, q), false);
}

std::optional<std::string> Request::query(std::string_view name) const {
  const auto q = target.find('?');
  if (q == std::string::npos) return std::nullopt;
  std::string_view rest = std::string_view(target).substr(q + 1);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    const auto eq = pair.find('=');
    if (percent_decode(pair.substr(0, eq), true) != name) continue;
    if (eq == std::string_view::npos) return std::string();
    return percent_decode(pair.substr(eq + 1), true);
  }
  return std::nullopt;
}

std::string Request::header(std::string_view lower_name) const {
  const auto it = headers.find(std::string(lower_name));
  return it == headers.end() ? std::string() : it->second;
}

Response Response::json(int status, const nlohmann::json& body) {
  // Invalid UTF-8 in a string becomes U+FFFD rather than an exception in the middle of a reply.
  return {status,
          "application/json",
          body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
          {}};
}

Response Response::error(int status, std::string message, std::string field) {
  nlohmann::json body = {{"error", std::move(message)}};
  if (!field.empty()) body["field"] = std::move(field);
  return json(status, body);
}

Responder::Responder(std::function<void(Response)> send) : send_(std::move(send)) {}

Responder::~Responder() {
  std::function<void(Response)> send;
  {
    const std::lock_guard lock(mu_);
    send.swap(send_);
  }
  if (!send) return;
  try {
    send(Response::error(500, "the request was dropped without an answer"));
  } catch (...) {  // NOLINT(bugprone-empty-catch): a destructor must not throw
  }
}

void Responder::respond(Response response) {
  std::function<void(Response)> send;
  {
    const std::lock_guard lock(mu_);
    send.swap(send_);
  }
  if (send) send(std::move(response));
}

Response Request::later(std::function<void(std::shared_ptr<Responder>)> start) const {
  deferred = std::move(start);
  return Response::error(500, "answered later");  // replaced by what the Responder is given
}

bool is_websocket_upgrade(const Request& request) {
  auto lower = [](std::string v) {
    for (auto& c : v)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return v;
  };
  return request.method == "GET" &&
         lower(request.header("upgrade")).find("websocket") != std::string::npos &&
         lower(request.header("connection")).find("upgrade") != std::string::npos &&
         !request.header("sec-websocket-key").empty();
}

Response websocket_upgrade(const Request& request, std::shared_ptr<WebSocketHandler> handler) {
  if (!is_websocket_upgrade(request)) {
    auto res = Response::error(
        426, "this is a WebSocket endpoint: connect with `Upgrade: websocket`", "upgrade");
    res.headers["Upgrade"] = "websocket";
    return res;
  }
  request.websocket = std::move(handler);
  return {101, "text/plain; charset=utf-8", "", {}};
}

// A WebSocket frame's header as a server sends it (RFC 6455 5.2: FIN, text, never masked), in
// `out`; returns its length (2, 4 or 10 bytes).
std::size_t text_frame_header(std::size_t payload, unsigned char* out) {
  out[0] = 0x81;
  if (payload < 126) {
    out[1] = static_cast<unsigned char>(payload);
    return 2;
  }
  if (payload <= 0xFFFF) {
    out[1] = 126;
    out[2] = static_cast<unsigned char>(payload >> 8);
    out[3] = static_cast<unsigned char>(payload);
    return 4;
  }
  out[1] = 127;
  for (int i = 0; i < 8; ++i)
    out[2 + i] = static_cast<unsigned char>(static_cast<std::uint64_t>(payload) >> (56 - 8 * i));
  return 10;
}

// The layer under Beast's websocket stream. Beast writes one frame per socket write; the server
// instead writes every queued data frame of a client in one gather write of its own. Each write
// on the socket, Beast's (handshake, pongs, pings, close) and the server's, goes through this
// queue whole and in order, so frames never interleave and a close frame follows the data
// queued before it.
class FrameStream {
 public:
  using next_layer_type = beast::tcp_stream;
  using executor_type = next_layer_type::executor_type;

  explicit FrameStream(tcp::socket socket) : next_(std::move(socket)) { queue_->stream = &next_; }
  ~FrameStream() {
    queue_->stream = nullptr;
    drop(*queue_);
  }
  FrameStream(const FrameStream&) = delete;
  FrameStream& operator=(const FrameStream&) = delete;
  FrameStream(FrameStream&&) = delete;
  FrameStream& operator=(FrameStream&&) = delete;

  executor_type get_executor() noexcept { return next_.get_executor(); }
  next_layer_type& next_layer() noexcept { return next_; }
  const next_layer_type& next_layer() const noexcept { return next_; }

  template <class MutableBuffers, class Handler>
  void async_read_some(const MutableBuffers& buffers, Handler&& handler) {
    next_.async_read_some(buffers, std::forward<Handler>(handler));
  }
  // Beast's writes (it writes a frame with asio::async_write: this writes all of it).
  template <class ConstBuffers, class Handler>
  void async_write_some(const ConstBuffers& buffers, Handler&& handler) {
    enqueue(buffers, std::forward<Handler>(handler));
  }
  // Complete frames of the server's, written whole after what is queued.
  template <class Handler>
  void write_frames(const std::vector<asio::const_buffer>& buffers, Handler&& handler) {
    enqueue(buffers, std::forward<Handler>(handler));
  }

 private:
  struct Queue;
  struct Op {
    Op() = default;
    Op(const Op&) = delete;
    Op& operator=(const Op&) = delete;
    Op(Op&&) = delete;
    Op& operator=(Op&&) = delete;
    virtual ~Op() = default;
    virtual void start(const std::shared_ptr<Queue>& queue) = 0;
  };
  struct Queue {
    next_layer_type* stream = nullptr;  // null once the stream is gone
    std::deque<std::unique_ptr<Op>> pending;
    bool busy = false;
  };
  // Held by the write in flight. Destroyed without running (its io_context went first), it
  // drops the waiting writes: their handlers may hold the connection, which holds this queue.
  struct Flight {
    std::shared_ptr<Queue> queue;
    explicit Flight(std::shared_ptr<Queue> q) : queue(std::move(q)) {}
    Flight(Flight&& other) noexcept : queue(std::move(other.queue)) {}
    Flight(const Flight&) = delete;
    Flight& operator=(const Flight&) = delete;
    Flight& operator=(Flight&&) = delete;
    ~Flight() {
      if (queue) drop(*queue);
    }
  };
  // Destroys the waiting writes out of the queue first: a handler's destruction may end the
  // connection, whose FrameStream then drops (an already empty) queue again.
  static void drop(Queue& queue) {
    auto dropped = std::move(queue.pending);
    queue.pending.clear();
  }
  template <class Buffers, class Handler>
  struct Write final : Op {
    Write(const Buffers& b, Handler h) : buffers(b), handler(std::move(h)) {}
    Buffers buffers;
    Handler handler;
    void start(const std::shared_ptr<Queue>& queue) override {
      asio::async_write(*queue->stream, buffers,
                        [flight = Flight(queue), h = std::move(handler)](beast::error_code ec,
                                                                         std::size_t n) mutable {
                          const auto q = std::move(flight.queue);
                          q->busy = false;
                          next(q);
                          h(ec, n);
                        });
    }
  };

  template <class Buffers, class Handler>
  void enqueue(const Buffers& buffers, Handler&& handler) {
    queue_->pending.push_back(std::make_unique<Write<Buffers, std::decay_t<Handler>>>(
        buffers, std::forward<Handler>(handler)));
    if (!queue_->busy) next(queue_);
  }
  static void next(const std::shared_ptr<Queue>& queue) {
    if (queue->stream == nullptr) {
      drop(*queue);
      return;
    }
    if (queue->pending.empty()) return;
    auto op = std::move(queue->pending.front());
    queue->pending.pop_front();
    queue->busy = true;
    op->start(queue);
  }

  next_layer_type next_;
  std::shared_ptr<Queue> queue_ = std::make_shared<Queue>();
};

// Beast closes a websocket's connection through these (found by argument-dependent lookup).
void teardown(beast::role_type role, FrameStream& stream, beast::error_code& ec) {
  using beast::websocket::teardown;
  teardown(role, stream.next_layer(), ec);
}
template <class Handler>
void async_teardown(beast::role_type role, FrameStream& stream, Handler&& handler) {
  using beast::websocket::async_teardown;
  async_teardown(role, stream.next_layer(), std::forward<Handler>(handler));
}

struct Session;
struct WsSession;

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

// The thread-safe side of one WebSocket: its queue of outgoing messages. The connection itself
// (WsSession) lives on its I/O thread and is reached by posting there.
class Channel final : public WebSocket {
 public:
  Channel(std::shared_ptr<Life> life, asio::io_context& io, std::size_t max_queue,
          std::string remote)
      : life_(std::move(life)), io_(io), max_queue_(max_queue), remote_(std::move(remote)) {}

  SendResult send(std::shared_ptr<const std::string> text) override;
  void close(int code, const std::string& reason) override;
  bool is_open() const override {
    const std::lock_guard lock(mu_);
    return !closed_;
  }
  std::string remote() const override { return remote_; }

  // I/O thread: the oldest queued messages, up to `max_count` and about `max_bytes` (at least
  // one), into `out`. They stay queued (and count against max_queue) until pop(). None: the
  // writing ends until send() starts it again.
  void take(std::vector<std::shared_ptr<const std::string>>& out, std::size_t max_count,
            std::size_t max_bytes) {
    out.clear();
    const std::lock_guard lock(mu_);
    if (queue_.empty()) {
      writing_ = false;
      return;
    }
    std::size_t bytes = 0;
    for (const auto& m : queue_) {
      if (out.size() == max_count || (!out.empty() && bytes + m->size() > max_bytes)) break;
      bytes += m->size();
      out.push_back(m);
    }
  }
  void pop(std::size_t count) {
    const std::lock_guard lock(mu_);
    queue_.erase(queue_.begin(),
                 queue_.begin() + static_cast<std::ptrdiff_t>(std::min(count, queue_.size())));
  }
  void mark_closed() {
    const std::lock_guard lock(mu_);
    closed_ = true;
    queue_.clear();
  }

  std::weak_ptr<WsSession> session;

 private:
  template <class F>
  void post(F f);  // runs f(WsSession&) on the I/O thread, if the connection is still there

  std::shared_ptr<Life> life_;
  asio::io_context& io_;
  const std::size_t max_queue_;
  const std::string remote_;
  mutable std::mutex mu_;
  std::deque<std::shared_ptr<const std::string>> queue_;
  bool closed_ = false;
  bool writing_ = false;
};

// One WebSocket connection after the handshake: a read loop that enforces the message limits
// and a write loop that drains the Channel's queue, on the I/O thread that accepted it.
struct WsSession : std::enable_shared_from_this<WsSession> {
  WsSession(Core& s, Context& c, tcp::socket sock, std::shared_ptr<WebSocketHandler> h);
  ~WsSession();
  WsSession(const WsSession&) = delete;
  WsSession& operator=(const WsSession&) = delete;

  Core& server;
  Context& ctx;
  websocket::stream<FrameStream> ws;
  std::shared_ptr<WebSocketHandler> handler;
  std::shared_ptr<Channel> channel;
  bhttp::request<bhttp::string_body> upgrade_request;
  beast::flat_buffer in;
  asio::steady_timer close_timer;
  bool closing = false;
  bool ended = false;
  int close_code = kCloseAbnormal;
  std::string close_reason;
  // The write in flight: its messages (held until written), the frames' headers and small
  // payloads copied together, and the buffers pointing into both.
  std::vector<std::shared_ptr<const std::string>> batch;
  std::string staged;
  std::vector<asio::const_buffer> buffers;
  bool writing = false;
  // close() asked for: sent once the queue has been written (or after kCloseGrace).
  std::optional<std::pair<int, std::string>> close_when_written;

  void start(bhttp::request<bhttp::string_body> request) {
    upgrade_request = std::move(request);
    beast::error_code ec;
    const auto peer = beast::get_lowest_layer(ws).socket().remote_endpoint(ec);
    channel = std::make_shared<Channel>(
        ctx.life, ctx.io, handler->options.max_queue,
        ec ? std::string("unknown")
           : peer.address().to_string() + ":" + std::to_string(peer.port()));
    channel->session = weak_from_this();
    // Pings after 30 s of silence; a peer silent for 60 s is gone.
    ws.set_option(
        websocket::stream_base::timeout{std::chrono::seconds(30), std::chrono::seconds(60), true});
    ws.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(bhttp::field::server, "pipewright"); }));
    ws.text(true);
    auto self = shared_from_this();
    ws.async_accept(upgrade_request, [self](beast::error_code error) {
      if (error) return self->end(kCloseAbnormal, "handshake failed: " + error.message());
      self->guarded([&] {
        if (self->handler->on_open) self->handler->on_open(self->channel);
      });
      self->read();
    });
  }

  // A handler's exception must not end the I/O thread: it closes this connection instead.
  template <class F>
  void guarded(F&& f) {
    try {
      f();
    } catch (const std::exception& e) {
      log::error("websocket handler failed", {{"error", e.what()}});
      close_now(1011, "internal error");
    }
  }

  void read() {
    if (closing || ended) return;
    const std::size_t max = handler->options.max_message_bytes;
    // Never buffer more than one byte past the limit.
    const std::size_t room = max + 1 - std::min(max, in.size());
    auto self = shared_from_this();
    ws.async_read_some(in, std::min(room, kReadChunk),
                       [self](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec) {
      if (closing) return end(close_code, close_reason);
      if (ec == websocket::error::closed) {
        const auto& r = ws.reason();
        return end(r.code, std::string(r.reason.data(), r.reason.size()));
      }
      return end(kCloseAbnormal, ec.message());
    }
    if (closing) return;
    if (ws.got_binary() && !handler->options.accept_binary) {
      return close_now(kCloseUnsupportedData, "binary messages are not accepted; send text");
    }
    const std::size_t max = handler->options.max_message_bytes;
    if (in.size() > max) {
      return close_now(kCloseTooBig, "message over " + std::to_string(max) + " bytes");
    }
    if (ws.is_message_done()) {
      std::string text = beast::buffers_to_string(in.data());
      in.consume(in.size());
      guarded([&] {
        if (handler->on_text) handler->on_text(channel, std::move(text));
      });
    }
    read();
  }

  // Every queued message (up to a bound) as its own text frame, all in one gather write: one
  // syscall for many frames instead of one each. A payload is never serialised again here:
  // small ones are copied beside their headers (cheaper than a buffer each), large ones are
  // written from the shared string itself.
  void write_next() {
    if (closing || ended || writing) return;
    // Beast has the peer's close frame (its answer is queued): no data may follow it.
    if (!ws.is_open()) return;
    channel->take(batch, kMaxFramesPerWrite, kMaxBytesPerWrite);
    if (batch.empty()) {
      if (close_when_written) close_now(close_when_written->first, close_when_written->second);
      return;
    }
    std::size_t stage = 0;
    for (const auto& m : batch)
      stage += kMaxFrameHeader + (m->size() <= kCopyBelow ? m->size() : 0);
    staged.resize(stage);  // never grows below: `buffers` point into it
    auto* out = reinterpret_cast<unsigned char*>(staged.data());
    std::size_t used = 0;
    std::size_t run = 0;  // start of the staged bytes not yet in `buffers`
    buffers.clear();
    for (const auto& m : batch) {
      used += text_frame_header(m->size(), out + used);
      if (m->size() <= kCopyBelow) {
        std::copy(m->begin(), m->end(), out + used);
        used += m->size();
        continue;
      }
      buffers.emplace_back(out + run, used - run);
      buffers.emplace_back(m->data(), m->size());
      run = used;
    }
    if (used > run) buffers.emplace_back(out + run, used - run);
    auto self = shared_from_this();
    writing = true;
    ws.next_layer().write_frames(buffers, [self](beast::error_code ec, std::size_t) {
      self->writing = false;
      if (ec) {
        if (!self->closing) self->end(kCloseAbnormal, ec.message());
        return;
      }
      self->channel->pop(self->batch.size());
      self->batch.clear();
      self->write_next();
    });
  }

  // close(): the queue is written first, unless the peer takes longer than kCloseGrace.
  void close_after_queue(int code, std::string reason) {
    if (closing || ended || close_when_written) return;
    close_when_written.emplace(code, std::move(reason));
    auto self = shared_from_this();
    close_timer.expires_after(kCloseGrace);
    close_timer.async_wait([self](beast::error_code ec) {
      if (ec || !self->close_when_written) return;  // cancelled: closing already
      self->close_now(self->close_when_written->first, self->close_when_written->second);
    });
    write_next();
  }

  // Sends a close frame (after a write in flight); a peer that does not read it within
  // kCloseGrace is cut off.
  void close_now(int code, std::string reason) {
    if (closing || ended) return;
    closing = true;
    close_code = code;
    close_reason = reason;
    channel->mark_closed();
    if (reason.size() > kCloseReasonMax) reason.resize(kCloseReasonMax);
    websocket::close_reason frame;
    frame.code = static_cast<std::uint16_t>(code);
    frame.reason = reason;
    auto self = shared_from_this();
    ws.async_close(frame,
                   [self](beast::error_code) { self->end(self->close_code, self->close_reason); });
    close_timer.expires_after(kCloseGrace);
    close_timer.async_wait([self](beast::error_code ec) {
      if (ec) return;  // cancelled: ended in time
      beast::error_code ignored;
      beast::get_lowest_layer(self->ws).socket().close(ignored);
    });
  }

  void end(int code, const std::string& reason) {
    if (ended) return;
    ended = true;
    close_timer.cancel();
    channel->mark_closed();
    beast::error_code ignored;
    beast::get_lowest_layer(ws).socket().close(ignored);
    if (handler->on_close) {
      try {
        handler->on_close(channel, code, reason);
      } catch (const std::exception& e) {
        log::error("websocket close handler failed", {{"error", e.what()}});
      }
    }
  }
};

WsSession::WsSession(Core& s, Context& c, tcp::socket sock, std::shared_ptr<WebSocketHandler> h)
    : server(s), ctx(c), ws(std::move(sock)), handler(std::move(h)), close_timer(c.io) {
  server.live.fetch_add(1);
  ctx.websockets.insert(this);
}

WsSession::~WsSession() {
  ctx.websockets.erase(this);
  if (channel) channel->mark_closed();
  server.release();
}

template <class F>
void Channel::post(F f) {
  post_if_alive(*life_, io_, [weak = session, f = std::move(f)] {
    if (auto s = weak.lock()) f(*s);
  });
}

SendResult Channel::send(std::shared_ptr<const std::string> text) {
  const std::lock_guard lock(mu_);
  if (closed_) return SendResult::closed;
  if (queue_.size() >= max_queue_) {
    closed_ = true;
    post([n = max_queue_](WsSession& s) {
      s.close_now(kClosePolicy,
                  "client too slow: " + std::to_string(n) + " messages queued and unread");
    });
    return SendResult::overflow;
  }
  queue_.push_back(std::move(text));
  if (!writing_) {
    writing_ = true;
    post([](WsSession& s) { s.write_next(); });
  }
  return SendResult::queued;
}

void Channel::close(int code, const std::string& reason) {
  const std::lock_guard lock(mu_);
  if (closed_) return;
  closed_ = true;
  post([code, reason](WsSession& s) { s.close_after_queue(code, reason); });
}

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
    auto ws = std::make_shared<WsSession>(server, ctx, std::move(socket), std::move(handler));
    ws->start(parser->release());
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
        auto session = std::make_shared<Session>(*this, target, std::move(s));
        session->reserved = reserved;
        session->start_request();
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
  std::vector<Session*> expired;
  for (Session* s : ctx.sessions) {
    if (s->expired(now)) expired.push_back(s);
  }
  for (Session* s : expired)
    s->expire();
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
      for (Session* s : c->sessions)
        if (s->state == Session::State::idle) s->close();
      for (WsSession* w : c->websockets)
        w->close_now(kCloseGoingAway, "server shutting down");
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

}  // namespace pipewright::http
