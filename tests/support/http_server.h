#pragma once
// A small HTTP/1.1 server for tests (Boost.Beast) on 127.0.0.1 with a port chosen by the OS:
// the "local listener" that nginx proxies to, that Chromium loads a page from, and so on.

#include <functional>
#include <memory>
#include <string>

namespace pipewright::testing {

struct TestRequest {
  std::string method, target, body;
};
struct TestResponse {
  int status = 200;
  std::string content_type = "text/plain";
  std::string body;
};

class HttpServer {
 public:
  using Handler = std::function<TestResponse(const TestRequest&)>;
  explicit HttpServer(Handler handler);
  ~HttpServer();
  int port() const;
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port()); }
  int requests() const;  // how many requests it has answered

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pipewright::testing
