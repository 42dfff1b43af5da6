// `pipewright up` on the shipped examples, driven the way a user would: through the gateway with
// HTTP clients and headless Chromium, the mail catcher and the dashboard; then `pipewright down`
// must leave no process and no bound port behind, and a second `up` must refuse clearly.

#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <cerrno>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <thread>

#include "pkg/proc/net.h"
#include "pkg/proc/process.h"
#include "pkg/proc/run.h"
#include "tests/support/browser.h"
#include "tests/support/http_client.h"
#include "tests/support/keepalive_client.h"
#include "tests/support/monitoring.h"
#include "tests/support/suite_logs.h"

namespace pipewright {
namespace {

using nlohmann::json;
using std::chrono::seconds;

proc::RunResult cli(std::vector<std::string> args) {
  args.insert(args.begin(), PIPEWRIGHT_CLI);
  return proc::run(args, seconds(60));
}

// A small PNG a user could have: a 40x20 colour gradient.
void write_png(const std::filesystem::path& file) {
  cv::Mat image(20, 40, CV_8UC3);
  for (int y = 0; y < image.rows; ++y)
    for (int x = 0; x < image.cols; ++x)
      image.at<cv::Vec3b>(y, x) = {128, static_cast<uchar>(y * 12), static_cast<uchar>(x * 6)};
  if (!cv::imwrite(file.string(), image)) throw std::runtime_error("cannot write " + file.string());
}

class Up : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    state_ = testing::suite_dir() / "state";
    log_ = testing::suite_dir() / "up.log";
    up_ = std::make_unique<proc::Process>(proc::Process::start(
        {{PIPEWRIGHT_CLI, "up", "-f", (testing::source_dir() / "examples").string(), "--state-dir",
          state_.string(), "--gateway-port", "0", "--prometheus-port", "0", "--smtp-port", "0",
          "--kafka-port", "0"},
         {},
         log_,
         {}}));
    const auto run_file = state_ / "run.json";
    ASSERT_TRUE(proc::poll_until(
        seconds(240), [&] { return std::filesystem::exists(run_file) || !up_->running(); },
        std::chrono::milliseconds(200)))
        << testing::tail(log_);
    ASSERT_TRUE(up_->running()) << testing::tail(log_);
    std::ifstream in(run_file);
    run_ = json::parse(in);
    gateway_ = run_["gateway"];
  }
  static void TearDownTestSuite() {
    if (up_) up_->stop(seconds(60));
    up_.reset();
  }
  // Waits until the named processes say they are ready (the dashboard's /api/processes).
  static void wait_ready(const std::vector<std::string>& names) {
    const bool ok = proc::poll_until(seconds(120), [&] {
      const auto r = testing::http_get(gateway_ + "/api/processes");
      const auto doc = json::parse(r.body, nullptr, false);
      if (!doc.is_object()) return false;
      for (const auto& n : names) {
        bool ready = false;
        for (const auto& p : doc["processes"])
          ready = ready || (p["name"] == n && p["ready"] == true);
        if (!ready) return false;
      }
      return true;
    });
    ASSERT_TRUE(ok) << testing::tail(log_);
  }
  static double stat(const std::string& series, const json& match) {
    const auto doc = json::parse(testing::http_get(gateway_ + "/api/stats").body, nullptr, false);
    double total = 0;
    if (!doc.is_object()) return 0;
    for (const auto& r : doc[series]) {
      bool all = true;
      for (const auto& [k, v] : match.items())
        all = all && r["labels"].value(k, "") == v;
      if (all) total += r["value"].get<double>();
    }
    return total;
  }

  static inline std::filesystem::path state_, log_;
  static inline std::unique_ptr<proc::Process> up_;
  static inline json run_;
  static inline std::string gateway_;
};

TEST_F(Up, PrintsWhereToLook) {
  const auto out = testing::read_file(log_);
  for (const char* what : {"Running. Open:", "dashboard", "/images", "/mult", "/orders",
                           "prometheus", "Stop with Ctrl-C or `pipewright down`."}) {
    EXPECT_NE(out.find(what), std::string::npos) << what << " in:\n" << out.substr(0, 4000);
  }
  // Each process's log lines come out prefixed with its name.
  wait_ready({"mult/primary"});
  EXPECT_TRUE(proc::poll_until(seconds(10), [&] {
    return testing::read_file(log_).find("[mult/primary] {") != std::string::npos;
  }));
}

TEST_F(Up, MultThroughTheGatewayIsSplitThreeToOne) {
  wait_ready({"mult/primary", "mult/secondary", "mult/standby"});
  testing::KeepAliveClient client(run_["gateway_port"].get<int>());
  std::map<std::string, int> served;
  for (int i = 1; i <= 400; ++i) {
    const auto r = client.get("/mult?op1=" + std::to_string(i) + "&op2=2");
    ASSERT_EQ(r.status, 200) << r.error << r.body;
    ASSERT_EQ(json::parse(r.body)["result"], 2 * i);
    ++served[r.header("x-served-by")];
  }
  EXPECT_NEAR(served["primary"], 300, 8);
  EXPECT_NEAR(served["secondary"], 100, 8);
  EXPECT_EQ(served["standby"], 0);
  const auto bad = testing::http_get(gateway_ + "/mult?op1=x&op2=2");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(json::parse(bad.body)["field"], "op1");
}

TEST_F(Up, AnUploadThroughThePageShowsBothResultsAndSendsTheMail) {
  wait_ready(
      {"images/upload", "images/rotate-0", "images/rotate-1", "images/grayscale", "images/notify"});
  const auto png = testing::suite_dir() / "perfil.png";
  write_png(png);
  const auto page =
      testing::browse(gateway_ + "/images", "#files tr[data-file='perfil.png']", 60000,
                      json::array({{{"setInputFiles", "#file"}, {"files", {png.string()}}},
                                   {{"click", "button[type=submit]"}},
                                   {{"waitForText", "#files"}, {"text", "perfil.rotated.png"}},
                                   {{"waitForText", "#files"}, {"text", "perfil.gray.png"}}}),
                      "upload-page");
  EXPECT_NE(page["text"].get<std::string>().find("perfil.gray.png"), std::string::npos) << page;

  // The notifications reached the local SMTP catcher, in the seed's words.
  std::string mails;
  EXPECT_TRUE(proc::poll_until(seconds(60), [&] {
    mails = testing::http_get(gateway_ + "/api/mail").body;
    return mails.find("O arquivo perfil.png foi rotacionado.") != std::string::npos &&
           mails.find("O arquivo perfil.png foi transformado em preto e branco.") !=
               std::string::npos;
  })) << mails;
}

TEST_F(Up, AnOrderSentFromTheDocsPageReachesItsFinalStatus) {
  wait_ready({"orders/api", "orders/fraud", "orders/notify", "orders/audit"});
  const auto page = testing::browse(
      gateway_ + "/orders/docs", "#get-answer", 60000,
      json::array({{{"click", "#send"}},
                   {{"waitForText", "#post-answer"}, {"text", "HTTP 202"}},
                   {{"waitForText", "#get-answer"}, {"text", "\"status\": \"valid\""}}}),
      "orders-docs");
  const auto text = page["text"].get<std::string>();
  EXPECT_NE(text.find("HTTP 200"), std::string::npos) << text;
  // The same order through the API: it is classified, and a blocked customer is rejected.
  const auto r = testing::http_request(
      "POST", gateway_ + "/orders/orders",
      R"({"customer": "mallory", "items": [{"sku": "a", "quantity": 1, "price": 5}], "total": 5})",
      "application/json");
  ASSERT_EQ(r.status, 202) << r.body;
  const auto id = json::parse(r.body)["id"].get<std::string>();
  std::string status;
  EXPECT_TRUE(proc::poll_until(seconds(60), [&] {
    const auto doc =
        json::parse(testing::http_get(gateway_ + "/orders/orders/" + id).body, nullptr, false);
    status = doc.is_object() ? doc.value("status", "") : "";
    return status == "rejected";
  })) << status;
}

TEST_F(Up, EventsAreEnrichedSynchronouslyAndAppearLiveInTheViewer) {
  wait_ready({"events/api", "events/enrich-0", "events/enrich-1", "events/gateway"});
  // Synchronous create: answered with the processed event, a Portuguese word in it.
  const auto sync = testing::http_request("POST", gateway_ + "/events/events?wait=10s",
                                          R"({"name": "hello", "payload": {"from": "up_test"}})",
                                          "application/json");
  ASSERT_EQ(sync.status, 200) << sync.body;
  const auto event = json::parse(sync.body);
  EXPECT_FALSE(event.dump().find("word") == std::string::npos) << event;

  // The viewer, open in Chromium through the gateway's WebSocket proxying, shows events as
  // they are created.
  std::atomic<bool> done{false};
  std::thread producer([&] {
    for (int i = 0; i < 120 && !done; ++i) {
      testing::http_request("POST", gateway_ + "/events/events",
                            R"({"name": "seen-in-the-viewer"})", "application/json");
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  });
  nlohmann::json page;
  try {
    page =
        testing::browse(gateway_ + "/live/viewer", "#events", 60000,
                        json::array({{{"waitForText", "#state"}, {"text", "live"}},
                                     {{"waitForText", "#events"}, {"text", "seen-in-the-viewer"}}}),
                        "events-viewer");
  } catch (...) {
    done = true;
    producer.join();
    throw;
  }
  done = true;
  producer.join();
  EXPECT_NE(page["text"].get<std::string>().find("seen-in-the-viewer"), std::string::npos);
}

TEST_F(Up, TheDashboardShowsLiveRatesFromPrometheus) {
  wait_ready({"mult/primary", "mult/secondary"});
  testing::KeepAliveClient client(run_["gateway_port"].get<int>());
  // Keep traffic flowing until Prometheus has two scrapes showing it.
  const bool rising = proc::poll_until(seconds(90), [&] {
    for (int i = 0; i < 50; ++i)
      client.get("/mult?op1=3&op2=4");
    return stat("backend_rate", {{"service", "mult"}, {"backend", "primary"}}) > 0;
  });
  EXPECT_TRUE(rising) << testing::http_get(gateway_ + "/api/stats").body;
  const auto page = testing::browse(
      gateway_ + "/", "section.service[data-service='mult']", 30000,
      json::array({{{"waitForText", "#status"}, {"text", "live from Prometheus"}}}), "dashboard");
  const auto text = page["text"].get<std::string>();
  EXPECT_NE(text.find("primary"), std::string::npos) << text;
  EXPECT_NE(text.find("req/s"), std::string::npos) << text;
  const auto graph = testing::browse(gateway_ + "/", "section.pipeline[data-pipeline='images']",
                                     30000, json::array(), "dashboard-images");
  EXPECT_NE(graph["text"].get<std::string>().find("rotate"), std::string::npos) << graph;
}

TEST_F(Up, ASecondUpRefusesInsteadOfColliding) {
  const auto same_state = cli(
      {"up", "-f", (testing::source_dir() / "examples").string(), "--state-dir", state_.string()});
  EXPECT_EQ(same_state.exit_code, 1);
  EXPECT_NE(same_state.output.find("another run"), std::string::npos) << same_state.output;

  const auto other = testing::suite_dir() / "other-state";
  const auto same_port =
      cli({"up", "-f", (testing::source_dir() / "examples").string(), "--state-dir", other.string(),
           "--gateway-port", std::to_string(run_["gateway_port"].get<int>())});
  EXPECT_EQ(same_port.exit_code, 1);
  EXPECT_NE(same_port.output.find("is already in use"), std::string::npos) << same_port.output;
}

// After the tests above drove every example: the shipped dashboard and alerts read only series
// the real workers export (counters appear with their first message): every metric they
// name (but the operator's, which local mode does not run, and pipewright_errors_total, which
// exists once a step has failed: dlq_test evaluates those queries) has series in Prometheus.
TEST_F(Up, EveryMonitoredMetricHasSeries) {
  const auto prom = run_["prometheus"].get<std::string>();
  std::set<std::string> names;
  for (const auto& q : testing::monitoring_queries())
    for (const auto& m : q.metrics)
      if (!testing::operator_metric(m) && m != "pipewright_errors_total") names.insert(m);
  EXPECT_GE(names.size(), 9u);
  for (const auto& m : names) {
    const auto selector = "count({__name__=~\"" + m + "|" + m + "_bucket\"})";
    EXPECT_TRUE(proc::poll_until(
        seconds(30), [&] { return testing::prometheus_result_size(prom, selector) > 0; }))
        << m << " has no series";
  }
}

// Last: `down` stops the run; no process and no port of it is left.
TEST_F(Up, DownLeavesNoProcessAndNoBoundPort) {
  std::vector<int> pids;
  const auto procs = json::parse(testing::http_get(gateway_ + "/api/processes").body);
  for (const auto& p : procs["processes"])
    pids.push_back(p["pid"]);
  std::vector<int> ports = {run_["gateway_port"].get<int>(), run_["smtp_port"].get<int>()};
  const auto prom = run_["prometheus"].get<std::string>();
  ports.push_back(std::stoi(prom.substr(prom.rfind(':') + 1)));
  const auto kafka = run_["kafka"].get<std::string>();
  ports.push_back(std::stoi(kafka.substr(kafka.rfind(':') + 1)));
  for (const auto& p : run_["processes"]) {
    ports.push_back(p["http_port"]);
    ports.push_back(p["metrics_port"]);
  }
  ASSERT_FALSE(pids.empty());

  const auto down = cli({"down", "--state-dir", state_.string()});
  EXPECT_EQ(down.exit_code, 0) << down.output;
  ASSERT_TRUE(proc::poll_until(seconds(60), [&] { return !up_->running(); }));
  EXPECT_EQ(up_->exit_code(), 0) << testing::tail(log_);
  EXPECT_NE(testing::read_file(log_).find("Stopped."), std::string::npos);
  for (const int pid : pids)
    EXPECT_TRUE(::kill(pid, 0) != 0 && errno == ESRCH) << "process " << pid << " outlived down";
  for (const int port : ports)
    EXPECT_FALSE(proc::port_open(port)) << "127.0.0.1:" << port << " is still bound";
  EXPECT_FALSE(std::filesystem::exists(state_ / "run.json"));
}

}  // namespace
}  // namespace pipewright
