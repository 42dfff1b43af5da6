#include "tests/fuzz/http_fixture.h"

#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>

#include "pkg/http/router.h"
#include "pkg/http/server.h"
#include "pkg/http/websocket.h"

namespace pipewright::fuzz {
namespace {

struct Fixture {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  http::Router router{registry};
  std::shared_ptr<http::WebSocketHandler> echo = std::make_shared<http::WebSocketHandler>();
  std::unique_ptr<http::Server> server;

  Fixture() {
    echo->options.max_message_bytes = kFuzzMaxMessage;
    echo->options.max_queue = 8;
    echo->on_text = [](const std::shared_ptr<http::WebSocket>& ws, const std::string& text) {
      ws->send("echo: " + text);
      if (text == "close") ws->close(http::kCloseNormal, "asked to");
    };
    router.get("/", [](const http::Request&) {
      return http::Response{200, "text/plain", "ok", {}};
    });
    router.post("/echo", [](const http::Request& r) {
      return http::Response::json(
          200, {{"bytes", r.body.size()}, {"type", r.header("content-type")}, {"path", r.path()}});
    });
    router.put("/files/{name}", [](const http::Request& r) {
      return http::Response::json(201, {{"name", r.params.at("name")}, {"bytes", r.body.size()}});
    });
    router.get("/q", [](const http::Request& r) {
      return http::Response::json(
          200,
          {{"a", r.query("a").value_or("")}, {"b", r.query("b").value_or("")}, {"path", r.path()}});
    });
    router.post("/later", [](const http::Request& r) {
      const auto size = r.body.size();
      return r.later([size](const std::shared_ptr<http::Responder>& responder) {
        responder->respond(http::Response::json(202, {{"bytes", size}}));
      });
    });
    router.get("/ws", [this](const http::Request& r) { return http::websocket_upgrade(r, echo); });
    http::add_probes(
        router, [] { return true; }, registry);
    http::ServerOptions options;
    options.bind = "127.0.0.1:0";
    options.threads = 2;  // as the workers run it
    options.max_body_bytes = kFuzzMaxBody;
    server = std::make_unique<http::Server>(options, router.handler());
  }
};

}  // namespace

int http_fixture_port() {
  // Never destroyed: libFuzzer exits from inside a run, and a server stopping then would race
  // the exit; the OS closes the socket.
  static Fixture* fixture = new Fixture();  // NOLINT(cppcoreguidelines-owning-memory)
  return fixture->server->port();
}

}  // namespace pipewright::fuzz
