#pragma once
// WebSocket (RFC 6455) on the HTTP server: a route answers with websocket_upgrade(), the server
// completes the handshake and runs the connection on the I/O thread that accepted it (Beast's
// websocket stream). Every connection has a bounded queue of outgoing messages, so one slow
// client never holds back the code that sends to many.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "pkg/http/server.h"

namespace pipewright::http {

// Close codes used by the server (RFC 6455 section 7.4.1).
enum CloseCode : int {
  kCloseNormal = 1000,
  kCloseGoingAway = 1001,        // the server is stopping
  kCloseUnsupportedData = 1003,  // a binary message where text is expected
  kCloseInvalidPayload = 1007,   // text that is not UTF-8 (Beast checks it)
  kClosePolicy = 1008,           // the client did not read fast enough
  kCloseTooBig = 1009,           // a message over max_message_bytes
  kCloseAbnormal = 1006,         // no close frame (connection lost)
};

struct WebSocketOptions {
  std::size_t max_message_bytes = std::size_t{64} * 1024;  // larger: closed with 1009
  std::size_t max_queue = 1000;  // messages not yet written; one more: closed with 1008
  bool accept_binary = false;    // binary messages: closed with 1003
  // How long the first message queued to an idle connection waits for others before it is
  // written, so that a fan-out writes many frames per syscall even to a client that keeps up
  // (without it, each message to a fast client costs a wake-up of the I/O thread and a write of
  // its own). Zero: written at once (answers, such as /produce's).
  std::chrono::microseconds coalesce{0};
  // How long close() waits for the queue to be written, and then for the peer's answer to the
  // close frame, before the connection is cut (1006 at the peer).
  std::chrono::milliseconds close_grace{2000};
};

enum class SendResult {
  queued,
  overflow,  // the queue was full: the connection is being closed (1008); reported once
  closed,    // the connection is closed or closing
};

// One accepted connection. Thread-safe: send() and close() may be called from any thread.
class WebSocket {
 public:
  virtual ~WebSocket() = default;
  // Queues a text message (shared, so one payload serves many clients).
  virtual SendResult send(std::shared_ptr<const std::string> text) = 0;
  SendResult send(std::string text) {
    return send(std::make_shared<const std::string>(std::move(text)));
  }
  // Sends a close frame with `code` and `reason` (at most 123 bytes) after what is queued.
  virtual void close(int code, const std::string& reason) = 0;
  virtual bool is_open() const = 0;
  virtual std::string remote() const = 0;  // "ip:port" of the client
};

struct WebSocketHandler {
  WebSocketOptions options;
  // After the handshake.
  std::function<void(const std::shared_ptr<WebSocket>&)> on_open;
  // Each complete text message, on the connection's I/O thread (do not block it for long).
  std::function<void(const std::shared_ptr<WebSocket>&, std::string message)> on_text;
  // Once, when the connection has ended: the close code sent or received (1006 when the
  // connection was lost) and its reason.
  std::function<void(const std::shared_ptr<WebSocket>&, int code, const std::string& reason)>
      on_close;
};

// Whether the request asks for a WebSocket (GET with Upgrade: websocket and a key).
bool is_websocket_upgrade(const Request& request);

// What a route returns to accept a WebSocket: the server performs the handshake (101) and runs
// `handler`; a request that is not an upgrade gets 426 {"error","field":"upgrade"}.
Response websocket_upgrade(const Request& request, std::shared_ptr<WebSocketHandler> handler);

}  // namespace pipewright::http
