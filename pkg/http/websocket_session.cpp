#include "pkg/http/websocket_session.h"

#include <algorithm>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket.hpp>
#include <cctype>
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "pkg/log/log.h"

namespace pipewright::http {

namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace websocket = beast::websocket;

namespace {

constexpr std::size_t kCloseReasonMax = 123;  // RFC 6455 5.5: control frame payload 125 bytes
// One gather write takes at most this many queued WebSocket messages, or about this many
// bytes; payloads up to kCopyBelow are copied next to their frame header.
constexpr std::size_t kMaxFramesPerWrite = 1024;
constexpr std::size_t kMaxBytesPerWrite = std::size_t{1} << 20;
constexpr std::size_t kCopyBelow = 2048;
constexpr std::size_t kMaxFrameHeader = 10;

}  // namespace

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
  asio::steady_timer coalesce_timer;  // WebSocketOptions::coalesce, armed while it waits
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
  // close() asked for: sent once the queue has been written (or after options.close_grace).
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

  // The Channel has messages again after being idle: written after handler->options.coalesce
  // (others queued meanwhile go in the same write), or at once when that is zero.
  void write_soon() {
    const auto wait = handler->options.coalesce;
    if (wait.count() <= 0) return write_next();
    if (closing || ended || writing) return;
    writing = true;  // the timer holds the write loop until it fires
    auto self = shared_from_this();
    coalesce_timer.expires_after(wait);
    coalesce_timer.async_wait([self](beast::error_code) {
      self->writing = false;
      self->write_next();
    });
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

  // close(): the queue is written first, unless the peer takes longer than
  // options.close_grace.
  void close_after_queue(int code, std::string reason) {
    if (closing || ended || close_when_written) return;
    close_when_written.emplace(code, std::move(reason));
    auto self = shared_from_this();
    close_timer.expires_after(handler->options.close_grace);
    close_timer.async_wait([self](beast::error_code ec) {
      if (ec || !self->close_when_written) return;  // cancelled: closing already
      self->close_now(self->close_when_written->first, self->close_when_written->second);
    });
    write_next();
  }

  // Sends a close frame (after a write in flight); a peer that does not answer it within
  // options.close_grace is cut off.
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
    close_timer.expires_after(handler->options.close_grace);
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
    coalesce_timer.cancel();
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
    : server(s),
      ctx(c),
      ws(std::move(sock)),
      handler(std::move(h)),
      close_timer(c.io),
      coalesce_timer(c.io) {
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
    post([](WsSession& s) { s.write_soon(); });
  }
  return SendResult::queued;
}

void Channel::close(int code, const std::string& reason) {
  const std::lock_guard lock(mu_);
  if (closed_) return;
  closed_ = true;
  post([code, reason](WsSession& s) { s.close_after_queue(code, reason); });
}

void start_websocket(Core& core, Context& ctx, tcp::socket socket,
                     std::shared_ptr<WebSocketHandler> handler,
                     bhttp::request<bhttp::string_body> upgrade) {
  auto ws = std::make_shared<WsSession>(core, ctx, std::move(socket), std::move(handler));
  ws->start(std::move(upgrade));
}

void close_websockets(Context& ctx, int code, const std::string& reason) {
  for (WsSession* w : ctx.websockets)
    w->close_now(code, reason);
}

}  // namespace pipewright::http
