// The cluster tier: the chart and the examples on a real one-node cluster (`scripts/cluster up`),
// checked the way a user would: pods the kubelet runs and reports ready, requests only through
// the Ingress controller (Traefik on 127.0.0.1), kubectl for what people read.
//
// One cluster for the whole binary: brought up (or reused when it already runs), the chart
// installed with two operator replicas, `kubectl apply -f examples/` in a namespace that enforces
// the `restricted` Pod Security Standard. When this binary brought the cluster up it takes it
// down at the end, and `scripts/cluster down` fails when anything is left behind.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "pkg/kube/config.h"
#include "pkg/log/log.h"
#include "pkg/proc/net.h"
#include "pkg/proc/run.h"
#include "tests/support/browser.h"
#include "tests/support/http_client.h"
#include "tests/support/keepalive_client.h"
#include "tests/support/suite_logs.h"
#include "tests/support/workers.h"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace pipewright {
namespace {

using nlohmann::json;
using std::chrono::minutes;
using std::chrono::seconds;
namespace fs = std::filesystem;

constexpr const char* kDemo = "demo";
constexpr const char* kSystem = "pipewright-system";

fs::path cache_dir() {
  if (const char* c = std::getenv("PIPEWRIGHT_CACHE"); c != nullptr && *c != '\0') return c;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x != nullptr && *x != '\0')
    return fs::path(x) / "pipewright";
  return fs::path(std::getenv("HOME")) / ".cache" / "pipewright";
}

fs::path state_dir() {
  if (const char* s = std::getenv("PIPEWRIGHT_CLUSTER_STATE"); s != nullptr && *s != '\0') return s;
  return cache_dir() / "cluster";
}

struct Cluster {
  std::string kubeconfig, ingress, kafka;
  int ingress_port = 0;
  bool started_here = false;
  std::string error;  // why the cluster or the chart did not come up; every test reports it
};
Cluster cluster;

// Runs a command, logging it as one JSON line; the output comes back for assertions.
proc::RunResult run(const std::vector<std::string>& argv,
                    std::chrono::milliseconds timeout = seconds(120)) {
  const auto started = std::chrono::steady_clock::now();
  auto r = proc::run(argv, timeout);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - started)
                      .count();
  log::info("ran", {{"argv", argv}, {"exit", r.exit_code}, {"ms", ms}});
  return r;
}

proc::RunResult kubectl(std::vector<std::string> args,
                        std::chrono::milliseconds timeout = seconds(60)) {
  args.insert(args.begin(),
              {(cache_dir() / "bin" / "kubectl").string(), "--kubeconfig", cluster.kubeconfig});
  return run(args, timeout);
}

json kubectl_json(const std::vector<std::string>& args) {
  auto a = args;
  a.insert(a.end(), {"-o", "json"});
  const auto r = kubectl(a);
  if (r.exit_code != 0) return nullptr;
  return json::parse(r.output, nullptr, false);
}

std::string script(const std::string& name) {
  return (testing::source_dir() / "scripts" / name).string();
}

// object[key] when object is an object holding it, else null (a resource seen before the operator
// wrote its status has none).
json field(const json& object, const std::string& key) {
  if (!object.is_object()) return nullptr;
  const auto it = object.find(key);
  return it == object.end() ? json(nullptr) : *it;
}

bool condition_true(const json& object, const std::string& type) {
  const auto conditions = field(field(object, "status"), "conditions");
  if (!conditions.is_array()) return false;
  for (const auto& c : conditions)
    if (field(c, "type") == type) return field(c, "status") == "True";
  return false;
}

// The Pipelines and WeightedServices of the demo namespace that are not Ready yet.
std::vector<std::string> not_ready() {
  std::vector<std::string> out;
  const auto list = kubectl_json({"get", "pipelines,weightedservices", "-n", kDemo});
  if (!list.is_object()) return {"(kubectl get failed)"};
  for (const auto& item : list["items"])
    if (!condition_true(item, "Ready"))
      out.push_back(field(field(item, "metadata"), "name").dump());
  if (list["items"].size() < 4) out.emplace_back("(fewer than 4 resources)");
  return out;
}

std::string describe_not_ready() {
  return kubectl({"get", "pl,ws,pods", "-n", kDemo, "-o", "wide"}).output +
         kubectl({"get", "events", "-n", kDemo, "--sort-by=.lastTimestamp"}).output;
}

class ClusterEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    try {
      bring_up();
    } catch (const std::exception& e) {
      cluster.error = e.what();
    }
  }

  void TearDown() override {
    if (!cluster.started_here) return;
    // Pipelines' children and the chart go with the cluster; `down` checks that nothing stays.
    const auto r = run({script("cluster"), "down"}, minutes(3));
    EXPECT_EQ(r.exit_code, 0) << "scripts/cluster down left something behind:\n" << r.output;
  }

 private:
  static void must(const proc::RunResult& r, const std::string& what) {
    if (r.exit_code != 0) throw std::runtime_error(what + " failed:\n" + r.output);
  }

  static void bring_up() {
    const auto status = run({script("cluster"), "status"}, seconds(30));
    cluster.started_here = status.exit_code != 0;
    // The first run builds the images (minutes); later runs find them cached.
    must(run({script("cluster"), "up"}, minutes(40)), "scripts/cluster up");
    std::ifstream in(state_dir() / "cluster.json");
    const auto info = json::parse(in, nullptr, false);
    if (!info.is_object()) throw std::runtime_error("no cluster.json in " + state_dir().string());
    cluster.kubeconfig = info["kubeconfig"];
    cluster.ingress = info["ingress"];
    cluster.kafka = info["kafka"];
    cluster.ingress_port = std::stoi(cluster.ingress.substr(cluster.ingress.rfind(':') + 1));

    // The chart with its defaults, but for the Kafka every example uses.
    must(run({(cache_dir() / "bin" / "helm").string(), "upgrade", "--install", "pipewright",
              (testing::source_dir() / "deploy" / "helm" / "pipewright").string(), "--kubeconfig",
              cluster.kubeconfig, "--namespace", kSystem, "--create-namespace", "--set",
              "defaultBootstrapServers=" + cluster.kafka, "--wait", "--timeout", "5m"},
             minutes(6)),
         "helm install");
    // The demo namespace refuses any pod that is not `restricted`.
    kubectl({"create", "namespace", kDemo});
    must(kubectl({"label", "--overwrite", "namespace", kDemo,
                  "pod-security.kubernetes.io/enforce=restricted"}),
         "labelling the demo namespace");
    must(kubectl({"apply", "-f", (testing::source_dir() / "examples").string()}),
         "kubectl apply -f examples/");
    if (!proc::poll_until(
            minutes(8), [] { return not_ready().empty(); }, seconds(2))) {
      throw std::runtime_error("examples not Ready within 8 minutes:\n" + describe_not_ready());
    }
    // Ready is about our objects; the Ingress controller (Traefik) learns of the router's
    // endpoints from its own EndpointSlice watch a moment later and answers 503 "no available
    // server" until then (seen in CI). The tests measure the split, not that propagation.
    if (!proc::poll_until(
            minutes(2),
            [] {
              testing::KeepAliveClient client(cluster.ingress_port);
              return client.get("/mult?op1=1&op2=1").status == 200;
            },
            std::chrono::milliseconds(500))) {
      throw std::runtime_error("the Ingress did not route /mult within 2 minutes of Ready");
    }
  }
};

const auto* const environment = ::testing::AddGlobalTestEnvironment(new ClusterEnvironment);

class OnTheCluster : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!cluster.error.empty()) FAIL() << cluster.error;
  }
  static std::string url(const std::string& path) { return cluster.ingress + path; }
  // POSTs an event through the Ingress to an events-api's `path` (…/events) until the answer
  // comes back enriched (a dictionary word added), for up to a minute.
  static ::testing::AssertionResult comes_back_enriched(const std::string& path,
                                                        const std::string& name) {
    std::string body;
    const bool enriched = proc::poll_until(
        minutes(1),
        [&] {
          const auto r = testing::http_request("POST", url(path + "?wait=10s"),
                                               json{{"name", name}}.dump(), "application/json");
          body = r.body;
          return r.status == 200 && r.body.find("word") != std::string::npos;
        },
        seconds(2));
    if (enriched) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "no enriched answer from " << path << ": " << body;
  }
};

TEST_F(OnTheCluster, EveryExampleIsReadyAndKubectlShowsIt) {
  EXPECT_TRUE(not_ready().empty()) << describe_not_ready();
  const auto table = kubectl({"get", "pl,ws", "-n", kDemo});
  ASSERT_EQ(table.exit_code, 0) << table.output;
  for (const char* column : {"PHASE", "STEPS", "READY", "images", "orders", "events", "mult"})
    EXPECT_NE(table.output.find(column), std::string::npos) << column << "\n" << table.output;
  const auto describe = kubectl({"describe", "pipeline", "orders", "-n", kDemo});
  EXPECT_NE(describe.output.find("Events:"), std::string::npos) << describe.output;
  EXPECT_EQ(describe.output.find("Events:  <none>"), std::string::npos) << describe.output;
  // Every pod of ours runs as the restricted standard demands (the API server enforced it).
  const auto pods = kubectl_json({"get", "pods", "-n", kDemo});
  ASSERT_TRUE(pods.is_object());
  EXPECT_GE(pods["items"].size(), 15U);
  for (const auto& pod : pods["items"]) {
    const auto& spec = pod["spec"];
    EXPECT_FALSE(spec.value("automountServiceAccountToken", true)) << pod["metadata"]["name"];
    for (const auto& c : spec["containers"]) {
      EXPECT_TRUE(c["securityContext"].value("readOnlyRootFilesystem", false)) << c["name"];
      EXPECT_TRUE(c["resources"].contains("limits")) << c["name"];
    }
  }
}

// Sends `count` GETs of /mult through the Ingress; returns X-Served-By counts, "" for failures.
std::map<std::string, int> mult_requests(int count, std::vector<std::string>* failures = nullptr) {
  testing::KeepAliveClient client(cluster.ingress_port);
  std::map<std::string, int> served;
  for (int i = 1; i <= count; ++i) {
    const auto r = client.get("/mult?op1=" + std::to_string(i) + "&op2=3");
    const auto doc = json::parse(r.body, nullptr, false);
    if (r.status != 200 || !doc.is_object() || doc.value("result", 0) != 3 * i) {
      ++served[""];
      if (failures != nullptr && failures->size() < 5)
        failures->push_back(std::to_string(r.status) + " " + r.error + " " + r.body);
      continue;
    }
    ++served[r.header("x-served-by")];
  }
  return served;
}

TEST_F(OnTheCluster, MultIsSplitThreeToOneThroughTheIngress) {
  std::vector<std::string> failures;
  auto served = mult_requests(800, &failures);
  EXPECT_EQ(served[""], 0) << ::testing::PrintToString(failures);
  // One nginx router: smooth weighted round robin gives 600/200 exactly; a little slack for a
  // keepalive connection nginx closed and the client repeated.
  EXPECT_NEAR(served["primary"], 600, 16);
  EXPECT_NEAR(served["secondary"], 200, 16);
  EXPECT_EQ(served["standby"], 0);
}

// Gateway API: a WeightedService with gatewayRef gets an HTTPRoute to its weighted backends,
// which Traefik (the Gateway `pipewright` in `default`) splits 3:1 by itself. Its Ingress names a
// class no controller here serves, so the route is the only way in.
TEST_F(OnTheCluster, AWeightedServiceOnTheGatewayIsSplitThreeToOne) {
  const std::string manifest = R"(
apiVersion: pipewright.io/v1alpha1
kind: WeightedService
metadata: {name: gw-mult, namespace: demo}
spec:
  worker: mult
  port: 8080
  backends:
    - {name: primary, weight: 3}
    - {name: secondary, weight: 1}
  expose: {path: /gw-mult}
  ingress: {className: gateway-only}
  gatewayRef: {name: pipewright, namespace: default}
)";
  const auto file = testing::suite_dir() / "gw-mult.yaml";
  std::ofstream(file) << manifest;
  const auto applied = kubectl({"apply", "-f", file.string()});
  ASSERT_EQ(applied.exit_code, 0) << applied.output;
  std::map<std::string, int> served;
  const bool split = proc::poll_until(
      minutes(3),
      [&] {
        served.clear();
        testing::KeepAliveClient client(cluster.ingress_port);
        for (int i = 1; i <= 400; ++i) {
          const auto r = client.get("/gw-mult/mult?op1=" + std::to_string(i) + "&op2=3");
          const auto doc = json::parse(r.body, nullptr, false);
          if (r.status != 200 || !doc.is_object() || doc.value("result", 0) != 3 * i) return false;
          ++served[r.header("x-served-by")];
        }
        return true;
      },
      seconds(2));
  ASSERT_TRUE(split) << kubectl({"get", "httproute", "gw-mult", "-n", kDemo, "-o", "yaml"}).output;
  EXPECT_NEAR(served["primary"], 300, 20) << ::testing::PrintToString(served);
  EXPECT_NEAR(served["secondary"], 100, 20) << ::testing::PrintToString(served);
  kubectl({"delete", "-f", file.string(), "--timeout=60s"}, seconds(70));
}

void patch_backend_replicas(int backend, int replicas) {
  const auto patch =
      json::array({{{"op", "replace"},
                    {"path", "/spec/backends/" + std::to_string(backend) + "/replicas"},
                    {"value", replicas}}});
  const auto r =
      kubectl({"patch", "weightedservice", "mult", "-n", kDemo, "--type=json", "-p", patch.dump()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
}

int ready_pods(const std::string& deployment) {
  const auto d = kubectl_json({"get", "deployment", deployment, "-n", kDemo});
  const auto ready = field(field(d, "status"), "readyReplicas");
  return ready.is_number_integer() ? ready.get<int>() : (d.is_object() ? 0 : -1);
}

// Requests keep flowing on a thread while the backends change under them.
class Load {
 public:
  Load() {
    thread_ = std::thread([this] {
      testing::KeepAliveClient client(cluster.ingress_port);
      for (int i = 1; !stop_; ++i) {
        const auto r = client.get("/mult?op1=" + std::to_string(i) + "&op2=2");
        std::lock_guard lock(mutex_);
        if (r.status == 200) {
          ++served_[r.header("x-served-by")];
        } else {
          ++failed_;
          if (errors_.size() < 5) errors_.push_back(std::to_string(r.status) + " " + r.error);
        }
      }
    });
  }
  ~Load() { finish(); }
  Load(const Load&) = delete;
  Load& operator=(const Load&) = delete;
  void finish() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::map<std::string, int> served() {
    std::lock_guard lock(mutex_);
    return served_;
  }
  int failed() {
    std::lock_guard lock(mutex_);
    return failed_;
  }
  std::string errors() {
    std::lock_guard lock(mutex_);
    return ::testing::PrintToString(errors_);
  }

 private:
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::map<std::string, int> served_;
  int failed_ = 0;
  std::vector<std::string> errors_;
  std::thread thread_;
};

TEST_F(OnTheCluster, MultFailsOverAndReweightsWithNoFailedRequest) {
  Load load;
  // The primary's pods deleted and the backend scaled to 0: the secondary answers everything.
  patch_backend_replicas(0, 0);
  kubectl(
      {"delete", "pods", "-n", kDemo, "-l", "app.kubernetes.io/component=primary", "--wait=false"});
  ASSERT_TRUE(proc::poll_until(
      minutes(2), [] { return ready_pods("mult-primary") == 0; }, seconds(1)));
  EXPECT_TRUE(proc::poll_until(minutes(1), [&] {
    const auto before = load.served()["secondary"];
    std::this_thread::sleep_for(seconds(2));
    return load.served()["secondary"] > before + 5;
  }));
  // Both weighted backends gone: the standby answers.
  patch_backend_replicas(1, 0);
  ASSERT_TRUE(proc::poll_until(
      minutes(2), [] { return ready_pods("mult-secondary") == 0; }, seconds(1)));
  EXPECT_TRUE(proc::poll_until(minutes(1), [&] {
    const auto before = load.served()["standby"];
    std::this_thread::sleep_for(seconds(2));
    return load.served()["standby"] > before + 5;
  })) << ::testing::PrintToString(load.served());
  // Back, with the weights swapped in the spec: the router rolls (a new nginx.conf) while the
  // requests keep being answered.
  const auto patch =
      json::array({{{"op", "replace"}, {"path", "/spec/backends/0/replicas"}, {"value", 1}},
                   {{"op", "replace"}, {"path", "/spec/backends/1/replicas"}, {"value", 1}},
                   {{"op", "replace"}, {"path", "/spec/backends/0/weight"}, {"value", 1}},
                   {{"op", "replace"}, {"path", "/spec/backends/1/weight"}, {"value", 3}}});
  const auto r =
      kubectl({"patch", "weightedservice", "mult", "-n", kDemo, "--type=json", "-p", patch.dump()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ASSERT_TRUE(proc::poll_until(
      minutes(3),
      [] {
        return ready_pods("mult-primary") == 1 && ready_pods("mult-secondary") == 1 &&
               not_ready().empty();
      },
      seconds(1)))
      << describe_not_ready();
  // The rolled router splits 1:3 now.
  bool swapped = proc::poll_until(
      minutes(2),
      [] {
        auto served = mult_requests(400);
        return served[""] == 0 && std::abs(served["secondary"] - 300) <= 12 &&
               std::abs(served["primary"] - 100) <= 12;
      },
      seconds(2));
  load.finish();
  EXPECT_TRUE(swapped) << ::testing::PrintToString(mult_requests(400));
  EXPECT_EQ(load.failed(), 0) << load.errors() << ::testing::PrintToString(load.served());
  EXPECT_GT(load.served()["primary"] + load.served()["secondary"] + load.served()["standby"], 100);
  // The example as it was, for the tests after this one.
  const auto restore =
      json::array({{{"op", "replace"}, {"path", "/spec/backends/0/weight"}, {"value", 3}},
                   {{"op", "replace"}, {"path", "/spec/backends/1/weight"}, {"value", 1}}});
  kubectl({"patch", "weightedservice", "mult", "-n", kDemo, "--type=json", "-p", restore.dump()});
}

// A picture with structure, so a rotation shows in its size.
std::string picture(int width, int height, const std::string& ext) {
  cv::Mat m(height, width, CV_8UC3, cv::Scalar(40, 120, 200));
  cv::circle(m, {width / 3, height / 3}, std::min(width, height) / 5, {0, 0, 255}, -1);
  std::vector<uchar> out;
  cv::imencode("." + ext, m, out);
  return {out.begin(), out.end()};
}

cv::Mat decode(const std::string& bytes) {
  return cv::imdecode(std::vector<uchar>(bytes.begin(), bytes.end()), cv::IMREAD_UNCHANGED);
}

// An SMTP server in the cluster (the project's aiosmtpd server, image made by scripts/cluster)
// and the images pipeline's notify step pointed at it: the example as a user would deploy it
// with their own mail server.
void deploy_mail_server() {
  const std::string manifest = R"(
apiVersion: v1
kind: Namespace
metadata:
  name: mail
  labels: {pod-security.kubernetes.io/enforce: restricted}
---
apiVersion: v1
kind: Service
metadata: {name: smtp, namespace: mail}
spec:
  selector: {app: smtp}
  ports: [{name: smtp, port: 1025, targetPort: 1025}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: smtp, namespace: mail}
spec:
  selector: {matchLabels: {app: smtp}}
  template:
    metadata: {labels: {app: smtp}}
    spec:
      automountServiceAccountToken: false
      securityContext:
        runAsNonRoot: true
        runAsUser: 65532
        seccompProfile: {type: RuntimeDefault}
      containers:
      - name: smtp
        image: localhost/pipewright/smtp:1
        imagePullPolicy: Never
        # The pod's own address (downward API), where the Service reaches it; no wildcard.
        env: [{name: POD_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}]
        args: [--listen, "$(POD_IP):1025", --maildir, /mail/box]
        readinessProbe: {tcpSocket: {port: 1025}, periodSeconds: 1}
        resources: {requests: {cpu: 10m, memory: 32Mi}, limits: {memory: 128Mi}}
        securityContext:
          allowPrivilegeEscalation: false
          readOnlyRootFilesystem: true
          capabilities: {drop: [ALL]}
        volumeMounts: [{name: mail, mountPath: /mail}]
      volumes: [{name: mail, emptyDir: {}}]
)";
  const auto file = testing::suite_dir() / "smtp.yaml";
  std::ofstream(file) << manifest;
  const auto r = kubectl({"apply", "-f", file.string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ASSERT_EQ(kubectl({"rollout", "status", "deployment/smtp", "-n", "mail", "--timeout=120s"},
                    seconds(130))
                .exit_code,
            0);
}

std::string mails() {
  return kubectl({"exec", "-n", "mail", "deploy/smtp", "--", "/bin/sh", "-c",
                  "cat /mail/box/new/* 2>/dev/null || true"})
      .output;
}

TEST_F(OnTheCluster, UploadsAreRotatedGrayedListedAndMailed) {
  deploy_mail_server();
  const auto notify = json{
      {"channels", {"smtp", "log"}},
      {"locale", "pt-BR"},
      {"to", "demo@example.com"},
      {"smtp", {{"host", "smtp.mail.svc.cluster.local"}, {"port", 1025}, {"starttls", false}}}};
  const auto patch =
      json::array({{{"op", "replace"}, {"path", "/spec/steps/3/config"}, {"value", notify}}});
  ASSERT_EQ(kubectl({"patch", "pipeline", "images", "-n", kDemo, "--type=json", "-p", patch.dump()})
                .exit_code,
            0);
  ASSERT_EQ(
      kubectl({"rollout", "status", "deployment/images-notify", "-n", kDemo, "--timeout=180s"},
              seconds(190))
          .exit_code,
      0);

  struct Upload {
    std::string name, type;
    int width, height;
  };
  const std::vector<Upload> uploads = {{"foto.jpg", "image/jpeg", 320, 200},
                                       {"perfil.png", "image/png", 240, 160}};
  for (const auto& u : uploads) {
    testing::Form form;
    const auto ext = u.name.substr(u.name.rfind('.') + 1);
    form.fields.push_back({"file", u.name, u.type, picture(u.width, u.height, ext)});
    const auto r =
        testing::http_request("POST", url("/images/upload"), form.body(), form.content_type());
    ASSERT_EQ(r.status, 201) << r.body << r.error;
  }
  for (const auto& u : uploads) {
    const auto stem = u.name.substr(0, u.name.rfind('.'));
    const auto ext = u.name.substr(u.name.rfind('.'));
    const auto rotated_name = stem + ".rotated" + ext;
    const auto gray_name = stem + ".gray" + ext;
    std::string listing;
    ASSERT_TRUE(proc::poll_until(
        minutes(2),
        [&] {
          listing = testing::http_get(url("/images/api/files")).body;
          return listing.find(rotated_name) != std::string::npos &&
                 listing.find(gray_name) != std::string::npos;
        },
        seconds(1)))
        << listing;
    const auto rotated = decode(testing::http_get(url("/images/files/" + rotated_name)).body);
    ASSERT_FALSE(rotated.empty()) << rotated_name;
    EXPECT_EQ(rotated.cols, u.height);
    EXPECT_EQ(rotated.rows, u.width);
    EXPECT_EQ(rotated.channels(), 3);
    const auto gray = decode(testing::http_get(url("/images/files/" + gray_name)).body);
    ASSERT_FALSE(gray.empty()) << gray_name;
    EXPECT_EQ(gray.cols, u.width);
    EXPECT_EQ(gray.rows, u.height);
    EXPECT_EQ(gray.channels(), 1);
  }
  // The two notifications per file, in the seed's words, at the cluster's mail server.
  std::string box;
  EXPECT_TRUE(proc::poll_until(
      minutes(2),
      [&] {
        box = mails();
        for (const auto& u : uploads) {
          if (box.find("O arquivo " + u.name + " foi rotacionado.") == std::string::npos ||
              box.find("O arquivo " + u.name + " foi transformado em preto e branco.") ==
                  std::string::npos)
            return false;
        }
        return true;
      },
      seconds(2)))
      << box.substr(0, 3000);
}

std::string order_status(const std::string& id) {
  const auto doc =
      json::parse(testing::http_get(cluster.ingress + "/orders/orders/" + id).body, nullptr, false);
  return doc.is_object() ? doc.value("status", "") : "";
}

std::string post_order(const std::string& customer, int total) {
  const auto body =
      json{{"customer", customer},
           {"items", json::array({{{"sku", "a"}, {"quantity", 1}, {"price", total}}})},
           {"total", total}};
  const auto r = testing::http_request("POST", cluster.ingress + "/orders/orders", body.dump(),
                                       "application/json");
  if (r.status != 202) return "";
  const auto doc = json::parse(r.body, nullptr, false);
  return doc.is_object() ? doc.value("id", "") : "";
}

TEST_F(OnTheCluster, OrdersReachTheirFinalStatusAndTheAuditLog) {
  const auto valid = post_order("alice", 20);
  const auto rejected = post_order("mallory", 5);
  ASSERT_FALSE(valid.empty());
  ASSERT_FALSE(rejected.empty());
  std::string a, b;
  EXPECT_TRUE(proc::poll_until(
      minutes(2),
      [&] {
        a = order_status(valid);
        b = order_status(rejected);
        return a == "valid" && b == "rejected";
      },
      std::chrono::milliseconds(500)))
      << a << " " << b;
  std::string audit;
  EXPECT_TRUE(proc::poll_until(
      minutes(1),
      [&] {
        audit = testing::http_get(url("/audit/events")).body;
        return audit.find(valid) != std::string::npos && audit.find(rejected) != std::string::npos;
      },
      seconds(1)))
      << audit.substr(0, 2000);
}

TEST_F(OnTheCluster, EventsAreEnrichedSynchronouslyAndShownLiveInChromium) {
  const auto sync = testing::http_request("POST", url("/events/events?wait=10s"),
                                          R"({"name": "hello", "payload": {"from": "cluster"}})",
                                          "application/json");
  ASSERT_EQ(sync.status, 200) << sync.body << sync.error;
  const auto event = json::parse(sync.body, nullptr, false);
  EXPECT_NE(event.dump().find("word"), std::string::npos) << sync.body;

  // The viewer, through Traefik's WebSocket proxying, shows events as they are created.
  std::atomic<bool> done{false};
  std::thread producer([&] {
    for (int i = 0; i < 120 && !done; ++i) {
      testing::http_request("POST", url("/events/events"), R"({"name": "seen-in-the-viewer"})",
                            "application/json");
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  });
  json page;
  std::string error;
  try {
    page =
        testing::browse(url("/live/viewer"), "#events", 60000,
                        json::array({{{"waitForText", "#state"}, {"text", "live"}},
                                     {{"waitForText", "#events"}, {"text", "seen-in-the-viewer"}}}),
                        "cluster-events-viewer");
  } catch (const std::exception& e) {
    error = e.what();
  }
  done = true;
  producer.join();
  ASSERT_TRUE(error.empty()) << error;
  EXPECT_NE(page["text"].get<std::string>().find("seen-in-the-viewer"), std::string::npos);
}

TEST_F(OnTheCluster, AWorkerPodKilledUnderLoadLosesNoAcceptedOrder) {
  std::vector<std::string> accepted;
  std::atomic<bool> killed{false};
  std::thread killer([&] {
    std::this_thread::sleep_for(seconds(2));
    kubectl({"delete", "pods", "-n", kDemo, "-l",
             "pipewright.io/pipeline=orders,app.kubernetes.io/component=fraud", "--grace-period=0",
             "--force", "--wait=false"});
    killed = true;
  });
  for (int i = 0; i < 200 && (i < 40 || !killed); ++i) {
    const auto id = post_order("load-" + std::to_string(i % 50), 10);
    if (!id.empty()) accepted.push_back(id);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  killer.join();
  ASSERT_GE(accepted.size(), 30U);
  std::set<std::string> pending(accepted.begin(), accepted.end());
  EXPECT_TRUE(proc::poll_until(
      minutes(4),
      [&] {
        for (auto it = pending.begin(); it != pending.end();) {
          const auto s = order_status(*it);
          it = (s == "valid" || s == "rejected") ? pending.erase(it) : std::next(it);
        }
        return pending.empty();
      },
      seconds(1)))
      << pending.size() << " of " << accepted.size() << " accepted orders never finished";
}

std::string lease_holder() {
  const auto lease = kubectl_json({"get", "lease", "pipewright-operator", "-n", kSystem});
  const auto holder = field(field(lease, "spec"), "holderIdentity");
  return holder.is_string() ? holder.get<std::string>() : "";
}

TEST_F(OnTheCluster, TheOtherOperatorReplicaTakesOverWhenTheLeaderIsKilled) {
  const auto holder = lease_holder();
  ASSERT_FALSE(holder.empty());
  // The identity is "<pod name>-<pid>".
  const auto pod = holder.substr(0, holder.rfind('-'));
  const auto r = kubectl({"delete", "pod", pod, "-n", kSystem, "--grace-period=0", "--force"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::string now;
  EXPECT_TRUE(proc::poll_until(
      minutes(2),
      [&] {
        now = lease_holder();
        return !now.empty() && now.rfind(pod, 0) != 0;
      },
      seconds(1)))
      << holder << " -> " << now;
  // A spec change still arrives: the new leader scales the orders notify step (1 <-> 2, so a
  // second run on the same cluster changes something too).
  const int want = ready_pods("orders-notify") == 2 ? 1 : 2;
  const auto patch =
      json::array({{{"op", "replace"}, {"path", "/spec/steps/2/replicas"}, {"value", want}}});
  ASSERT_EQ(kubectl({"patch", "pipeline", "orders", "-n", kDemo, "--type=json", "-p", patch.dump()})
                .exit_code,
            0);
  EXPECT_TRUE(proc::poll_until(
      minutes(2),
      [&] {
        const auto d = kubectl_json({"get", "deployment", "orders-notify", "-n", kDemo});
        return field(field(d, "spec"), "replicas") == want && ready_pods("orders-notify") == want;
      },
      seconds(1)))
      << describe_not_ready();
}

// spec.kafka.secretRef on a SASL/PLAIN listener: the operator's admin creates the topics with the
// Secret's settings, the workers (the Secret mounted) consume and produce, and the password shows
// nowhere people or other tenants read: ConfigMaps, Events, status, the operator's logs.
TEST_F(OnTheCluster, APipelineOnASaslListenerRunsAndThePasswordStaysInItsSecret) {
  const auto stored =
      kubectl({"get", "secret", "kafka-sasl", "-n", "kafka", "-o", "jsonpath={.data.password}"});
  ASSERT_EQ(stored.exit_code, 0) << stored.output;
  const auto password = kube::base64_decode(stored.output);
  ASSERT_GE(password.size(), 16U);
  const std::string manifest = R"(
apiVersion: v1
kind: Namespace
metadata:
  name: secure
  labels: {pod-security.kubernetes.io/enforce: restricted}
---
apiVersion: v1
kind: Secret
metadata: {name: kafka-creds, namespace: secure}
stringData:
  security.protocol: SASL_PLAINTEXT
  sasl.mechanism: PLAIN
  sasl.username: pipewright
  sasl.password: ")" + password +
                               R"("
---
apiVersion: pipewright.io/v1alpha1
kind: Pipeline
metadata: {name: secure, namespace: secure}
spec:
  kafka:
    bootstrapServers: kafka.kafka.svc.cluster.local:9094
    secretRef: {name: kafka-creds}
  topics: [{name: events, partitions: 2}, {name: enriched, partitions: 2}]
  steps:
  - {name: api, worker: events-api, outputs: [events], inputs: [enriched], expose: {path: /secure}}
  - {name: enrich, worker: enrich, inputs: [events], outputs: [enriched],
     config: {dictionary: /usr/share/dict/brazilian}}
)";
  const auto file = testing::suite_dir() / "secure.yaml";
  std::ofstream(file) << manifest;
  const auto applied = kubectl({"apply", "-f", file.string()});
  ASSERT_EQ(applied.exit_code, 0) << applied.output;
  json pipeline;
  const bool ready = proc::poll_until(
      minutes(4),
      [&] {
        pipeline = kubectl_json({"get", "pipeline", "secure", "-n", "secure"});
        return condition_true(pipeline, "Ready");
      },
      seconds(2));
  ASSERT_TRUE(ready) << pipeline.dump(2) << kubectl({"get", "pods,events", "-n", "secure"}).output;
  // Produced to and consumed from the SASL listener, through the Ingress.
  EXPECT_TRUE(comes_back_enriched("/secure/events", "sasl"));
  for (const auto& [what, text] : std::vector<std::pair<std::string, std::string>>{
           {"configmaps", kubectl({"get", "configmaps", "-n", "secure", "-o", "json"}).output},
           {"events", kubectl({"get", "events", "-n", "secure", "-o", "json"}).output},
           {"status", pipeline.dump()},
           {"operator logs",
            kubectl({"logs", "-n", kSystem, "-l", "app.kubernetes.io/name=pipewright-operator",
                     "--tail=-1", "--prefix"})
                .output},
           {"worker logs", kubectl({"logs", "-n", "secure", "-l", "pipewright.io/pipeline=secure",
                                    "--tail=-1", "--prefix"})
                               .output}}) {
    EXPECT_EQ(text.find(password), std::string::npos) << "the password appears in " << what;
  }
}

// A pod of `namespace` opens a TCP connection to ip:port (bash's /dev/tcp, in the image): "open",
// "refused ..." (kube-router rejects what no policy allows) or "timeout" (no answer in 3 s).
std::string connect_from(const std::string& ns, const std::string& pod, const std::string& ip,
                         int port) {
  const auto r = kubectl({"exec", "-n", ns, pod, "--", "timeout", "3", "bash", "-c",
                          "exec 3<>/dev/tcp/$0/$1", ip, std::to_string(port)},
                         seconds(20));
  if (r.exit_code == 0) return "open";
  if (r.exit_code == 124) return "timeout";
  return "refused (exit " + std::to_string(r.exit_code) + ": " + r.output + ")";
}

struct PodAddress {
  std::string name, ip;
  int http = 0, metrics = 0;
};

// The first running pod of a step, with its address and named container ports.
PodAddress step_pod(const std::string& ns, const std::string& pipeline, const std::string& step) {
  const auto list =
      kubectl_json({"get", "pods", "-n", ns, "-l",
                    "pipewright.io/pipeline=" + pipeline + ",app.kubernetes.io/component=" + step,
                    "--field-selector=status.phase=Running"});
  PodAddress out;
  if (!list.is_object() || list["items"].empty()) return out;
  const auto& pod = list["items"][0];
  out.name = field(pod["metadata"], "name").get<std::string>();
  const auto ip = field(pod["status"], "podIP");
  if (ip.is_string()) out.ip = ip.get<std::string>();
  for (const auto& c : pod["spec"]["containers"])
    for (const auto& port : c.value("ports", json::array())) {
      if (port.value("name", "") == "http") out.http = port.value("containerPort", 0);
      if (port.value("name", "") == "metrics") out.metrics = port.value("containerPort", 0);
    }
  return out;
}

// spec.networkPolicy on a node that enforces it (kube-router's firewall in `scripts/cluster`): a
// pod of the same namespace is refused at a step's HTTP port but reaches its metrics port, the
// step itself is refused another pod's HTTP port but reaches Kafka, and the pipeline still works
// end to end through the Ingress. The same probes against a pipeline without the policy connect,
// so the refusals are the policy's, not a broken network.
TEST_F(OnTheCluster, ANetworkPolicyRefusesWhatItDoesNotAllowAndThePipelineStillWorks) {
  const std::string manifest = R"(
apiVersion: pipewright.io/v1alpha1
kind: Pipeline
metadata: {name: fenced, namespace: demo}
spec:
  networkPolicy: {enabled: true}
  topics: [{name: events, partitions: 1}, {name: enriched, partitions: 1}]
  steps:
  - {name: api, worker: events-api, outputs: [events], inputs: [enriched], expose: {path: /fenced}}
  - {name: enrich, worker: enrich, inputs: [events], outputs: [enriched],
     config: {dictionary: /usr/share/dict/brazilian}}
---
apiVersion: v1
kind: Pod
metadata: {name: netpol-probe, namespace: demo}
spec:
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: 0
  securityContext:
    runAsNonRoot: true
    runAsUser: 65532
    seccompProfile: {type: RuntimeDefault}
  containers:
  - name: probe
    image: localhost/pipewright/smtp:1
    imagePullPolicy: Never
    command: [sleep, "900"]
    resources: {requests: {cpu: 10m, memory: 16Mi}, limits: {memory: 64Mi}}
    securityContext:
      allowPrivilegeEscalation: false
      readOnlyRootFilesystem: true
      capabilities: {drop: [ALL]}
)";
  const auto file = testing::suite_dir() / "fenced.yaml";
  std::ofstream(file) << manifest;
  struct Cleanup {
    fs::path file;
    ~Cleanup() { kubectl({"delete", "-f", file.string(), "--wait=false"}); }
  } cleanup{file};
  const auto applied = kubectl({"apply", "-f", file.string()});
  ASSERT_EQ(applied.exit_code, 0) << applied.output;
  json pipeline;
  ASSERT_TRUE(proc::poll_until(
      minutes(4),
      [&] {
        pipeline = kubectl_json({"get", "pipeline", "fenced", "-n", kDemo});
        return condition_true(pipeline, "Ready");
      },
      seconds(2)))
      << pipeline.dump(2) << describe_not_ready();
  ASSERT_EQ(
      kubectl({"wait", "pod/netpol-probe", "-n", kDemo, "--for=condition=Ready", "--timeout=120s"},
              seconds(130))
          .exit_code,
      0)
      << describe_not_ready();
  const auto np = kubectl({"get", "networkpolicies", "-n", kDemo, "-o", "name"}).output;
  ASSERT_NE(np.find("networkpolicy.networking.k8s.io/fenced\n"), std::string::npos) << np;

  const auto fenced = step_pod(kDemo, "fenced", "enrich");
  const auto fenced_api = step_pod(kDemo, "fenced", "api");
  // The events example, which sets no policy.
  const auto open = step_pod(kDemo, "events", "enrich");
  const auto open_api = step_pod(kDemo, "events", "api");
  const auto kafka =
      kubectl({"get", "pod", "kafka-0", "-n", "kafka", "-o", "jsonpath={.status.podIP}"});
  ASSERT_FALSE(fenced.ip.empty() || fenced_api.ip.empty() || open.ip.empty() ||
               open_api.ip.empty() || kafka.output.empty());
  for (const int port : {fenced.http, fenced.metrics, open.http, open_api.http})
    ASSERT_GT(port, 0);

  // The step listens on its HTTP port (from inside its own pod, no firewall between).
  EXPECT_EQ(connect_from(kDemo, fenced.name, fenced.ip, fenced.http), "open");
  // kube-router applies a policy shortly after it sees it and the pod's address: poll.
  std::string http;
  EXPECT_TRUE(proc::poll_until(
      minutes(1),
      [&] {
        http = connect_from(kDemo, "netpol-probe", fenced.ip, fenced.http);
        return http != "open";
      },
      seconds(1)))
      << "another pod reached the fenced step's HTTP port";
  log::info("netpol probe to a fenced step's http port", {{"result", http}});
  // What the policy allows, and the same port where no policy applies.
  EXPECT_EQ(connect_from(kDemo, "netpol-probe", fenced.ip, fenced.metrics), "open")
      << "the metrics port (Prometheus) must stay reachable";
  EXPECT_EQ(connect_from(kDemo, "netpol-probe", fenced_api.ip, fenced_api.http), "open")
      << "an exposed step's HTTP port is open to every namespace when ingressNamespace is empty";
  EXPECT_EQ(connect_from(kDemo, "netpol-probe", open.ip, open.http), "open")
      << "a pod that no policy selects is reachable";
  // Egress: the fenced step reaches Kafka, not another pod's HTTP port.
  EXPECT_EQ(connect_from(kDemo, fenced.name, kafka.output, 9092), "open");
  EXPECT_NE(connect_from(kDemo, fenced.name, open_api.ip, open_api.http), "open")
      << "the fenced step reached a port its policy does not name";
  EXPECT_EQ(connect_from(kDemo, open.name, open_api.ip, open_api.http), "open")
      << "a step without a policy reaches the same port";

  // And the pipeline works under its policy: Ingress -> api -> Kafka -> enrich -> Kafka -> api.
  EXPECT_TRUE(comes_back_enriched("/fenced/events", "fenced"));
}

}  // namespace
}  // namespace pipewright
