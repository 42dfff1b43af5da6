// CloudEvents 1.0 checked by clients nobody here wrote: the official Python SDK (`cloudevents`
// from PyPI, with the pure-Python kafka-python client) and the official Go SDK (sdk-go v2 with
// its kafka_sarama binding), both installed by scripts/install (tests/infra/cloudevents). On a
// real Kafka, the example pipelines' workers run as processes; each SDK reads every message they
// write (every type, the dead letters too), writes events in both modes that the steps process,
// and sends events over the HTTP binding to orders-api and events-api; the notify worker's
// webhook channel is received by each SDK's HTTP side.

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <set>
#include <sstream>

#include "pkg/api/manifest.h"
#include "pkg/kafka/client.h"
#include "pkg/local/tools.h"
#include "pkg/proc/net.h"
#include "pkg/proc/run.h"
#include "tests/support/http_client.h"
#include "tests/support/kafka_suite.h"
#include "tests/support/workers.h"

namespace pipewright::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

api::Pipeline example(const std::string& name) {
  return api::load({source_dir() / "examples" / (name + ".yaml")}).pipelines.at(0);
}

// One SDK's command line: ce-go (Go) or ce.py under the venv's python (Python). Both take the
// same subcommands and flags (Go's flag package reads --name as -name).
struct Sdk {
  std::string name;
  std::vector<std::string> argv;
};

std::vector<Sdk> sdks() {
  const auto python = local::cache_dir() / "venv-cloudevents" / "bin" / "python";
  if (!fs::exists(python)) {
    throw std::runtime_error(python.string() + " is missing: run scripts/install");
  }
  return {
      {"go", {local::cached_tool("ce-go").string()}},
      {"python",
       {python.string(), (source_dir() / "tests" / "infra" / "cloudevents" / "ce.py").string()}}};
}

std::vector<std::string> with(std::vector<std::string> argv, const std::vector<std::string>& more) {
  argv.insert(argv.end(), more.begin(), more.end());
  return argv;
}

// The JSON lines a client printed (anything else, such as a library's warnings, is skipped).
std::vector<json> json_lines(const std::string& output) {
  std::vector<json> out;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line.front() != '{') continue;
    auto j = json::parse(line, nullptr, false);
    if (!j.is_discarded()) out.push_back(std::move(j));
  }
  return out;
}

// Every message now in `topic`, as the SDK decoded it: {topic, partition, offset, key, mode,
// event (the JSON event format) | error}.
std::vector<json> sdk_read(const Sdk& sdk, const std::string& bootstrap, const std::string& topic) {
  const auto r =
      proc::run(with(sdk.argv, {"read", "--bootstrap", bootstrap, "--topic", topic}), 90s);
  EXPECT_EQ(r.exit_code, 0) << sdk.name << " read " << topic << ": " << r.output;
  // PIPEWRIGHT_CE_DUMP=FILE keeps what the SDKs read (docs/messages.md's examples come from it).
  if (const char* dump = std::getenv("PIPEWRIGHT_CE_DUMP"); dump != nullptr && *dump != '\0')
    std::ofstream(dump, std::ios::app) << r.output;
  return json_lines(r.output);
}

struct Written {
  std::string mode, id, type, source;
  json data;
};

void sdk_write(const Sdk& sdk, const std::string& bootstrap, const std::string& topic,
               const std::string& key, const Written& w) {
  const auto r = proc::run(with(sdk.argv, {"write", "--bootstrap", bootstrap, "--topic", topic,
                                           "--key", key, "--mode", w.mode, "--id", w.id, "--type",
                                           w.type, "--source", w.source, "--data", w.data.dump()}),
                           60s);
  ASSERT_EQ(r.exit_code, 0) << sdk.name << " write: " << r.output;
}

// POSTs with the SDK's HTTP binding; {status, body}.
json sdk_post(const Sdk& sdk, const std::string& url, const Written& w) {
  const auto r =
      proc::run(with(sdk.argv, {"post", "--url", url, "--mode", w.mode, "--id", w.id, "--type",
                                w.type, "--source", w.source, "--data", w.data.dump()}),
                60s);
  EXPECT_EQ(r.exit_code, 0) << sdk.name << " post: " << r.output;
  const auto lines = json_lines(r.output);
  return lines.empty() ? json::object() : lines.back();
}

// An SDK's HTTP receiver, started before the worker that posts to it: it writes its port to a
// file, prints each event it accepted and exits after `count`.
class Receiver {
 public:
  Receiver(const Sdk& sdk, const fs::path& dir, int count)
      : port_file_(dir / (sdk.name + "-receiver.port")), log_(dir / (sdk.name + "-receiver.log")) {
    fs::remove(port_file_);
    process_ = proc::Process::start({with(sdk.argv, {"receive", "--port-file", port_file_.string(),
                                                     "--count", std::to_string(count)}),
                                     {},
                                     log_,
                                     {}});
    if (!proc::poll_until(30s, [&] { return fs::exists(port_file_); })) {
      throw std::runtime_error(sdk.name + " receiver did not start: " + local::tail(log_));
    }
    std::ifstream in(port_file_);
    in >> port_;
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hook"; }
  // True once it has received `count` events and exited 0.
  bool done() { return !process_.running() && process_.exit_code() == 0; }
  std::vector<json> events() const {
    std::ifstream in(log_);
    std::stringstream ss;
    ss << in.rdbuf();
    return json_lines(ss.str());
  }
  std::string log() const { return local::tail(log_); }

 private:
  fs::path port_file_, log_;
  proc::Process process_;
  int port_ = 0;
};

// What every message a Pipewright step wrote must be: a valid binary-mode CloudEvent with our
// source, a time, JSON data and an id; returns its type.
std::string check_ours(const json& line, const std::string& ns, const std::string& sdk) {
  const auto where = sdk + " " + line.value("topic", "") + "/" +
                     std::to_string(line.value("partition", 0)) + "/" +
                     std::to_string(line.value("offset", 0));
  EXPECT_FALSE(line.contains("error")) << where << ": " << line;
  EXPECT_EQ(line.value("mode", ""), "binary") << where;
  const auto& e = line.contains("event") ? line["event"] : json::object();
  EXPECT_EQ(e.value("specversion", ""), "1.0") << where;
  EXPECT_FALSE(e.value("id", "").empty()) << where;
  EXPECT_TRUE(e.value("source", "").starts_with("/pipewright/" + ns + "/")) << where << ": " << e;
  EXPECT_FALSE(e.value("time", "").empty()) << where;
  EXPECT_EQ(e.value("datacontenttype", ""), "application/json") << where;
  EXPECT_TRUE(e.contains("data") && e["data"].is_object()) << where;
  return e.value("type", "");
}

bool from_us(const json& line) {
  return line.contains("event") && line["event"].value("source", "").starts_with("/pipewright/");
}

// A Kafka message that is no CloudEvent at all, sent with the data plane's own producer.
void send_raw(const std::string& bootstrap, const std::string& topic, const std::string& value) {
  auto producer = kafka::make_producer(kafka::client_properties(bootstrap));
  producer->send({{topic, "raw", value, {}}});
}

// kcat (Debian's, as a reader of the issue would use it) writing `value` with these headers.
void kcat_write(const std::string& bootstrap, const std::string& topic, const std::string& key,
                const std::vector<std::string>& headers, const std::string& value,
                const fs::path& dir) {
  const auto file = dir / ("kcat-" + key + ".json");
  std::ofstream(file) << value;
  std::vector<std::string> argv{
      local::system_tool("kcat").string(), "-P", "-b", bootstrap, "-t", topic, "-k", key};
  for (const auto& h : headers) {
    argv.push_back("-H");
    argv.push_back(h);
  }
  argv.push_back(file.string());  // the file is one message
  const auto r = proc::run(argv, 60s);
  ASSERT_EQ(r.exit_code, 0) << r.output;
}

// curl POSTing `body` with these headers: {status, body as JSON}.
std::pair<int, json> curl_post(const std::string& url, const std::vector<std::string>& headers,
                               const std::string& body) {
  std::vector<std::string> argv{"curl",          "-s", "-w", "\n%{http_code}", "-X", "POST",
                                "--data-binary", body};
  for (const auto& h : headers) {
    argv.push_back("-H");
    argv.push_back(h);
  }
  argv.push_back(url);
  const auto r = proc::run(argv, 30s);
  const auto cut = r.output.rfind('\n');
  if (r.exit_code != 0 || cut == std::string::npos) return {0, json::object()};
  return {std::stoi(r.output.substr(cut + 1)),
          json::parse(r.output.substr(0, cut), nullptr, false)};
}

json order(const std::string& customer) {
  return {{"customer", customer},
          {"items", {{{"sku", "sku-1"}, {"quantity", 2}, {"price", 1.25}}}},
          {"total", 2.5}};
}

class CloudEventsTest : public KafkaSuite {
 protected:
  std::string bootstrap() const { return broker->bootstrap(); }
};

// Orders: both SDKs read everything orders-api and fraud write; each posts orders over the HTTP
// binding in both modes and writes orders onto the orders topic in both modes, and fraud decides
// them all; what is no CloudEvent goes to the dead-letter topic with the reason; the webhook
// notifications reach the Python SDK's reader as CloudEvents.
TEST_F(CloudEventsTest, OrdersPipelineSpeaksCloudEventsBothWays) {
  const std::string ns = "ceorders";
  const auto clients = sdks();
  PipelineRun run(example("orders"), bootstrap(), ns);
  run.create_topics();
  // 2 plain orders + 4 over HTTP: a "received" notification each; those 6 and 6 written straight
  // to Kafka (4 by the SDKs, 2 by kcat) get fraud's status notification: 18 webhook calls.
  constexpr int kNotifications = 18;
  Receiver hook(clients[1], run.data_dir(), kNotifications);
  run.set_config("notify", {{"channels", {"webhook"}}, {"webhook", {{"url", hook.url()}}}});
  auto& api = run.start("api");
  run.start("fraud");
  run.start("notify");

  // Plain JSON, one valid and one from a blocked customer.
  ASSERT_EQ(
      http_request("POST", api.url() + "/orders", order("ana").dump(), "application/json").status,
      202);
  ASSERT_EQ(http_request("POST", api.url() + "/orders", order("mallory").dump(), "application/json")
                .status,
            202);
  std::vector<std::string> valid_ids;
  for (const auto& sdk : clients) {
    for (const std::string mode : {"binary", "structured"}) {
      // Over HTTP: the order is the event's data (its id chosen by the client).
      const auto id = sdk.name + "-http-" + mode;
      auto data = order("c-" + id);
      data["id"] = id;
      const auto res = sdk_post(sdk, api.url() + "/orders",
                                {mode, "ev-" + id, "com.example.order", "/shop", data});
      EXPECT_EQ(res.value("status", 0), 202) << sdk.name << " " << mode << ": " << res;
      EXPECT_EQ(json::parse(res.value("body", "{}"), nullptr, false).value("id", ""), id) << res;
      valid_ids.push_back(id);
      // Straight onto the topic: the event id is the order id (its data has none), keyed by
      // customer as orders-api keys them.
      const auto direct = sdk.name + "-kafka-" + mode;
      sdk_write(
          sdk, bootstrap(), run.topic("orders"), "c-" + direct,
          {mode, direct, "com.example.order.created", "/shop/" + sdk.name, order("c-" + direct)});
      valid_ids.push_back(direct);
    }
  }
  // Not a CloudEvent, and a CloudEvent whose data is no order: both dead letters.
  send_raw(bootstrap(), run.topic("orders"), "just some text");
  sdk_write(
      clients[0], bootstrap(), run.topic("orders"), "x",
      {"binary", "not-an-order", "com.example.other", "/elsewhere", json{{"hello", "world"}}});
  // Then an order from kcat with the binding's headers, on the same partition as the raw
  // message (same key): decided after the dead letters, so nothing stalled behind them.
  kcat_write(bootstrap(), run.topic("orders"), "raw",
             {"ce_specversion=1.0", "ce_id=kcat-order", "ce_source=/kcat",
              "ce_type=com.example.order", "content-type=application/json"},
             order("c-kcat").dump(), run.data_dir());
  valid_ids.push_back("kcat-order");
  // A message in the old envelope, as orders-api wrote them before CloudEvents (data already in
  // a topic): still decided.
  kcat_write(bootstrap(), run.topic("orders"), "c-legacy", {"ce_type=pipewright.order.created"},
             json{{"id", "legacy-order"},
                  {"type", "pipewright.order.created"},
                  {"time", "2026-11-30T10:00:00.000Z"},
                  {"source", ns + "/orders/api"},
                  {"data", order("c-legacy")}}
                 .dump(),
             run.data_dir());
  valid_ids.push_back("legacy-order");

  // Over HTTP, a CloudEvent that is not a valid one is a 400 naming the attribute.
  const auto [no_source, why] =
      curl_post(api.url() + "/orders",
                {"ce-specversion: 1.0", "ce-id: x", "ce-type: t", "Content-Type: application/json"},
                order("c-curl").dump());
  EXPECT_EQ(no_source, 400) << why;
  EXPECT_EQ(why.value("field", ""), "ce-source") << why;
  const auto [old_spec, why_spec] =
      curl_post(api.url() + "/orders", {"Content-Type: application/cloudevents+json"},
                json{{"specversion", "0.3"},
                     {"id", "x"},
                     {"source", "/s"},
                     {"type", "t"},
                     {"data", order("c")}}
                    .dump());
  EXPECT_EQ(old_spec, 400) << why_spec;
  EXPECT_EQ(why_spec.value("field", ""), "specversion") << why_spec;

  const auto dlq = run.topic("orders") + ".dlq";
  ASSERT_TRUE(
      proc::poll_until(90s,
                       [&] {
                         return topic_messages(bootstrap(), run.topic("orders-valid")) >= 11 &&
                                topic_messages(bootstrap(), run.topic("orders-rejected")) >= 1 &&
                                topic_messages(bootstrap(), dlq) >= 2 && hook.done();
                       }))
      << "valid " << topic_messages(bootstrap(), run.topic("orders-valid")) << ", dlq "
      << topic_messages(bootstrap(), dlq) << ", hook: " << hook.log();

  // orders-api follows each order posted as a CloudEvent to its status.
  for (const auto& id : valid_ids) {
    if (id.find("-http-") == std::string::npos) continue;
    EXPECT_TRUE(proc::poll_until(30s, [&] {
      return json::parse(http_get(api.url() + "/orders/" + id).body, nullptr, false)
                 .value("status", "") == "valid";
    })) << id;
  }

  for (const auto& sdk : clients) {
    std::set<std::string> types;
    for (const auto* t : {"orders-valid", "orders-rejected", "notifications"}) {
      const auto lines = sdk_read(sdk, bootstrap(), run.topic(t));
      EXPECT_FALSE(lines.empty()) << sdk.name << " " << t;
      for (const auto& line : lines)
        types.insert(check_ours(line, ns, sdk.name));
    }
    // Every valid order, whichever client wrote it and in which mode, was decided.
    std::set<std::string> decided;
    for (const auto& line : sdk_read(sdk, bootstrap(), run.topic("orders-valid")))
      decided.insert(line["event"]["data"].value("id", ""));
    for (const auto& id : valid_ids)
      EXPECT_TRUE(decided.contains(id)) << sdk.name << ": " << id << " not in orders-valid";

    // The orders topic: orders-api's events, the SDKs' own (read back in their mode), the raw one.
    int raw = 0;
    std::map<std::string, std::string> foreign_modes;
    for (const auto& line : sdk_read(sdk, bootstrap(), run.topic("orders"))) {
      if (line.contains("event") && line["event"].value("source", "") == "/kcat") continue;
      if (line.value("key", "") == "c-legacy") continue;  // the old envelope: no SDK reads it
      if (from_us(line)) {
        types.insert(check_ours(line, ns, sdk.name));
      } else if (line.contains("event")) {
        foreign_modes[line["event"]["id"]] = line["mode"];
      } else {
        ++raw;
      }
    }
    EXPECT_EQ(raw, 1) << sdk.name;
    EXPECT_EQ(foreign_modes["go-kafka-structured"], "structured") << sdk.name;
    EXPECT_EQ(foreign_modes["python-kafka-binary"], "binary") << sdk.name;
    EXPECT_EQ(types, (std::set<std::string>{"pipewright.order.created", "pipewright.order.received",
                                            "pipewright.order.valid", "pipewright.order.rejected"}))
        << sdk.name;

    // Dead letters: the raw message as it came (no SDK reads it), the CloudEvent with what
    // happened as extension attributes.
    int dead_events = 0;
    for (const auto& line : sdk_read(sdk, bootstrap(), dlq)) {
      if (!line.contains("event")) continue;
      ++dead_events;
      const auto& e = line["event"];
      EXPECT_EQ(e.value("id", ""), "not-an-order");
      EXPECT_EQ(e.value("pipewrightattempt", json()).dump(), "\"1\"") << e;
      EXPECT_NE(e.value("pipewrighterror", "").find("not an order"), std::string::npos) << e;
      EXPECT_TRUE(e.value("pipewrightorigin", "").starts_with(run.topic("orders") + "/")) << e;
    }
    EXPECT_EQ(dead_events, 1) << sdk.name;
  }
  const auto dead = read_topic(bootstrap(), dlq, 2, 30s);
  bool reason = false;
  for (const auto& m : dead)
    reason =
        reason || m.headers.at("pipewright-error").find("not a CloudEvent") != std::string::npos;
  EXPECT_TRUE(reason) << "no dead letter says it was not a CloudEvent";

  // The webhook: every notification arrived as a CloudEvent in binary mode.
  const auto received = hook.events();
  ASSERT_EQ(received.size(), static_cast<std::size_t>(kNotifications)) << hook.log();
  for (const auto& r : received) {
    EXPECT_EQ(r.value("mode", ""), "binary") << r;
    EXPECT_EQ(r["event"].value("type", ""), "pipewright.notification") << r;
    EXPECT_EQ(r["event"].value("source", ""), "/pipewright/" + ns + "/orders/notify") << r;
    EXPECT_FALSE(r["event"]["data"].value("text", "").empty()) << r;
  }
}

// Events: both SDKs post events over the HTTP binding (async and ?wait=) in both modes and write
// them onto the events topic in both modes; enrich gives each its word and keeps its id; both
// SDKs read every message of both topics.
TEST_F(CloudEventsTest, EventsPipelineSpeaksCloudEventsBothWays) {
  const std::string ns = "ceevents";
  const auto clients = sdks();
  PipelineRun run(example("events"), bootstrap(), ns);
  run.create_topics();
  auto& api = run.start("api");
  run.start("enrich");

  ASSERT_EQ(
      http_request("POST", api.url() + "/events", R"({"name":"plain"})", "application/json").status,
      202);
  const auto [bad, why] = curl_post(
      api.url() + "/events", {"Content-Type: application/cloudevents+json"}, "{\"specversion\"");
  EXPECT_EQ(bad, 400) << why;
  EXPECT_EQ(why.value("field", ""), "body") << why;
  std::set<std::string> direct_ids;
  for (const auto& sdk : clients) {
    for (const std::string mode : {"binary", "structured"}) {
      const json body = {{"name", sdk.name + "-" + mode}, {"payload", {{"via", "http"}}}};
      const auto async =
          sdk_post(sdk, api.url() + "/events", {mode, "a-1", "com.example.x", "/x", body});
      EXPECT_EQ(async.value("status", 0), 202) << async;
      // Synchronous: the answer is the enriched event in the JSON event format.
      const auto sync =
          sdk_post(sdk, api.url() + "/events?wait=20s", {mode, "s-1", "com.example.x", "/x", body});
      ASSERT_EQ(sync.value("status", 0), 200) << sync;
      const auto done = json::parse(sync.value("body", "{}"));
      EXPECT_EQ(done["specversion"], "1.0");
      EXPECT_EQ(done["type"], "pipewright.event.enriched");
      EXPECT_EQ(done["data"]["name"], sdk.name + "-" + mode);
      EXPECT_FALSE(done["data"].value("word", "").empty());

      const auto id = "direct-" + sdk.name + "-" + mode;
      sdk_write(sdk, bootstrap(), run.topic("events"), id,
                {mode, id, "com.example.signup", "/crm", json{{"name", "signup"}}});
      direct_ids.insert(id);
    }
  }
  // What the SDKs wrote straight to Kafka comes out enriched, under its own id.
  for (const auto& id : direct_ids) {
    EXPECT_TRUE(proc::poll_until(30s, [&] {
      const auto got = http_get(api.url() + "/events/" + id);
      return got.status == 200 && !json::parse(got.body)["data"].value("word", "").empty();
    })) << id;
  }

  ASSERT_TRUE(proc::poll_until(
      60s, [&] { return topic_messages(bootstrap(), run.topic("enriched")) >= 13; }));
  for (const auto& sdk : clients) {
    std::set<std::string> types, enriched_ids;
    for (const auto& line : sdk_read(sdk, bootstrap(), run.topic("enriched"))) {
      types.insert(check_ours(line, ns, sdk.name));
      enriched_ids.insert(line["event"].value("id", ""));
    }
    int foreign = 0;
    for (const auto& line : sdk_read(sdk, bootstrap(), run.topic("events"))) {
      if (from_us(line)) {
        types.insert(check_ours(line, ns, sdk.name));
      } else {
        EXPECT_FALSE(line.contains("error")) << line;
        ++foreign;
      }
    }
    EXPECT_EQ(foreign, 4) << sdk.name;
    EXPECT_EQ(types,
              (std::set<std::string>{"pipewright.event.created", "pipewright.event.enriched"}));
    for (const auto& id : direct_ids)
      EXPECT_TRUE(enriched_ids.contains(id)) << sdk.name << ": " << id;
    EXPECT_EQ(enriched_ids.size(), 1U + 8U + 4U) << sdk.name;  // plain, 8 over HTTP, 4 direct
  }
}

// Images: an upload is rotated and grayscaled; both SDKs read the uploaded and processed
// events; the notify worker's webhook reaches the Go SDK's HTTP receiver as CloudEvents.
TEST_F(CloudEventsTest, ImagesPipelineEventsAndWebhookAreCloudEvents) {
  const std::string ns = "ceimages";
  const auto clients = sdks();
  PipelineRun run(example("images"), bootstrap(), ns);
  run.create_topics();
  Receiver hook(clients[0], run.data_dir(), 2);
  run.set_config("notify",
                 {{"channels", {"webhook"}}, {"locale", "en"}, {"webhook", {{"url", hook.url()}}}});
  auto& upload = run.start("upload");
  run.start("rotate");
  run.start("grayscale");
  run.start("notify");

  std::vector<uchar> png;
  cv::imencode(".png", cv::Mat(40, 60, CV_8UC3, cv::Scalar(30, 120, 200)), png);
  Form form;
  form.fields.push_back({"file", "perfil.png", "image/png", std::string(png.begin(), png.end())});
  const auto res = http_request("POST", upload.url() + "/upload", form.body(), form.content_type());
  ASSERT_EQ(res.status, 201) << res.body;
  ASSERT_TRUE(proc::poll_until(60s, [&] { return hook.done(); })) << hook.log();

  for (const auto& sdk : clients) {
    std::set<std::string> types;
    for (const auto* t : {"images", "notifications"}) {
      for (const auto& line : sdk_read(sdk, bootstrap(), run.topic(t)))
        types.insert(check_ours(line, ns, sdk.name));
    }
    EXPECT_EQ(types,
              (std::set<std::string>{"pipewright.image.uploaded", "pipewright.image.processed"}))
        << sdk.name;
  }
  std::set<std::string> operations;
  for (const auto& e : hook.events()) {
    EXPECT_EQ(e.value("type", ""), "pipewright.notification") << e;
    EXPECT_EQ(e.value("source", ""), "/pipewright/" + ns + "/images/notify") << e;
    EXPECT_EQ(e.value("specversion", ""), "1.0") << e;
    operations.insert(e["data"].value("operation", ""));
    EXPECT_NE(e["data"].value("text", "").find("perfil.png"), std::string::npos) << e;
  }
  EXPECT_EQ(operations, (std::set<std::string>{"rotate", "grayscale"}));
}

}  // namespace
}  // namespace pipewright::testing
