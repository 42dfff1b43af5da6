// pkg/http: WebSocket routes (handshake, limits, close codes, a bounded queue per client,
// stop) and answers given later from another thread, over real sockets on 127.0.0.1.

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <thread>

#include "pkg/http/router.h"
#include "pkg/http/server.h"
#include "pkg/http/websocket.h"
#include "pkg/proc/net.h"
#include "tests/support/http_client.h"
#include "tests/support/websocket_client.h"

namespace pipewright::http {
namespace {

using namespace std::chrono_literals;
using testing::WebSocketClient;
using testing::WebSocketClientOptions;

ServerOptions local() {
  ServerOptions o;
  o.bind = "127.0.0.1:0";
  o.threads = 2;
  return o;
}

std::string ws(const Server& s, const std::string& path) {
  return "ws://127.0.0.1:" + std::to_string(s.port()) + path;
}

// An echo route that also remembers its clients.
struct Echo {
  std::shared_ptr<WebSocketHandler> handler = std::make_shared<WebSocketHandler>();
  std::mutex mu;
  std::vector<std::shared_ptr<WebSocket>> open;
  std::vector<std::pair<int, std::string>> closed;

  Echo() {
    handler->on_open = [this](const std::shared_ptr<WebSocket>& w) {
      const std::lock_guard lock(mu);
      open.push_back(w);
    };
    handler->on_text = [](const std::shared_ptr<WebSocket>& w, std::string text) {
      w->send("echo: " + text);
    };
    handler->on_close = [this](const std::shared_ptr<WebSocket>&, int code,
                               const std::string& reason) {
      const std::lock_guard lock(mu);
      closed.emplace_back(code, reason);
    };
  }
  std::size_t opened() {
    const std::lock_guard lock(mu);
    return open.size();
  }
  std::size_t ended() {
    const std::lock_guard lock(mu);
    return closed.size();
  }
  // Read under the lock: the server's threads append while a test reads (TSan).
  std::pair<int, std::string> close_at(std::size_t i) {
    const std::lock_guard lock(mu);
    return closed.at(i);
  }
  std::shared_ptr<WebSocket> socket(std::size_t i) {
    const std::lock_guard lock(mu);
    return open.at(i);
  }
};

TEST(WebSocket, EchoesTextAndPlainHttpGets426) {
  Echo echo;
  Router router;
  router.get("/ws", [&](const Request& r) { return websocket_upgrade(r, echo.handler); });
  Server server(local(), router.handler());

  WebSocketClient c(ws(server, "/ws"));
  ASSERT_TRUE(c.send_text("olá"));
  EXPECT_EQ(c.next(5s).value_or(""), "echo: olá");
  ASSERT_TRUE(c.send_text(std::string(60000, 'x')));  // several reads, one message
  EXPECT_EQ(c.next(5s).value_or("").size(), 60006U);
  c.close();
  EXPECT_EQ(c.close_code(), 1000);
  ASSERT_TRUE(proc::poll_until(5s, [&] { return echo.ended() == 1; }));
  EXPECT_EQ(echo.close_at(0).first, 1000);

  const auto plain = testing::http_get("http://127.0.0.1:" + std::to_string(server.port()) + "/ws");
  EXPECT_EQ(plain.status, 426);
  EXPECT_EQ(nlohmann::json::parse(plain.body)["field"], "upgrade");
}

TEST(WebSocket, BinaryAndOversizedMessagesCloseWithACodeAndAReason) {
  Echo echo;
  echo.handler->options.max_message_bytes = 100;
  Router router;
  router.get("/ws", [&](const Request& r) { return websocket_upgrade(r, echo.handler); });
  Server server(local(), router.handler());

  WebSocketClient bin(ws(server, "/ws"));
  bin.send_binary("abc");
  ASSERT_TRUE(bin.wait_closed(5s));
  EXPECT_EQ(bin.close_code(), kCloseUnsupportedData);
  EXPECT_NE(bin.close_reason().find("binary"), std::string::npos);

  WebSocketClient big(ws(server, "/ws"));
  ASSERT_TRUE(big.send_text(std::string(100, 'a')));  // at the limit: fine
  EXPECT_TRUE(big.next(5s));
  big.send_text(std::string(101, 'a'));
  ASSERT_TRUE(big.wait_closed(5s));
  EXPECT_EQ(big.close_code(), kCloseTooBig);
  EXPECT_NE(big.close_reason().find("100 bytes"), std::string::npos) << big.close_reason();
  ASSERT_TRUE(proc::poll_until(5s, [&] { return echo.ended() == 2; }));
}

// Messages queued faster than the socket takes them go out many frames per write: every one
// must arrive whole, as its own message and in order, whatever its size (small ones are copied
// beside their headers, large ones written from the shared payload, 16- and 64-bit lengths),
// and a close asked for after them comes after the last.
// `coalesce`: how long a write waits for company (WebSocketOptions::coalesce, the gateway's).
void burst_arrives_whole_and_in_order_then_the_close(std::chrono::microseconds coalesce) {
  Echo echo;
  echo.handler->options.max_queue = 100000;
  echo.handler->options.coalesce = coalesce;
  // About 11 MB to read before the close frame: the default 2 s for the client to answer it cut
  // a client slowed by ASan on a loaded machine (1006, "Transport endpoint is not connected").
  // Cutting a client that does not answer is not what this test is about.
  echo.handler->options.close_grace = 30s;
  Router router;
  router.get("/ws", [&](const Request& r) { return websocket_upgrade(r, echo.handler); });
  Server server(local(), router.handler());

  std::mutex mu;
  std::vector<std::string> got;
  WebSocketClientOptions o;
  o.on_message = [&](const std::string& m) {
    const std::lock_guard lock(mu);
    got.push_back(m);
  };
  WebSocketClient c(ws(server, "/ws"), o);
  ASSERT_TRUE(proc::poll_until(5s, [&] { return echo.opened() == 1; }));
  const auto w = echo.socket(0);
  const auto message = [](int i) {
    // Sizes around the copy threshold and the 126 / 65536 length encodings.
    static const std::vector<std::size_t> sizes = {0,    1,    125,   126,   2047,
                                                   2048, 2049, 65535, 65536, 70000};
    const auto size = i % 50 == 0 ? sizes[static_cast<std::size_t>(i / 50) % sizes.size()]
                                  : static_cast<std::size_t>(i % 300);
    std::string m = std::to_string(i) + ":";
    m.resize(std::max(size, m.size()), static_cast<char>('a' + i % 26));
    return m;
  };
  constexpr int kCount = 20000;
  for (int i = 0; i < kCount; ++i)
    ASSERT_EQ(w->send(message(i)), SendResult::queued) << i;
  w->close(kCloseNormal, "done");
  ASSERT_TRUE(c.wait_closed(60s));
  EXPECT_EQ(c.close_code(), kCloseNormal);
  EXPECT_EQ(c.close_reason(), "done");
  const std::lock_guard lock(mu);
  ASSERT_EQ(got.size(), static_cast<std::size_t>(kCount));
  for (int i = 0; i < kCount; ++i)
    ASSERT_EQ(got[static_cast<std::size_t>(i)], message(i)) << i;
}

TEST(WebSocket, ABurstOfQueuedMessagesArrivesWholeAndInOrderThenTheClose) {
  burst_arrives_whole_and_in_order_then_the_close(std::chrono::microseconds(0));
}

TEST(WebSocket, ABurstArrivesWholeWhenWritesWaitToCoalesce) {
  burst_arrives_whole_and_in_order_then_the_close(std::chrono::milliseconds(2));
}

// Many sockets fed by one loop, as the gateway's fan-out does: the one that does not read is cut
// off once its queue is full (payloads copied into the coalesced writes, `payload_bytes` each),
// the others get everything in order, and the loop never waits for the slow one.
void slow_one_is_cut_off_among_readers(std::size_t payload_bytes,
                                       std::chrono::microseconds coalesce = {}) {
  Echo echo;
  echo.handler->options.max_queue = 50;
  echo.handler->options.coalesce = coalesce;
  Router router;
  router.get("/ws", [&](const Request& r) { return websocket_upgrade(r, echo.handler); });
  Server server(local(), router.handler());

  constexpr std::size_t kReaders = 4;
  std::vector<std::unique_ptr<WebSocketClient>> readers;
  std::vector<std::atomic<std::size_t>> in_order(kReaders);
  std::vector<std::atomic<bool>> out_of_order(kReaders);
  for (std::size_t r = 0; r < kReaders; ++r) {
    WebSocketClientOptions o;
    o.on_message = [&, r](const std::string& m) {
      if (m.substr(0, m.find(':')) == std::to_string(in_order[r].load())) {
        in_order[r].fetch_add(1);
      } else {
        out_of_order[r] = true;
      }
    };
    readers.push_back(std::make_unique<WebSocketClient>(ws(server, "/ws"), o));
  }
  ASSERT_TRUE(proc::poll_until(5s, [&] { return echo.opened() == kReaders; }));
  WebSocketClientOptions slow_options;
  slow_options.read = false;
  slow_options.receive_buffer_bytes = 4096;
  WebSocketClient slow(ws(server, "/ws"), slow_options);
  ASSERT_TRUE(proc::poll_until(5s, [&] { return echo.opened() == kReaders + 1; }));
  std::vector<std::shared_ptr<WebSocket>> all;
  for (std::size_t i = 0; i <= kReaders; ++i)
    all.push_back(echo.socket(i));

  int overflows = 0;
  std::size_t sent = 0;
  const auto slowest = [&] {
    std::size_t m = sent;
    for (const auto& n : in_order)
      m = std::min(m, n.load());
    return m;
  };
  for (int i = 0; i < 200000 && overflows == 0; ++i) {
    std::string m = std::to_string(i) + ":";
    m.resize(payload_bytes, 'p');
    const auto shared = std::make_shared<const std::string>(std::move(m));
    for (std::size_t k = 0; k < all.size(); ++k) {
      const auto r = all[k]->send(shared);
      if (r == SendResult::overflow) ++overflows;
      if (k < kReaders) {
        ASSERT_EQ(r, SendResult::queued) << "reader " << k << " at " << i;
      }
    }
    ++sent;
    // The readers keep up (their queues never near the limit); only the slow one fills its own.
    ASSERT_TRUE(proc::poll_until(
        5s, [&] { return slowest() + 20 >= sent; }, 1ms))
        << slowest() << " of " << sent;
  }
  EXPECT_EQ(overflows, 1);
  ASSERT_TRUE(proc::poll_until(10s, [&] { return echo.ended() == 1; }));
  EXPECT_EQ(echo.close_at(0).first, kClosePolicy);
  EXPECT_NE(echo.close_at(0).second.find("too slow"), std::string::npos);
  EXPECT_EQ(all[kReaders]->send("late"), SendResult::closed);
  ASSERT_TRUE(proc::poll_until(5s, [&] { return slowest() == sent; }));
  for (std::size_t r = 0; r < kReaders; ++r) {
    EXPECT_FALSE(readers[r]->closed()) << r;
    EXPECT_FALSE(out_of_order[r].load()) << r;
  }
}

TEST(WebSocket, ASlowClientAmongReadersIsCutOffWithSmallCoalescedFrames) {
  slow_one_is_cut_off_among_readers(600);
}

// As the gateway runs it: each message to an idle reader waits for company first, and is
// still delivered (one at a time here: the loop waits for the readers after each).
TEST(WebSocket, ASlowClientIsCutOffWhenWritesWaitToCoalesce) {
  slow_one_is_cut_off_among_readers(600, std::chrono::microseconds(200));
}

TEST(WebSocket, AClientThatDoesNotReadIsCutOffAndTheOthersKeepUp) {
  Echo echo;
  echo.handler->options.max_queue = 50;
  Router router;
  router.get("/ws", [&](const Request& r) { return websocket_upgrade(r, echo.handler); });
  Server server(local(), router.handler());

  WebSocketClient reader(ws(server, "/ws"));
  ASSERT_TRUE(proc::poll_until(5s, [&] { return echo.opened() == 1; }));  // open[0]
  WebSocketClientOptions slow_options;
  slow_options.read = false;
  slow_options.receive_buffer_bytes = 4096;
  WebSocketClient slow(ws(server, "/ws"), slow_options);
  ASSERT_TRUE(proc::poll_until(5s, [&] { return echo.opened() == 2; }));

  const auto payload = std::make_shared<const std::string>(8192, 'p');
  int overflows = 0;
  std::size_t sent_to_reader = 0;
  const std::vector<std::shared_ptr<WebSocket>> both = {echo.socket(0), echo.socket(1)};
  for (int i = 0; i < 3000 && overflows == 0; ++i) {
    for (const auto& w : both) {
      const auto r = w->send(payload);
      if (r == SendResult::overflow) ++overflows;
      if (w == both[0] && r == SendResult::queued) ++sent_to_reader;
    }
    // The reader keeps up (its queue never nears the limit); only the slow one fills its own.
    ASSERT_TRUE(proc::poll_until(5s, [&] { return reader.received() + 20 >= sent_to_reader; }))
        << reader.received() << " of " << sent_to_reader << ": " << reader.close_reason();
  }
  EXPECT_EQ(overflows, 1);
  // Cut off: a close frame it never reads, then the socket after the grace period.
  ASSERT_TRUE(proc::poll_until(10s, [&] { return echo.ended() == 1; }));
  EXPECT_EQ(echo.close_at(0).first, kClosePolicy);
  EXPECT_NE(echo.close_at(0).second.find("too slow"), std::string::npos);
  EXPECT_EQ(echo.socket(1)->send(payload), SendResult::closed);
  EXPECT_FALSE(reader.closed());
  ASSERT_TRUE(proc::poll_until(5s, [&] { return reader.received() == sent_to_reader; }));
}

TEST(WebSocket, StopClosesConnectionsWithGoingAway) {
  Echo echo;
  Router router;
  router.get("/ws", [&](const Request& r) { return websocket_upgrade(r, echo.handler); });
  auto server = std::make_unique<Server>(local(), router.handler());
  WebSocketClient c(ws(*server, "/ws"));
  ASSERT_TRUE(proc::poll_until(5s, [&] { return echo.opened() == 1; }));
  const auto started = std::chrono::steady_clock::now();
  server->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);  // closed, not waited out
  ASSERT_TRUE(c.wait_closed(5s));
  EXPECT_EQ(c.close_code(), kCloseGoingAway);
  // A handle kept after the server is gone is closed, not a crash.
  EXPECT_EQ(echo.socket(0)->send("late"), SendResult::closed);
  server.reset();
}

TEST(Later, AnAnswerFromAnotherThreadIsServedAndCounted) {
  auto registry = std::make_shared<prometheus::Registry>();
  Router router(registry);
  std::mutex mu;
  std::vector<std::shared_ptr<Responder>> pending;
  router.get("/slow", [&](const Request& r) {
    return r.later([&](const std::shared_ptr<Responder>& responder) {
      const std::lock_guard lock(mu);
      pending.push_back(responder);
    });
  });
  router.get("/fast", [](const Request&) { return Response::json(200, {{"ok", true}}); });
  ServerOptions o = local();
  o.threads = 1;  // one I/O thread: a waiting request must not hold it
  Server server(o, router.handler());
  const std::string base = "http://127.0.0.1:" + std::to_string(server.port());

  auto slow = std::async(std::launch::async, [&] { return testing::http_get(base + "/slow"); });
  ASSERT_TRUE(proc::poll_until(5s, [&] {
    const std::lock_guard lock(mu);
    return pending.size() == 1;
  }));
  EXPECT_EQ(testing::http_get(base + "/fast").status, 200);  // served meanwhile
  std::thread([&] {
    pending[0]->respond(Response::json(201, {{"late", true}}));
    pending[0]->respond(Response::json(500, {}));  // ignored
  }).join();
  const auto res = slow.get();
  EXPECT_EQ(res.status, 201);
  EXPECT_EQ(nlohmann::json::parse(res.body)["late"], true);

  // Dropped without an answer: 500, not a hung connection.
  auto dropped = std::async(std::launch::async, [&] { return testing::http_get(base + "/slow"); });
  ASSERT_TRUE(proc::poll_until(5s, [&] {
    const std::lock_guard lock(mu);
    return pending.size() == 2;
  }));
  {
    const std::lock_guard lock(mu);
    pending.clear();
  }
  EXPECT_EQ(dropped.get().status, 500);

  const auto metrics = testing::http_get(base + "/fast");  // the router has no /metrics here
  EXPECT_EQ(metrics.status, 200);
  bool counted = false;
  for (const auto& family : registry->Collect()) {
    if (family.name != "http_requests_total") continue;
    for (const auto& m : family.metric) {
      bool route = false;
      bool code = false;
      for (const auto& l : m.label) {
        route = route || (l.name == "route" && l.value == "/slow");
        code = code || (l.name == "code" && l.value == "201");
      }
      counted = counted || (route && code);
    }
  }
  EXPECT_TRUE(counted);
}

}  // namespace
}  // namespace pipewright::http
