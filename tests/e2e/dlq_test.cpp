// Dead letters replayed in local mode, as an operator of a pipeline would: the mail server is
// down, so `pipewright up`'s notify step dead-letters two notifications; the server comes back;
// `pipewright dlq` lists them, replays one by id and then the rest, and a second replay does
// nothing: every notification arrives exactly once.

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "pkg/kafka/client.h"
#include "pkg/proc/net.h"
#include "pkg/proc/process.h"
#include "pkg/proc/run.h"
#include "tests/support/monitoring.h"
#include "tests/support/servers.h"
#include "tests/support/suite_logs.h"

namespace pipewright {
namespace {

using nlohmann::json;
using std::chrono::seconds;

constexpr const char* kStep = "demo/mail/notify";
constexpr const char* kTopic = "demo.mail.notifications";

class DeadLetterReplay : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    state_ = testing::suite_dir() / "state";
    manifest_ = testing::suite_dir() / "mail.yaml";
    log_ = testing::suite_dir() / "up.log";
    smtp_port_ = proc::free_port();  // nothing listens here until the "fix"
    std::ofstream(manifest_) << R"(apiVersion: pipewright.io/v1alpha1
kind: Pipeline
metadata: {name: mail, namespace: demo}
spec:
  topics:
    - name: notifications
  steps:
    - name: notify
      worker: notify
      inputs: [notifications]
      config:
        channels: [smtp]
        locale: en
        to: ops@example.com
        smtp: {host: 127.0.0.1, port: )"
                             << smtp_port_ << R"(, starttls: false}
  delivery:
    maxAttempts: 2
    backoff: {initial: 100ms, max: 200ms}
    deadLetter: true
)";
    up_ = std::make_unique<proc::Process>(
        proc::Process::start({{PIPEWRIGHT_CLI, "up", "-f", manifest_.string(), "--state-dir",
                               state_.string(), "--gateway-port", "0", "--prometheus-port", "0",
                               "--smtp-port", "0", "--kafka-port", "0", "--quiet"},
                              {},
                              log_,
                              {}}));
    ASSERT_TRUE(proc::poll_until(
        seconds(240),
        [&] { return std::filesystem::exists(state_ / "run.json") || !up_->running(); },
        std::chrono::milliseconds(200)))
        << testing::tail(log_);
    ASSERT_TRUE(up_->running()) << testing::tail(log_);
    std::ifstream in(state_ / "run.json");
    const auto run = json::parse(in);
    bootstrap_ = run["kafka"];
    prometheus_ = run["prometheus"];
  }
  static void TearDownTestSuite() {
    if (up_) up_->stop(seconds(60));
    up_.reset();
  }

  // What the command prints on stdout (its JSON-lines logs go to the suite's cli.log).
  static proc::RunResult dlq(std::vector<std::string> args) {
    args.insert(args.begin(),
                {"/bin/sh", "-c", "exec \"$0\" \"$@\" 2>>\"$STDERR_LOG\"", PIPEWRIGHT_CLI, "dlq"});
    args.insert(args.end(), {"--state-dir", state_.string(), "-f", manifest_.string()});
    return proc::run(args, seconds(90),
                     {{"STDERR_LOG", (testing::suite_dir() / "cli.log").string()}});
  }
  static json dlq_json(std::vector<std::string> args) {
    args.insert(args.end(), {"--step", kStep, "-o", "json"});
    const auto r = dlq(args);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    const auto doc = json::parse(r.output, nullptr, false);
    EXPECT_TRUE(doc.is_array()) << r.output;
    return doc;
  }
  static void notify(const std::string& id, const std::string& file) {
    auto producer = kafka::make_producer(kafka::client_properties(bootstrap_));
    const json envelope = {{"id", id},
                           {"type", "image.rotated"},
                           {"time", "2026-12-01T10:00:00Z"},
                           {"source", "/tests/dlq"},
                           {"data", {{"file", file}, {"operation", "rotate"}}}};
    producer->send({{kTopic, id, envelope.dump(), {{"ce_type", "image.rotated"}}}});
  }

  static inline std::filesystem::path state_, manifest_, log_;
  static inline int smtp_port_ = 0;
  static inline std::string bootstrap_, prometheus_;
  static inline std::unique_ptr<proc::Process> up_;
};

TEST_F(DeadLetterReplay, ListReplayByIdThenAllAndNeverTwice) {
  notify("evt-1", "one.jpg");
  notify("evt-2", "two.jpg");
  // Both fail twice (nothing listens on the SMTP port) and land in the dead-letter topic.
  json letters;
  ASSERT_TRUE(proc::poll_until(seconds(60),
                               [&] {
                                 letters = dlq_json({"list"});
                                 return letters.size() == 2;
                               }))
      << letters.dump() << testing::tail(log_);
  for (const auto& l : letters) {
    EXPECT_EQ(l["topic"], std::string(kTopic) + ".dlq");
    EXPECT_EQ(l["attempt"], 2);
    EXPECT_EQ(l["replayed"], false);
    EXPECT_EQ(l["source"].get<std::string>().rfind(std::string(kTopic) + "/", 0), 0u) << l;
    EXPECT_FALSE(l["error"].get<std::string>().empty());
  }
  EXPECT_EQ(letters[0]["id"], "evt-1");
  EXPECT_EQ(letters[1]["id"], "evt-2");

  // show: the whole message; a text list names both; a dry run writes nothing.
  const auto shown = dlq_json({"show", "--id", "evt-2"});
  ASSERT_EQ(shown.size(), 1u);
  EXPECT_NE(shown[0]["value"].get<std::string>().find("two.jpg"), std::string::npos);
  EXPECT_EQ(shown[0]["headers"]["ce_type"], "image.rotated");
  const auto table = dlq({"list", "--step", kStep});
  EXPECT_EQ(table.exit_code, 0);
  EXPECT_NE(table.output.find("evt-1"), std::string::npos) << table.output;
  EXPECT_NE(table.output.find("2 letter(s)"), std::string::npos) << table.output;
  const auto dry = dlq_json({"replay", "--all", "--dry-run"});
  EXPECT_EQ(dry[0]["replayed"].size(), 2u);
  for (const auto& l : dlq_json({"list"}))
    EXPECT_EQ(l["replayed"], false);
  // replay without a selection is refused.
  EXPECT_EQ(dlq({"replay", "--step", kStep}).exit_code, 2);

  // The cause is fixed: the mail server comes up where the step dials.
  testing::SmtpOptions options;
  options.port = smtp_port_;
  auto smtp = testing::SmtpServer::start(options);

  const auto one = dlq_json({"replay", "--id", "evt-1"});
  ASSERT_EQ(one[0]["replayed"].size(), 1u);
  EXPECT_EQ(one[0]["replayed"][0]["id"], "evt-1");
  ASSERT_TRUE(proc::poll_until(seconds(60), [&] { return smtp->messages().size() >= 1; }));

  const auto rest = dlq_json({"replay", "--all"});
  ASSERT_EQ(rest[0]["replayed"].size(), 1u);
  EXPECT_EQ(rest[0]["replayed"][0]["id"], "evt-2");
  EXPECT_EQ(rest[0]["already_replayed"], 1);
  const auto again = dlq_json({"replay", "--all"});
  EXPECT_EQ(again[0]["replayed"].size(), 0u);
  EXPECT_EQ(again[0]["already_replayed"], 2);
  for (const auto& l : dlq_json({"list"}))
    EXPECT_EQ(l["replayed"], true);

  // A third notification after the replays: once its mail is in, the step has consumed
  // everything before it on the topic, so the count below is final, not a snapshot.
  notify("evt-3", "three.jpg");
  ASSERT_TRUE(proc::poll_until(seconds(60), [&] {
    for (const auto& m : smtp->messages())
      if (m.body.find("three.jpg") != std::string::npos) return true;
    return false;
  })) << testing::tail(log_);
  std::map<std::string, int> per_file;
  for (const auto& m : smtp->messages())
    for (const char* f : {"one.jpg", "two.jpg", "three.jpg"})
      if (m.body.find(f) != std::string::npos) ++per_file[f];
  EXPECT_EQ(per_file["one.jpg"], 1);
  EXPECT_EQ(per_file["two.jpg"], 1);
  EXPECT_EQ(per_file["three.jpg"], 1);
  EXPECT_EQ(smtp->messages().size(), 3u);
}

// After the first test (retries, dead letters, processing and HTTP all happened): each dashboard
// query that reads only the metrics of a failing step returns data from local mode's Prometheus.
TEST_F(DeadLetterReplay, TheDashboardShowsAFailingStep) {
  // notify produces nothing but dead letters and serves no route but its probes.
  const std::set<std::string> here = {"pipewright_messages_consumed_total",
                                      "pipewright_processing_seconds", "pipewright_errors_total",
                                      "pipewright_dead_letters_total"};
  int checked = 0;
  for (const auto& q : testing::monitoring_queries()) {
    if (!q.where.starts_with("dashboard:")) continue;
    bool ours = !q.metrics.empty();
    for (const auto& m : q.metrics)
      ours = ours && here.contains(m);
    if (!ours) continue;
    ++checked;
    EXPECT_TRUE(proc::poll_until(
        seconds(30), [&] { return testing::prometheus_result_size(prometheus_, q.expr) > 0; }))
        << q.where << ": " << q.expr;
  }
  EXPECT_GE(checked, 5);
}

TEST_F(DeadLetterReplay, ClearErrorsForWrongStepsTopicsAndFlags) {
  const auto dlq = [](std::vector<std::string> args) {
    args.insert(args.begin(), {PIPEWRIGHT_CLI, "dlq"});
    args.insert(args.end(), {"--state-dir", state_.string(), "-f", manifest_.string()});
    return proc::run(args, seconds(90));
  };
  auto r = dlq({"list", "--step", "demo/mail/nope"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("has no step 'nope'"), std::string::npos) << r.output;
  r = dlq({"list", "--step", "other/notify"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("no Pipeline 'other'"), std::string::npos) << r.output;
  r = dlq({"list", "--topic", "demo.mail.nothing.dlq"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("demo.mail.nothing.dlq"), std::string::npos) << r.output;
  r = dlq({"list", "--step", kStep, "--since", "yesterday"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("--since"), std::string::npos) << r.output;
  r = dlq({"frobnicate", "--step", kStep});
  EXPECT_EQ(r.exit_code, 2);
  r = dlq({"replay", "--step", kStep});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("needs a selection"), std::string::npos) << r.output;
  r = proc::run({PIPEWRIGHT_CLI, "dlq", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("Usage: pipewright dlq"), std::string::npos);
}

}  // namespace
}  // namespace pipewright
