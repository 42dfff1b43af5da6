#pragma once
// A WebSocket client for tests and benchmarks (Boost.Beast): connects to ws://127.0.0.1:port/path,
// reads on a thread of its own into a queue (or hands each message to a callback), and records
// how the connection ended. A client made with `read = false` never reads: the slow client.

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace pipewright::testing {

struct WebSocketClientOptions {
  bool read = true;              // false: never read (the server's writes pile up)
  int receive_buffer_bytes = 0;  // SO_RCVBUF before connecting; 0 leaves the default
  // When set, each message goes here (on the client's thread) instead of the queue.
  std::function<void(const std::string&)> on_message;
};

class WebSocketClient {
 public:
  // `url`: "ws://host:port/path" (or http://). Throws std::runtime_error when the connection or
  // the handshake fails, with the HTTP status in the message when the server refused.
  explicit WebSocketClient(const std::string& url, WebSocketClientOptions options = {});
  ~WebSocketClient();
  WebSocketClient(const WebSocketClient&) = delete;
  WebSocketClient& operator=(const WebSocketClient&) = delete;

  // Sends one message and waits until it is written; false when the connection is gone.
  bool send_text(const std::string& text);
  bool send_binary(const std::string& bytes);

  // The next message, waiting up to `wait`; nullopt on timeout or once closed and drained.
  std::optional<std::string> next(std::chrono::milliseconds wait);
  // Waits up to `wait` for the connection to end; true when it has.
  bool wait_closed(std::chrono::milliseconds wait);
  bool closed() const;
  int close_code() const;  // from the server's close frame; 1006 when none came
  std::string close_reason() const;
  std::size_t received() const;  // messages read so far
  // Sends a normal close (1000) and waits briefly for the server's answer.
  void close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pipewright::testing
