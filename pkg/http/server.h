#pragma once
// A small HTTP/1.1 server (Boost.Beast, one I/O thread) for probes and simple endpoints:
// handler in, response out. The workers' hot paths get their server from the data-plane work,
// chosen by bench/http.

#include <functional>
#include <map>
#include <memory>
#include <string>

namespace pipewright::http {

struct Request {
  std::string method, target, body;
  std::map<std::string, std::string> headers;  // lower-case names
};

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::map<std::string, std::string> headers;
};

class Server {
 public:
  using Handler = std::function<Response(const Request&)>;
  // `bind` is "host:port" or ":port" (all interfaces); port 0 lets the OS choose.
  // Throws std::runtime_error when the address cannot be bound.
  Server(const std::string& bind, Handler handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  int port() const;
  int requests() const;  // answered so far

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pipewright::http
