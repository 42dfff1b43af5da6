#pragma once
// The HTTP/1.0 and 1.1 server of the workers and the operator's probes: handler in, response
// out, on Boost.Asio with Beast's request parser. Each I/O thread has its own io_context and
// owns the connections it is handed, so a connection never needs a lock; see bench/README.md
// ("bench/http") for the measurements behind this shape.

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pipewright::http {

struct Response;
struct WebSocketHandler;  // pkg/http/websocket.h

// The answer to a request given later, from any thread: a handler that waits (for Kafka, for
// another service) returns Request::later() instead of holding an I/O thread. The first
// respond() answers; later calls are ignored. Dropped without an answer, it answers 500.
class Responder {
 public:
  explicit Responder(std::function<void(Response)> send);
  ~Responder();
  Responder(const Responder&) = delete;
  Responder& operator=(const Responder&) = delete;
  void respond(Response response);

 private:
  std::mutex mu_;
  std::function<void(Response)> send_;  // empty once answered
};

struct Request {
  std::string method, target, body;
  std::map<std::string, std::string> headers;  // lower-case names
  // Route captures ("{name}" → value), filled by the Router as it dispatches; mutable because
  // handlers receive the request as const.
  mutable std::map<std::string, std::string> params;

  // The target without its query string, percent-decoded (nothing rejected or normalised).
  std::string path() const;
  // The first query parameter `name`, percent-decoded with '+' as a space; nullopt when absent.
  std::optional<std::string> query(std::string_view name) const;
  // The header's value, "" when absent; `lower_name` is lower-case.
  std::string header(std::string_view lower_name) const;

  // Answers later: the handler returns what this returns; once it has, the server calls `start`
  // with a Responder and answers when the Responder does (the connection waits, the I/O thread
  // does not). For handlers that wait on Kafka or another service.
  Response later(std::function<void(std::shared_ptr<Responder>)> start) const;

  // What the handler asked the server to do after it returns (later(), websocket_upgrade()).
  mutable std::function<void(std::shared_ptr<Responder>)> deferred;
  mutable std::shared_ptr<WebSocketHandler> websocket;
};

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::map<std::string, std::string> headers;

  static Response json(int status, const nlohmann::json& body);
  // {"error": message, "field": field} (field left out when empty), the workers' error shape.
  static Response error(int status, std::string message, std::string field = "");
};

// The limits one client meets (docs/security.md lists them and why).
struct ServerOptions {
  std::string bind;  // "host:port" or ":port" (all interfaces); port 0 lets the OS choose
  int threads = 1;   // I/O threads; the handler is called from all of them
  std::size_t max_body_bytes = std::size_t{1024} * 1024;
  // Open connections (WebSockets included). Over it, `probe_reserve` more are accepted for
  // `reserved_paths` only (anything else gets 503 and the connection closes; their whole request
  // must arrive within 2 s), so a flood never fails the kubelet's probes; beyond that a new
  // connection is closed at once.
  std::size_t max_connections = 512;
  std::size_t probe_reserve = 16;
  std::vector<std::string> reserved_paths = {"/healthz", "/readyz", "/metrics"};
  // From a request's first byte: its head (request line and headers) must be in within
  // head_timeout, the whole request (head and body) within request_timeout, however steadily
  // the bytes come; then the connection is closed (408 when nothing was answered yet).
  std::chrono::milliseconds head_timeout{10'000};
  std::chrono::milliseconds request_timeout{120'000};
};

class Server {
 public:
  using Handler = std::function<Response(const Request&)>;
  // Throws std::runtime_error when the address cannot be bound.
  Server(const ServerOptions& options, Handler handler);
  Server(const std::string& bind, Handler handler);  // one thread, 1 MiB bodies
  ~Server();                                         // stop()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  int port() const;
  int requests() const;  // answered so far
  // Connections open now (WebSockets and the probe reserve included); one is counted until its
  // socket is closed on the server's side, a moment after the client hangs up.
  int open_connections() const;

  // Stops accepting, closes idle connections and WebSockets (1001 "server shutting down"), lets
  // requests already being received or handled finish (at most 5 s), then stops the threads.
  // Idempotent; for a clean SIGTERM. It joins the I/O threads, so it must not be called from a
  // handler.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pipewright::http
