// Local mode under a broker crash: `pipewright up` on the events example, events posted through
// its gateway while its Kafka broker is SIGKILLed twice. `up` must start the broker again on the
// same ports and data, the workers must reconnect, and every accepted event must be enriched.
// Then the dashboard's backlog: the consumers' own pipewright_consumer_lag, summed per step.

#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "pkg/proc/net.h"
#include "pkg/proc/process.h"
#include "tests/support/faults.h"
#include "tests/support/http_client.h"
#include "tests/support/suite_logs.h"

namespace pipewright::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

class UpFaults : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    state_ = suite_dir() / "state";
    log_ = suite_dir() / "up.log";
    up_ = std::make_unique<proc::Process>(proc::Process::start(
        {{PIPEWRIGHT_CLI, "up", "-f", (source_dir() / "examples" / "events.yaml").string(),
          "--state-dir", state_.string(), "--gateway-port", "0", "--prometheus-port", "0",
          "--smtp-port", "0", "--kafka-port", "0"},
         {},
         log_,
         {}}));
    const auto run_file = state_ / "run.json";
    if (!proc::poll_until(
            240s, [&] { return std::filesystem::exists(run_file) || !up_->running(); }, 200ms) ||
        !up_->running()) {
      return;  // SetUp reports it
    }
    std::ifstream in(run_file);
    run_ = json::parse(in);
  }
  static void TearDownTestSuite() {
    if (up_) up_->stop(60s);
    up_.reset();
  }
  void SetUp() override {
    ASSERT_TRUE(up_ && up_->running() && run_.is_object()) << tail(log_);
    gateway_ = run_["gateway"];
  }

  static json processes() {
    const auto doc = json::parse(http_get(gateway_ + "/api/processes").body, nullptr, false);
    return doc.is_object() ? doc["processes"] : json::array();
  }
  static json process(const std::string& name) {
    for (const auto& p : processes()) {
      if (p["name"] == name) return p;
    }
    return {};
  }
  static bool all_ready() {
    const auto all = processes();
    return !all.empty() &&
           std::all_of(all.begin(), all.end(), [](const json& p) { return p["ready"] == true; });
  }

  static inline std::filesystem::path state_, log_;
  static inline std::unique_ptr<proc::Process> up_;
  static inline json run_;
  static inline std::string gateway_;
};

TEST_F(UpFaults, BrokerKilledTwiceIsRestartedByUpAndNoEventIsLost) {
  ASSERT_TRUE(proc::poll_until(120s, all_ready, 500ms)) << processes().dump() << tail(log_);
  ASSERT_TRUE(process("kafka").is_object()) << "the broker is listed with the processes";
  Load load(
      [](int n) -> std::optional<std::string> {
        const auto r =
            http_request("POST", gateway_ + "/events/events",
                         json{{"name", "u"}, {"payload", {{"n", n}}}}.dump(), "application/json");
        if (r.status != 202) return std::nullopt;
        return json::parse(r.body).at("id").get<std::string>();
      },
      1, 20ms);
  ASSERT_TRUE(load.wait_more(30, 60s)) << tail(log_);
  for (int k = 1; k <= 2; ++k) {
    const int pid = process("kafka").value("pid", -1);
    ASSERT_GT(pid, 0);
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    ASSERT_TRUE(proc::poll_until(
        120s,
        [&] {
          const auto b = process("kafka");
          return b.value("restarts", 0) >= k && b.value("running", false) &&
                 b.value("pid", -1) != pid;
        },
        200ms))
        << process("kafka").dump() << "\n"
        << tail(log_);
    ASSERT_TRUE(up_->running()) << "`up` stopped when its broker died:\n" << tail(log_);
    ASSERT_TRUE(load.wait_more(30, 120s)) << "no event accepted after restart " << k << "\n"
                                          << tail(log_);
  }
  load.stop();
  EXPECT_TRUE(proc::poll_until(120s, all_ready, 500ms)) << processes().dump();
  const auto accepted = load.accepted();
  const std::string bootstrap = run_["kafka"];
  const auto enriched = wait_for_events(bootstrap, "demo.events.enriched", accepted, 120s);
  const auto count = count_delivery("enriched events (local mode)", accepted, event_ids(enriched));
  report(count);
  EXPECT_EQ(count.lost, 0U) << count.summary() << "\n" << tail(log_);
  // events-api's own consumer of `enriched` is back too: a synchronous create completes.
  const auto sync = http_request("POST", gateway_ + "/events/events?wait=20s",
                                 json{{"name", "after"}}.dump(), "application/json");
  EXPECT_EQ(sync.status, 200) << sync.body;
}

// The dashboard's backlog per step is pipewright_consumer_lag summed over the step's partitions,
// as Prometheus has it, and it drains to 0 once the consumers have caught up.
TEST_F(UpFaults, DashboardBacklogIsTheConsumersLagGauge) {
  const auto lag_of = [](const std::string& step) -> std::optional<double> {
    const auto doc = json::parse(http_get(gateway_ + "/api/stats").body, nullptr, false);
    if (!doc.is_object() || !doc.contains("lag")) return std::nullopt;
    for (const auto& r : doc["lag"]) {
      if (r["labels"].value("pipeline", "") == "events" && r["labels"].value("step", "") == step)
        return r["value"].get<double>();
    }
    return std::nullopt;
  };
  for (int n = 0; n < 20; ++n) {
    const auto r =
        http_request("POST", gateway_ + "/events/events",
                     json{{"name", "lag"}, {"payload", {{"n", n}}}}.dump(), "application/json");
    ASSERT_EQ(r.status, 202) << r.body;
  }
  std::optional<double> lag;
  EXPECT_TRUE(proc::poll_until(
      60s,
      [&] {
        lag = lag_of("enrich");
        return lag && *lag == 0;
      },
      500ms))
      << "enrich's backlog on the dashboard: " << (lag ? std::to_string(*lag) : "absent") << "\n"
      << http_get(gateway_ + "/api/stats").body;
  // Every consuming step reports its own (events-api and the gateway read `enriched`).
  for (const auto* s : {"api", "gateway"}) {
    EXPECT_TRUE(proc::poll_until(
        30s, [&] { return lag_of(s).has_value(); }, 500ms))
        << s << " reports no pipewright_consumer_lag\n"
        << http_get(gateway_ + "/api/stats").body;
  }
}

}  // namespace
}  // namespace pipewright::testing
