// Issue 14: hostile clients against real `pipewright-worker` processes on a real Kafka — endless
// chunk extensions, slow clients, connection floods, deep JSON, huge form fields, images that
// are heavy to decode. Each case asserts what a user of the service would notice: a clear 4xx
// (or a cut connection), the process alive, its memory bounded, its probes answering.

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <fstream>
#include <future>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <sstream>
#include <thread>

#include "pkg/api/manifest.h"
#include "tests/support/http_client.h"
#include "tests/support/kafka_suite.h"
#include "tests/support/workers.h"

namespace pipewright::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

// What a client writes byte for byte, and the first response it reads (status 0: none, the
// connection was cut or stayed silent for `timeout`).
class RawClient {
 public:
  explicit RawClient(int port, std::chrono::seconds timeout = 10s) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{static_cast<time_t>(timeout.count()), 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawClient() { close(fd_); }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;
  bool connected() const { return connected_; }
  bool send_all(std::string_view data) {
    while (!data.empty()) {
      const auto n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  int status() {
    std::string buf;
    char chunk[4096];
    while (buf.find("\r\n") == std::string::npos) {
      const auto n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n <= 0) return 0;
      buf.append(chunk, static_cast<std::size_t>(n));
    }
    return buf.size() >= 12 ? std::stoi(buf.substr(9, 3)) : 0;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

// Resident memory of a process, from /proc/<pid>/status (VmRSS), in bytes.
long long rss_bytes(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("VmRSS:")) return std::stoll(line.substr(6)) * 1024;
  }
  return -1;
}

// A probe as the kubelet sends it: its own connection and a short timeout (the kubelet's default
// is 1 s; 3 s unless a test asks for the kubelet's).
int probe(int port, std::chrono::seconds timeout = 3s) {
  RawClient c(port, timeout);
  const std::string path = "/healthz";
  if (!c.connected() || !c.send_all("GET " + path + " HTTP/1.1\r\nHost: t\r\n\r\n")) return 0;
  return c.status();
}

// A JSON value nested `depth` levels deep inside `{"payload": ...}`: ~2 bytes per level.
std::string deep_json(int depth) {
  return R"({"payload":{"a":)" + std::string(static_cast<std::size_t>(depth), '[') + "1" +
         std::string(static_cast<std::size_t>(depth), ']') + "}}";
}

// A PNG of `side` x `side` black pixels: a few KB that decode to side*side*3 bytes.
std::string black_png(int side) {
  const cv::Mat m(side, side, CV_8UC3, cv::Scalar(0, 0, 0));
  std::vector<uchar> out;
  cv::imencode(".png", m, out, {cv::IMWRITE_PNG_COMPRESSION, 9});
  return {out.begin(), out.end()};
}

HttpResult upload(const WorkerProcess& w, const std::string& name, const std::string& bytes,
                  const std::vector<Form::Field>& extra = {}) {
  Form form;
  form.fields.push_back({"file", name, "image/png", bytes});
  for (const auto& f : extra)
    form.fields.push_back(f);
  return http_request("POST", w.url() + "/upload", form.body(), form.content_type());
}

std::string field_of(const HttpResult& r) {
  const auto body = json::parse(r.body, nullptr, false);
  return body.is_object() ? body.value("field", "") : "";
}

api::Pipeline pipeline_of(const std::string& file) {
  return api::load({source_dir() / "examples" / file}).pipelines.at(0);
}

// The workers under attack, one process each, shared by the suite's tests: the HTTP ones of the
// three pipelines, with a short request deadline so slow clients are cut within seconds.
class AbuseTest : public KafkaSuite {
 protected:
  static void SetUpTestSuite() {
    KafkaSuite::SetUpTestSuite();
    if (!broker) return;
    const std::map<std::string, std::string> env = {{"PIPEWRIGHT_HTTP_REQUEST_TIMEOUT", "3s"},
                                                    {"PIPEWRIGHT_HTTP_MAX_CONNECTIONS", "64"}};
    images =
        std::make_unique<PipelineRun>(pipeline_of("images.yaml"), broker->bootstrap(), "abuse-img");
    images->set_config("upload", {{"maxBytes", 20 << 20}});
    images->create_topics();
    upload_w = &images->start("upload", env);
    orders =
        std::make_unique<PipelineRun>(pipeline_of("orders.yaml"), broker->bootstrap(), "abuse-ord");
    orders->create_topics();
    orders_w = &orders->start("api", env);
    fraud_w = &orders->start("fraud", env);  // a consumer: only probes and metrics
    events =
        std::make_unique<PipelineRun>(pipeline_of("events.yaml"), broker->bootstrap(), "abuse-evt");
    events->create_topics();
    events_w = &events->start("api", env);
    gateway_w = &events->start("gateway", env);  // WebSockets
  }
  static void TearDownTestSuite() {
    images.reset();
    orders.reset();
    events.reset();
    KafkaSuite::TearDownTestSuite();
  }
  void SetUp() override {
    KafkaSuite::SetUp();
    ASSERT_NE(upload_w, nullptr);
  }
  // One of each shape the runtime serves: multipart uploads, JSON APIs, a consumer, WebSockets.
  static std::vector<WorkerProcess*> all() {
    return {upload_w, orders_w, events_w, fraud_w, gateway_w};
  }
  // Alive, and answering its probes on both ports.
  static void expect_healthy(WorkerProcess& w) {
    EXPECT_TRUE(w.process.running()) << w.step << " died";
    EXPECT_EQ(probe(w.http_port), 200) << w.step << " http port";
    EXPECT_EQ(probe(w.metrics_port), 200) << w.step << " metrics port";
  }

  static inline std::unique_ptr<PipelineRun> images, orders, events;
  static inline WorkerProcess* upload_w = nullptr;
  static inline WorkerProcess* orders_w = nullptr;
  static inline WorkerProcess* events_w = nullptr;
  static inline WorkerProcess* fraud_w = nullptr;
  static inline WorkerProcess* gateway_w = nullptr;
};

// Defect 1: 64 MiB of chunk extension grew the upload worker from 51 to 114 MB, unanswered.
TEST_F(AbuseTest, AnEndlessChunkExtensionKeepsMemoryFlatOnEveryPort) {
  const std::string filler(1 << 20, 'a');
  for (auto* w : all()) {
    for (const int port : {w->http_port, w->metrics_port}) {
      const auto before = rss_bytes(w->process.pid());
      RawClient c(port);
      ASSERT_TRUE(c.connected());
      c.send_all("POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n1;");
      std::size_t sent = 0;
      while (sent < (std::size_t{64} << 20) && c.send_all(filler))
        sent += filler.size();
      const int status = c.status();
      const auto after = rss_bytes(w->process.pid());
      EXPECT_TRUE(status == 431 || status == 0) << w->step << ":" << port << " " << status;
      EXPECT_LT(after - before, 20LL << 20)
          << w->step << ":" << port << " grew from " << before << " to " << after << " bytes";
      expect_healthy(*w);
    }
  }
}

// Defect 6: one byte a second held a request open for ever (the stall timer was reset by every
// byte). With a 3 s request deadline, each slow client is cut, and probes answer meanwhile.
TEST_F(AbuseTest, SlowClientsAreCutAtTheRequestDeadlineWhileProbesAnswer) {
  auto& w = *upload_w;
  const auto before = rss_bytes(w.process.pid());
  std::vector<std::future<int>> slow;
  for (int i = 0; i < 20; ++i) {
    slow.push_back(std::async(std::launch::async, [port = w.http_port, i] {
      RawClient c(port, 20s);
      const bool body = i % 2 == 1;  // half trickle the head, half the body
      c.send_all(body ? "POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n"
                      : "GET / HTTP/1.1\r\nHost: t\r\n");
      std::promise<int> answer;
      auto result = answer.get_future();
      std::thread reader([&] { answer.set_value(c.status()); });
      // One byte a second for up to 15 s; the deadline is 3 s.
      for (int n = 0; n < 15; ++n) {
        if (result.wait_for(1s) == std::future_status::ready) break;
        if (!c.send_all(body ? "x" : "X")) break;
      }
      reader.join();
      return result.get();
    }));
  }
  for (int i = 0; i < 5; ++i) {  // probes while the slow clients hold their connections
    EXPECT_EQ(probe(w.http_port), 200);
    std::this_thread::sleep_for(300ms);
  }
  for (auto& s : slow)
    EXPECT_EQ(s.get(), 408);  // answered while the client was still sending (0: never cut)
  EXPECT_LT(rss_bytes(w.process.pid()) - before, 20LL << 20);
  expect_healthy(w);
}

// Defect 6: no connection cap. 200 idle connections against a cap of 64: the worker keeps at most
// its cap (and the probe reserve) open, answers the rest 503 or closes them, and its probes
// still answer on the same port.
TEST_F(AbuseTest, AConnectionFloodIsBoundedAndProbesAnswer) {
  auto& w = *orders_w;
  const auto before = rss_bytes(w.process.pid());
  std::vector<std::unique_ptr<RawClient>> flood;
  for (int i = 0; i < 200; ++i)
    flood.push_back(std::make_unique<RawClient>(w.http_port, 5s));
  // The reserve's idle connections are closed within 2 s, so a probe gets a slot soon.
  int status = 0;
  const auto deadline = Clock::now() + 20s;
  while (status != 200 && Clock::now() < deadline) {
    status = probe(w.http_port);
    if (status != 200) std::this_thread::sleep_for(200ms);
  }
  EXPECT_EQ(status, 200) << "the probe never got through the flood";
  // An ordinary request over the cap: 503, never a hang.
  RawClient over(w.http_port, 5s);
  over.send_all("GET /orders/x HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_EQ(over.status(), 503);
  EXPECT_LT(rss_bytes(w.process.pid()) - before, 20LL << 20);
  flood.clear();
  expect_healthy(w);
}

// Defect 2: a ~200 KB body nested 100,000 deep overflowed the stack (events-api died).
TEST_F(AbuseTest, DeepJsonIsA400NamingTheBody) {
  const auto body = deep_json(100'000);
  ASSERT_GT(body.size(), 190'000u);
  for (const auto& [w, path] : {std::pair{events_w, std::string("/events")},
                                std::pair{events_w, std::string("/events?wait=1s")},
                                std::pair{orders_w, std::string("/orders")}}) {
    const auto r = http_request("POST", w->url() + path, body, "application/json");
    EXPECT_EQ(r.status, 400) << w->step << path << ": " << r.body;
    EXPECT_EQ(field_of(r), "body") << r.body;
    expect_healthy(*w);
  }
  // Nesting a document really uses (a few levels) is fine.
  const auto ok =
      http_request("POST", events_w->url() + "/events", deep_json(20), "application/json");
  EXPECT_EQ(ok.status, 202) << ok.body;
}

// Defects 3 and 8: a 100 KB `email` or `notify` field overflowed std::regex's stack (the upload
// worker died); a name ending in a result suffix took a victim's result's place.
TEST_F(AbuseTest, HugeFormFieldsAndResultNamesAreA400) {
  auto& w = *upload_w;
  const auto png = black_png(8);
  const std::string huge(100 * 1024, 'a');
  for (const char* field : {"email", "notify", "telegram"}) {
    // A long local part, a long top-level domain (std::regex recursed on `[A-Za-z]{2,}`), neither.
    for (const auto& value : {huge + "@example.com", "a@b." + huge, huge}) {
      const auto r = upload(w, "a.png", png, {{field, "", "", value}});
      EXPECT_EQ(r.status, 400) << field << ": " << r.body;
      EXPECT_EQ(field_of(r), field) << r.body;
    }
  }
  for (const char* name : {"photo.gray.png", "x.rotated.png", "y.gray.jpg"}) {
    const auto r = upload(w, name, png);
    EXPECT_EQ(r.status, 400) << name << ": " << r.body;
    EXPECT_EQ(field_of(r), "file");
    EXPECT_FALSE(std::filesystem::exists(images->data_dir() / name)) << name;
  }
  const auto fine = upload(w, "photo.png", png, {{"email", "", "", "ana@example.com"}});
  EXPECT_EQ(fine.status, 201) << fine.body;
  expect_healthy(w);
}

// Defect 7: decoding ran on the I/O threads that answer the probes. A PNG bomb is refused from
// its header (413); images that are heavy to decode go to a pool of two, four more wait, the
// rest get 503, and the probes answer all along.
TEST_F(AbuseTest, HeavyImagesNeverStopTheProbesAndABombIs413) {
  auto& w = *upload_w;
  // A header claiming 100000 x 100000: refused before any pixel is decoded.
  const auto bomb_like = [] {
    auto png = black_png(8);
    const auto be = [&](std::size_t at, std::uint32_t v) {
      for (int i = 0; i < 4; ++i)
        png[at + static_cast<std::size_t>(i)] = static_cast<char>(v >> (24 - 8 * i));
    };
    be(16, 100000);  // IHDR width and height (the CRC no longer matters: refused first)
    be(20, 100000);
    return png;
  }();
  const auto bomb = upload(w, "bomb.png", bomb_like);
  EXPECT_EQ(bomb.status, 413) << bomb.body;

  const auto heavy = black_png(7000);  // 49 Mpx (the default limit is 50), 147 MB decoded
  const auto before = rss_bytes(w.process.pid());
  std::vector<std::future<int>> uploads;
  for (int i = 0; i < 10; ++i) {
    uploads.push_back(std::async(std::launch::async, [&w, &heavy, i] {
      return upload(w, "heavy" + std::to_string(i) + ".png", heavy).status;
    }));
  }
  std::atomic<bool> done{false};
  int probes = 0, answered = 0;
  while (!done) {
    ++probes;
    answered += probe(w.http_port, 1s) == 200 ? 1 : 0;  // the kubelet's default timeout
    done = std::all_of(uploads.begin(), uploads.end(),
                       [](auto& f) { return f.wait_for(0s) == std::future_status::ready; });
  }
  int created = 0, busy = 0;
  for (auto& f : uploads) {
    const int status = f.get();
    EXPECT_TRUE(status == 201 || status == 503) << status;
    created += status == 201 ? 1 : 0;
    busy += status == 503 ? 1 : 0;
  }
  EXPECT_GE(created, 1);
  EXPECT_EQ(answered, probes) << "probes failed while images were being decoded";
  // Two decodes at a time (147 MB each, and OpenCV's working copies) plus the bodies.
  EXPECT_LT(rss_bytes(w.process.pid()) - before, 700LL << 20);
  expect_healthy(w);
}

// The process groups of this test's children whose command line mentions `word` (each child
// of proc::Process leads its own group).
std::vector<pid_t> child_groups(const std::string& word) {
  std::vector<pid_t> out;
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    const auto name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(e.path() / "stat");
    std::string line;
    std::getline(stat, line);
    const auto close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 2));
    char state = 0;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid != ::getpid()) continue;
    std::ifstream cmd(e.path() / "cmdline");
    const std::string cmdline((std::istreambuf_iterator<char>(cmd)), {});
    if (cmdline.find(word) != std::string::npos) out.push_back(std::stoi(name));
  }
  return out;
}

// Defect 7: publishing held an I/O thread until Kafka acknowledged, so a stalled Kafka (here:
// the broker stopped with SIGSTOP) took every I/O thread and failed liveness; Kubernetes then
// restarted healthy pods. Now the waits are on a pool and /healthz answers throughout. Last in
// the suite: it stops the broker the others share.
TEST_F(AbuseTest, AStalledKafkaNeverFailsTheProbes) {
  const auto groups = child_groups("kafka");
  ASSERT_FALSE(groups.empty()) << "the broker process was not found";
  struct Resume {  // the broker runs again whatever happens below
    std::vector<pid_t> groups;
    ~Resume() {
      for (const auto g : groups)
        ::kill(-g, SIGCONT);
    }
  } resume{groups};
  for (const auto g : groups)
    ::kill(-g, SIGSTOP);
  const json order = {{"customer", "alice"},
                      {"items", {{{"sku", "a"}, {"quantity", 1}, {"price", 10}}}},
                      {"total", 10}};
  std::vector<std::future<int>> posts;
  for (int i = 0; i < 40; ++i) {  // more than orders-api's 32 threads, events-api's 8
    posts.push_back(std::async(std::launch::async, [&order] {
      return http_request("POST", orders_w->url() + "/orders", order.dump(), "application/json")
          .status;
    }));
    posts.push_back(std::async(std::launch::async, [] {
      return http_request("POST", events_w->url() + "/events", "{}", "application/json").status;
    }));
  }
  std::this_thread::sleep_for(500ms);  // let the posts reach their handlers (not an assertion)
  for (int i = 0; i < 6; ++i) {
    for (auto* w : {orders_w, events_w})
      EXPECT_EQ(probe(w->http_port, 1s), 200) << w->step << " while Kafka is stalled";
    std::this_thread::sleep_for(300ms);
  }
  for (const auto g : groups)
    ::kill(-g, SIGCONT);
  for (auto& p : posts) {
    const int status = p.get();
    EXPECT_TRUE(status == 202 || status == 503) << status;  // accepted, or a clear "retry"
  }
  expect_healthy(*orders_w);
  expect_healthy(*events_w);
}

}  // namespace
}  // namespace pipewright::testing
