// The microservices seed through the real router: `mult` backends as pipewright-worker processes
// behind Debian's nginx running the plan's upstream (weights 3 and 1 and a backup). What a user
// of the seed watches: how requests are split, and what happens as backends stop, hang and
// come back, and while weights change.

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <atomic>
#include <chrono>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "pkg/api/manifest.h"
#include "pkg/proc/net.h"
#include "tests/support/keepalive_client.h"
#include "tests/support/suite_logs.h"
#include "tests/support/weighted.h"
#include "tests/support/workers.h"

namespace pipewright::testing {
namespace {

using nlohmann::json;
using std::chrono::steady_clock;

api::WeightedService example(const std::string& fail_timeout = "10s") {
  auto ws = api::load({source_dir() / "examples" / "mult.yaml"}).weighted_services.at(0);
  ws.health.fail_timeout = fail_timeout;
  return ws;
}

struct Tally {
  std::map<std::string, int> served;  // X-Served-By -> requests
  int failed = 0;
  std::string first_failure;
  double max_seconds = 0;
  int slow = 0;                    // answers that took over half a second
  std::vector<std::string> first;  // who served the first 12, in order
  int total() const {
    int n = failed;
    for (const auto& [k, v] : served)
      n += v;
    return n;
  }
  double share(const std::string& backend) const {
    const auto it = served.find(backend);
    return it == served.end() ? 0.0 : static_cast<double>(it->second) / total();
  }
};

std::ostream& operator<<(std::ostream& out, const Tally& t) {
  out << "{";
  for (const auto& [k, v] : t.served)
    out << k << ": " << v << ", ";
  out << "failed: " << t.failed << (t.failed ? " (" + t.first_failure + ")" : "");
  if (t.slow) out << ", " << t.slow << " took over 0.5 s (slowest " << t.max_seconds << " s)";
  out << ", first:";
  for (const auto& b : t.first)
    out << " " << b;
  return out << "}";
}

// `n` GETs of /mult with distinct operands; every answer must be the right product.
Tally send(KeepAliveClient& client, int n, int start = 1) {
  Tally t;
  for (int i = start; i < start + n; ++i) {
    const auto begin = steady_clock::now();
    const auto r = client.get("/mult?op1=" + std::to_string(i) + "&op2=3");
    const auto took = std::chrono::duration<double>(steady_clock::now() - begin).count();
    t.max_seconds = std::max(t.max_seconds, took);
    if (took > 0.5) ++t.slow;
    if (t.first.size() < 12) t.first.push_back(r.header("x-served-by"));
    const auto body = json::parse(r.body, nullptr, false);
    if (r.status != 200 || !r.error.empty() || !body.is_object() || body["result"] != i * 3) {
      if (t.failed++ == 0)
        t.first_failure = std::to_string(r.status) + " " + r.error + " " + r.body;
      continue;
    }
    ++t.served[r.header("x-served-by")];
  }
  return t;
}

void expect_split(const Tally& t, double primary, double secondary) {
  EXPECT_EQ(t.failed, 0) << t;
  EXPECT_NEAR(t.share("primary"), primary, 0.02) << t;
  EXPECT_NEAR(t.share("secondary"), secondary, 0.02) << t;
  EXPECT_EQ(t.share("standby"), 0.0) << t;
}

TEST(Weighted, TenThousandRequestsSplitThreeToOneAndNoneReachTheStandby) {
  ServiceRun run(example());
  KeepAliveClient client(run.router_port());
  const auto t = send(client, 10'000);
  std::cout << "10000 requests through the router: " << t << "\n";
  expect_split(t, 0.75, 0.25);
  // Each backend counted what it served, as Prometheus would see it.
  for (const auto& [backend, n] : t.served) {
    EXPECT_EQ(metric_value(run.metrics_url(backend), "pipewright_backend_requests_total",
                           "backend=\"" + backend + "\""),
              n)
        << backend;
  }
  EXPECT_EQ(metric_value(run.metrics_url("standby"), "pipewright_backend_requests_total"), 0);
}

TEST(Weighted, BadOperandsAreTheCallersErrorAndAreNotRetriedElsewhere) {
  ServiceRun run(example());
  KeepAliveClient client(run.router_port());
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"/mult?op1=abc&op2=2", "op1"},
      {"/mult?op2=2", "op1"},
      {"/mult?op1=2", "op2"},
      {"/mult?op1=9223372036854775807&op2=2", "op2"},
      {"/mult?op1=1e308&op2=1e308", "op2"},
      {"/mult?op1=1e999&op2=1", "op1"}};
  for (const auto& [target, field] : bad) {
    const auto r = client.get(target);
    EXPECT_EQ(r.status, 400) << target << " " << r.body;
    EXPECT_EQ(json::parse(r.body, nullptr, false).value("field", ""), field) << target;
    EXPECT_FALSE(r.header("x-served-by").empty()) << target;
  }
  // One attempt each: a 400 is not passed on to another backend.
  double answered = 0;
  for (const char* b : {"primary", "secondary", "standby"})
    answered += metric_value(run.metrics_url(b), "pipewright_backend_requests_total");
  EXPECT_EQ(answered, static_cast<double>(bad.size()));

  // POST with a form or JSON works through the router too, as does the exposed path.
  auto r = client.request("POST", "/mult", "op1=6&op2=7", "application/x-www-form-urlencoded");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["result"], 42);
  r = client.request("POST", "/mult", R"({"op1": 2.5, "op2": "4"})", "application/json");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["result"], 10.0);
  r = client.request("POST", "/mult", R"({"op1": [1], "op2": 4})", "application/json");
  EXPECT_EQ(r.status, 400) << r.body;
  r = client.request("DELETE", "/mult");
  EXPECT_EQ(r.status, 405) << r.body;
}

TEST(Weighted, StoppingBackendsFallsToTheSecondaryThenTheStandbyAndBack) {
  ServiceRun run(example("2s"));
  KeepAliveClient client(run.router_port());

  run.stop_backend("primary");
  auto t = send(client, 400);
  std::cout << "primary stopped: " << t << "\n";
  EXPECT_EQ(t.failed, 0) << t;
  EXPECT_EQ(t.served["secondary"], 400) << t;

  run.stop_backend("secondary");
  t = send(client, 400);
  std::cout << "primary and secondary stopped: " << t << "\n";
  EXPECT_EQ(t.failed, 0) << t;
  EXPECT_EQ(t.served["standby"], 400) << t;

  run.start_backend("primary");
  run.start_backend("secondary");
  // nginx tries a failed server again once its fail_timeout (2s) has passed.
  const bool back = proc::poll_until(std::chrono::seconds(30), [&] {
    const auto probe = send(client, 8);
    return probe.served.count("primary") && probe.served.count("secondary");
  });
  ASSERT_TRUE(back) << "the weighted backends never got traffic again";
  t = send(client, 4'000);
  std::cout << "both restarted: " << t << "\n";
  expect_split(t, 0.75, 0.25);
}

// A listening socket that never accepts: once its backlog is full, connections hang in SYN
// state instead of being refused, like a host that went away.
class BlackHole {
 public:
  BlackHole() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(fd_, 0) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      throw std::runtime_error("black hole socket");
    }
    port_ = ntohs(addr.sin_port);
  }
  ~BlackHole() { ::close(fd_); }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST(Weighted, AHungBackendIsPassedOverWithinTheTimeout) {
  ServiceRun run(example("2s"));
  KeepAliveClient client(run.router_port());
  // Warm up so nginx holds idle connections to every weighted backend.
  ASSERT_EQ(send(client, 40).failed, 0);

  // Stopped, not dead: its port accepts, nothing answers.
  run.pause_backend("primary");
  auto t = send(client, 300);
  std::cout << "primary hung (SIGSTOP): " << t << "\n";
  EXPECT_EQ(t.failed, 0) << t;
  EXPECT_EQ(t.served["primary"], 0) << t;
  EXPECT_EQ(t.served["secondary"], 300) << t;
  // Each request waits at most about one connectTimeout (1s), never nginx's default 60 s.
  EXPECT_LT(t.max_seconds, 5.0);
  run.resume_backend("primary");

  // A secondary that does not even complete the TCP handshake.
  BlackHole hole;
  run.route_elsewhere("secondary", hole.address());
  run.reweight({});
  t = send(client, 300);
  std::cout << "secondary a black hole: " << t << "\n";
  EXPECT_EQ(t.failed, 0) << t;
  EXPECT_EQ(t.served["secondary"], 0) << t;
  EXPECT_EQ(t.served["primary"], 300) << t;
  EXPECT_LT(t.max_seconds, 5.0);
}

TEST(Weighted, ChangingWeightsUnderLoadDropsNoRequest) {
  ServiceRun run(example());
  std::atomic<bool> stop{false};
  std::atomic<int> sent{0}, failed{0}, retried{0};
  std::string first_failure;
  std::mutex mutex;
  std::vector<std::thread> clients;
  for (int c = 0; c < 4; ++c) {
    clients.emplace_back([&, c] {
      KeepAliveClient client(run.router_port());
      for (int i = 1; !stop; ++i) {
        const auto r = client.get("/mult?op1=" + std::to_string(i) + "&op2=" + std::to_string(c));
        ++sent;
        if (r.status != 200 || !r.error.empty()) {
          if (failed++ == 0) {
            const std::lock_guard lock(mutex);
            first_failure = std::to_string(r.status) + " " + r.error + " " + r.body;
          }
        }
      }
      retried += client.retries();
    });
  }
  const auto wait_for = [&](int more) {
    const int target = sent + more;
    proc::poll_until(std::chrono::seconds(60), [&] { return sent >= target; });
  };
  wait_for(2'000);
  // Five reloads under load, ending at primary 1 : secondary 3.
  for (const auto& weights :
       std::vector<std::map<std::string, int>>{{{"primary", 1}, {"secondary", 1}},
                                               {{"primary", 5}, {"secondary", 1}},
                                               {{"primary", 2}, {"secondary", 2}},
                                               {{"primary", 3}, {"secondary", 1}},
                                               {{"primary", 1}, {"secondary", 3}}}) {
    run.reweight(weights);
    wait_for(1'000);
  }
  stop = true;
  for (auto& t : clients)
    t.join();
  std::cout << sent << " requests while the router reloaded 5 times: " << failed << " failed, "
            << retried << " repeated on a fresh connection after nginx closed an idle one\n";
  EXPECT_EQ(failed, 0) << first_failure;
  EXPECT_GT(sent, 7'000);

  KeepAliveClient client(run.router_port());
  const auto t = send(client, 4'000);
  std::cout << "after the weights became 1:3: " << t << "\n";
  expect_split(t, 0.25, 0.75);
}

}  // namespace
}  // namespace pipewright::testing
