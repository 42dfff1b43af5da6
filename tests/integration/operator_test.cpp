// The operator as a user meets it: `kubectl apply` of the shipped examples on a real control
// plane (etcd, kube-apiserver, the garbage collector) and a real Kafka broker, with
// pipewright-operator running as its own ServiceAccount under the chart's RBAC. No kubelet runs:
// the test patches Deployment status where a kubelet would make pods ready.

#include <gtest/gtest.h>
#include <csignal>
#include <fstream>
#include <sstream>
#include <thread>

#include "pkg/kafka/admin.h"
#include "pkg/kafka/client.h"
#include "pkg/kube/rest.h"
#include "pkg/local/kafka_broker.h"
#include "pkg/proc/net.h"
#include "tests/support/control_plane.h"
#include "tests/support/monitoring.h"
#include "tests/support/operator.h"
#include "tests/support/servers.h"
#include "tests/support/shared.h"
#include "tests/support/suite_logs.h"

namespace pipewright {
namespace {

using nlohmann::json;
using std::chrono::seconds;
using testing::ControlPlane;
using testing::OperatorProcess;
using testing::Shared;

// Without the deployment controller nothing overwrites the Deployment status a test patches.
const char* kControllers =
    "garbage-collector-controller,namespace-controller,serviceaccount-controller";

class Operator : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    plane.start([] {
      ControlPlane::Options o;
      o.controllers = kControllers;
      auto cp = ControlPlane::start(o);
      testing::install_crds_and_rbac(*cp);
      for (const char* ns : {"demo", "le"})
        cp->kubectl({"create", "namespace", ns});
      return cp;
    });
    kafka.start([] { return local::KafkaBroker::start({testing::component_dir("kafka")}); });
    if (!plane || !kafka) return;
    op.start([] {
      return OperatorProcess::start(testing::operator_kubeconfig(*plane), kafka->bootstrap(),
                                    {"--namespace=demo", "--resync-period=5", "--lag-interval=2"});
    });
  }
  static void TearDownTestSuite() {
    op.reset();
    kafka.reset();
    plane.reset();
  }
  void SetUp() override {
    ASSERT_TRUE(plane) << plane.error;
    ASSERT_TRUE(kafka) << kafka.error;
    ASSERT_TRUE(op) << op.error;
  }

  static proc::RunResult kubectl(const std::vector<std::string>& args) {
    return plane->kubectl(args);
  }
  static proc::RunResult apply_text(const std::string& yaml) {
    const auto file = testing::suite_dir() / "apply.yaml";
    std::ofstream(file) << yaml;
    return kubectl({"apply", "-f", file.string()});
  }
  // kubectl create: objects as a user makes them (no labels of ours).
  static proc::RunResult create_text(const std::string& yaml) {
    const auto file = testing::suite_dir() / "create.yaml";
    std::ofstream(file) << yaml;
    return kubectl({"create", "-f", file.string()});
  }
  static std::optional<json> get(const std::string& path) {
    kube::Rest rest(plane->admin());
    const auto r = rest.request("GET", path);
    if (r.status != 200) return std::nullopt;
    return r.json();
  }
  static std::optional<json> deployment(const std::string& ns, const std::string& name) {
    return get("/apis/apps/v1/namespaces/" + ns + "/deployments/" + name);
  }
  static std::optional<json> pipeline(const std::string& ns, const std::string& name) {
    return get("/apis/pipewright.io/v1alpha1/namespaces/" + ns + "/pipelines/" + name);
  }
  static std::string condition(const json& object, const std::string& type,
                               const std::string& field) {
    for (const auto& c :
         object.value("status", json::object()).value("conditions", json::array())) {
      if (c.value("type", "") == type) return c.value(field, "");
    }
    return "";
  }
  // What a kubelet would report: every replica ready, for the current generation.
  static void make_ready(const std::string& ns, const std::string& name, int ready) {
    kube::Rest rest(plane->admin());
    const auto d = deployment(ns, name);
    ASSERT_TRUE(d) << name;
    const json status = {{"status",
                          {{"observedGeneration", (*d)["metadata"]["generation"]},
                           {"replicas", (*d)["spec"]["replicas"]},
                           {"readyReplicas", ready},
                           {"availableReplicas", ready},
                           {"updatedReplicas", (*d)["spec"]["replicas"]}}}};
    const auto r =
        rest.request("PATCH", "/apis/apps/v1/namespaces/" + ns + "/deployments/" + name + "/status",
                     status.dump(), "application/merge-patch+json");
    ASSERT_EQ(r.status, 200) << r.body;
  }
  static bool eventually(const std::function<bool()>& ok, seconds timeout = seconds(30)) {
    return proc::poll_until(timeout, ok, std::chrono::milliseconds(200));
  }
  static int partitions(const std::string& topic) {
    return kafka::make_admin(kafka->bootstrap())->describe({topic})[0].partitions;
  }

  static inline Shared<ControlPlane> plane;
  static inline Shared<local::KafkaBroker> kafka;
  static inline Shared<OperatorProcess> op;
};

TEST_F(Operator, EveryExampleGetsItsChildrenAndTopics) {
  const auto r = kubectl({"apply", "-f", (testing::source_dir() / "examples").string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;

  for (const char* d :
       {"images-upload", "images-rotate", "images-grayscale", "images-notify", "orders-api",
        "orders-fraud", "orders-notify", "orders-audit", "events-api", "events-enrich",
        "events-gateway", "mult-primary", "mult-secondary", "mult-standby", "mult-router"}) {
    EXPECT_TRUE(eventually([&] { return deployment("demo", d).has_value(); }))
        << d << " never appeared";
  }
  const auto rotate = deployment("demo", "images-rotate");
  ASSERT_TRUE(rotate);
  EXPECT_EQ((*rotate)["spec"]["replicas"], 2);
  EXPECT_EQ((*rotate)["metadata"]["labels"]["app.kubernetes.io/managed-by"], "pipewright");
  EXPECT_EQ((*rotate)["metadata"]["ownerReferences"][0]["kind"], "Pipeline");
  EXPECT_EQ((*rotate)["metadata"]["ownerReferences"][0]["name"], "images");
  EXPECT_EQ((*rotate)["spec"]["template"]["spec"]["containers"][0]["args"],
            json::array({"rotate"}));

  EXPECT_TRUE(get("/api/v1/namespaces/demo/services/images-upload").has_value());
  EXPECT_TRUE(get("/api/v1/namespaces/demo/persistentvolumeclaims/images-data").has_value());
  EXPECT_TRUE(eventually([&] {
    return get("/apis/networking.k8s.io/v1/namespaces/demo/ingresses/images").has_value();
  }));
  const auto router = get("/api/v1/namespaces/demo/configmaps/mult-router");
  ASSERT_TRUE(router);
  const std::string conf = (*router)["data"]["nginx.conf"];
  EXPECT_NE(conf.find("weight=3"), std::string::npos) << conf;
  EXPECT_NE(conf.find("backup"), std::string::npos) << conf;

  EXPECT_TRUE(eventually([&] { return partitions("demo.images.images") == 3; }));
  const auto events = kubectl({"-n", "demo", "get", "events", "--field-selector",
                               "involvedObject.kind=Pipeline,involvedObject.name=images", "-o",
                               R"(jsonpath={range .items[*]}{.reason} {.message}{"\n"}{end})"});
  EXPECT_NE(events.output.find("Created Deployment images-rotate\n"), std::string::npos)
      << events.output;
  EXPECT_EQ(partitions("demo.events.events"), 4);
  EXPECT_EQ(partitions("demo.orders.orders-valid"), 3);

  EXPECT_TRUE(eventually([&] {
    const auto p = pipeline("demo", "images");
    return p && condition(*p, "TopicsReady", "status") == "True" &&
           (*p)["status"].value("phase", "") == "Pending";
  })) << pipeline("demo", "images")->dump(2);
}

TEST_F(Operator, ReadyOnceDeploymentsAreReadyAndDegradedWhenOneStops) {
  for (const char* step : {"upload", "rotate", "grayscale", "notify"}) {
    const auto d = deployment("demo", std::string("images-") + step);
    ASSERT_TRUE(d);
    make_ready("demo", std::string("images-") + step, (*d)["spec"]["replicas"]);
  }
  EXPECT_TRUE(eventually([&] {
    const auto p = pipeline("demo", "images");
    return p && (*p)["status"].value("phase", "") == "Running" &&
           condition(*p, "Ready", "status") == "True";
  })) << pipeline("demo", "images")->dump(2);
  EXPECT_EQ((*pipeline("demo", "images"))["status"]["ready"], "4/4");

  make_ready("demo", "images-rotate", 0);
  EXPECT_TRUE(eventually([&] {
    const auto p = pipeline("demo", "images");
    return p && (*p)["status"].value("phase", "") == "Degraded" &&
           condition(*p, "Ready", "reason") == "StepNotReady";
  })) << pipeline("demo", "images")->dump(2);
  make_ready("demo", "images-rotate", 2);
}

TEST_F(Operator, SpecEditsReachTheChildrenAndTopics) {
  ASSERT_EQ(
      kubectl(
          {"-n", "demo", "patch", "pl", "images", "--type=json", "-p",
           R"([{"op":"replace","path":"/spec/steps/1/replicas","value":3},)"
           R"({"op":"replace","path":"/spec/topics/0/partitions","value":5},)"
           R"({"op":"add","path":"/spec/steps/-","value":{"name":"thumbs","worker":"grayscale","inputs":["images"],"storage":true}}])"})
          .exit_code,
      0);
  EXPECT_TRUE(eventually([&] {
    const auto d = deployment("demo", "images-rotate");
    return d && (*d)["spec"]["replicas"] == 3;
  }));
  EXPECT_TRUE(eventually([&] { return deployment("demo", "images-thumbs").has_value(); }));
  EXPECT_TRUE(eventually([&] { return partitions("demo.images.images") == 5; }));

  ASSERT_EQ(kubectl({"-n", "demo", "patch", "ws", "mult", "--type=json", "-p",
                     R"([{"op":"replace","path":"/spec/backends/0/weight","value":2}])"})
                .exit_code,
            0);
  EXPECT_TRUE(eventually([&] {
    const auto cm = get("/api/v1/namespaces/demo/configmaps/mult-router");
    return cm &&
           (*cm)["data"]["nginx.conf"].get<std::string>().find("weight=2") != std::string::npos;
  }));
}

TEST_F(Operator, APartitionDecreaseIsRefusedInStatus) {
  ASSERT_EQ(kubectl({"-n", "demo", "patch", "pl", "images", "--type=json", "-p",
                     R"([{"op":"replace","path":"/spec/topics/0/partitions","value":2}])"})
                .exit_code,
            0);
  EXPECT_TRUE(eventually([&] {
    const auto p = pipeline("demo", "images");
    return p && condition(*p, "TopicsReady", "reason") == "PartitionDecreaseRefused";
  })) << pipeline("demo", "images")->dump(2);
  EXPECT_EQ(partitions("demo.images.images"), 5);
  ASSERT_EQ(kubectl({"-n", "demo", "patch", "pl", "images", "--type=json", "-p",
                     R"([{"op":"replace","path":"/spec/topics/0/partitions","value":5}])"})
                .exit_code,
            0);
  EXPECT_TRUE(eventually([&] {
    const auto p = pipeline("demo", "images");
    return p && condition(*p, "TopicsReady", "status") == "True";
  }));
}

TEST_F(Operator, AnInvalidSpecTheSchemaCannotSeeIsReportedWithItsFieldPath) {
  const auto r = apply_text(R"(apiVersion: pipewright.io/v1alpha1
kind: Pipeline
metadata: {name: loop, namespace: demo}
spec:
  topics: [{name: a}, {name: b}]
  steps:
    - {name: first, worker: enrich, inputs: [a], outputs: [b]}
    - {name: second, worker: enrich, inputs: [b], outputs: [a]}
)");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(eventually([&] {
    const auto p = pipeline("demo", "loop");
    return p && condition(*p, "Ready", "reason") == "InvalidSpec" &&
           condition(*p, "Ready", "message").find("spec.steps") != std::string::npos &&
           (*p)["status"].value("phase", "") == "Failed";
  })) << pipeline("demo", "loop")->dump(2);
  EXPECT_FALSE(deployment("demo", "loop-first").has_value());
  kubectl({"-n", "demo", "delete", "pl", "loop"});
}

TEST_F(Operator, DeletedAndHandEditedChildrenArePutBack) {
  ASSERT_EQ(
      kubectl({"-n", "demo", "delete", "deployment", "images-upload", "--wait=false"}).exit_code,
      0);
  ASSERT_EQ(
      kubectl({"-n", "demo", "scale", "deployment", "images-grayscale", "--replicas=7"}).exit_code,
      0);
  ASSERT_EQ(kubectl({"-n", "demo", "patch", "configmap", "images-rotate", "--type=merge", "-p",
                     R"({"data":{"config.json":"{\"angle\": 270}"}})"})
                .exit_code,
            0);
  EXPECT_TRUE(eventually([&] {
    const auto d = deployment("demo", "images-upload");
    return d && !(*d)["metadata"].contains("deletionTimestamp");
  }));
  EXPECT_TRUE(eventually([&] {
    const auto d = deployment("demo", "images-grayscale");
    return d && (*d)["spec"]["replicas"] == 1;
  }));
  EXPECT_TRUE(eventually([&] {
    const auto cm = get("/api/v1/namespaces/demo/configmaps/images-rotate");
    return cm && json::parse((*cm)["data"]["config.json"].get<std::string>())["angle"] == 90;
  }));
}

TEST_F(Operator, AStepRemovedFromTheSpecLosesItsChildren) {
  ASSERT_TRUE(eventually([&] { return deployment("demo", "images-thumbs").has_value(); }));
  ASSERT_EQ(kubectl({"-n", "demo", "patch", "pl", "images", "--type=json", "-p",
                     R"([{"op":"remove","path":"/spec/steps/4"}])"})
                .exit_code,
            0);
  EXPECT_TRUE(eventually([&] { return !deployment("demo", "images-thumbs").has_value(); }));
  EXPECT_TRUE(eventually(
      [&] { return !get("/api/v1/namespaces/demo/configmaps/images-thumbs").has_value(); }));
  EXPECT_TRUE(deployment("demo", "images-rotate").has_value());
}

TEST_F(Operator, DeletingAPipelineCollectsChildrenAndTopicsByPolicy) {
  ASSERT_EQ(apply_text(R"(apiVersion: pipewright.io/v1alpha1
kind: Pipeline
metadata: {name: gc, namespace: demo}
spec:
  topics:
    - {name: keep}
    - {name: drop, deletionPolicy: Delete}
  steps:
    - {name: s, worker: enrich, inputs: [keep], outputs: [drop]}
)")
                .exit_code,
            0);
  ASSERT_TRUE(eventually([&] { return deployment("demo", "gc-s").has_value(); }));
  ASSERT_TRUE(eventually(
      [&] { return partitions("demo.gc.drop") == 1 && partitions("demo.gc.keep") == 1; }));
  ASSERT_TRUE(eventually([&] {
    const auto p = pipeline("demo", "gc");
    return p && (*p)["metadata"].value("finalizers", json::array()).size() == 1;
  })) << "no finalizer guards the topic with deletionPolicy: Delete";

  ASSERT_EQ(kubectl({"-n", "demo", "delete", "pl", "gc", "--wait=false"}).exit_code, 0);
  EXPECT_TRUE(eventually([&] { return !pipeline("demo", "gc").has_value(); }));
  EXPECT_TRUE(eventually([&] { return !deployment("demo", "gc-s").has_value(); }, seconds(60)))
      << "the garbage collector did not take the children";
  EXPECT_TRUE(eventually([&] { return partitions("demo.gc.drop") == 0; }));
  EXPECT_EQ(partitions("demo.gc.keep"), 1) << "a Retain topic was deleted";
}

TEST_F(Operator, APipelineMadeInvalidCanStillBeDeleted) {
  const std::string head =
      "apiVersion: pipewright.io/v1alpha1\nkind: Pipeline\n"
      "metadata: {name: stuck, namespace: demo}\nspec:\n"
      "  topics: [{name: a, deletionPolicy: Delete}, {name: b}]\n  steps:\n";
  ASSERT_EQ(
      apply_text(head + "    - {name: one, worker: enrich, inputs: [a], outputs: [b]}\n").exit_code,
      0);
  ASSERT_TRUE(eventually([&] { return partitions("demo.stuck.a") == 1; }));
  ASSERT_TRUE(eventually([&] {
    const auto p = pipeline("demo", "stuck");
    return p && (*p)["metadata"].value("finalizers", json::array()).size() == 1;
  }));
  // A cycle: the schema accepts it, the operator refuses it.
  ASSERT_EQ(apply_text(head + "    - {name: one, worker: enrich, inputs: [a], outputs: [b]}\n"
                              "    - {name: two, worker: enrich, inputs: [b], outputs: [a]}\n")
                .exit_code,
            0);
  ASSERT_TRUE(eventually([&] {
    const auto p = pipeline("demo", "stuck");
    return p && condition(*p, "Ready", "reason") == "InvalidSpec";
  }));
  ASSERT_EQ(kubectl({"-n", "demo", "delete", "pl", "stuck", "--wait=false"}).exit_code, 0);
  EXPECT_TRUE(eventually([&] { return !pipeline("demo", "stuck").has_value(); }))
      << "stuck in Terminating";
  EXPECT_TRUE(eventually([&] { return partitions("demo.stuck.a") == 0; }));
}

TEST_F(Operator, ChangesMadeAroundAnApiServerRestartAreNotMissed) {
  plane->stop_apiserver();
  plane->start_apiserver();
  ASSERT_EQ(
      kubectl({"-n", "demo", "delete", "deployment", "images-notify", "--wait=false"}).exit_code,
      0);
  ASSERT_EQ(kubectl({"-n", "demo", "patch", "pl", "images", "--type=json", "-p",
                     R"([{"op":"replace","path":"/spec/steps/0/replicas","value":2}])"})
                .exit_code,
            0);
  EXPECT_TRUE(eventually(
      [&] {
        const auto d = deployment("demo", "images-notify");
        return d && !(*d)["metadata"].contains("deletionTimestamp");
      },
      seconds(60)));
  EXPECT_TRUE(eventually(
      [&] {
        const auto d = deployment("demo", "images-upload");
        return d && (*d)["spec"]["replicas"] == 2;
      },
      seconds(60)));
  EXPECT_TRUE(op->running()) << testing::tail(op->log_file());
}

// A user's objects named like children (unlabelled, made before the Pipeline): never taken
// over, never collected with the Pipeline; the operator makes its own once the names are free.
TEST_F(Operator, ObjectsItDidNotCreateAreLeftAloneAndSurviveThePipeline) {
  const std::string base = "/api/v1/namespaces/demo/";
  ASSERT_EQ(create_text(R"(apiVersion: v1
kind: ConfigMap
metadata: {name: own-web, namespace: demo}
data: {notes: "the user's own settings"}
---
apiVersion: v1
kind: Service
metadata: {name: own-web, namespace: demo}
spec:
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: own-data, namespace: demo}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
)")
                .exit_code,
            0);
  const std::vector<std::string> users = {base + "configmaps/own-web", base + "services/own-web",
                                          base + "persistentvolumeclaims/own-data"};
  std::vector<json> before;
  for (const auto& path : users)
    before.push_back(get(path).value_or(json()));
  const auto untouched = [&] {
    for (std::size_t i = 0; i < users.size(); ++i) {
      const auto now = get(users[i]);
      EXPECT_TRUE(now) << users[i] << " is gone";
      if (!now) return;
      EXPECT_EQ(now->dump(), before[i].dump()) << users[i] << " was changed";
      EXPECT_FALSE((*now)["metadata"].contains("ownerReferences")) << users[i];
    }
  };
  const std::string own = R"(apiVersion: pipewright.io/v1alpha1
kind: Pipeline
metadata: {name: own, namespace: demo}
spec:
  topics: [{name: uploads}]
  storage: {size: 1Gi}
  steps:
    - {name: web, worker: upload, outputs: [uploads], expose: {path: /own}, storage: true}
)";
  const auto conflicted = [&] {
    const auto p = pipeline("demo", "own");
    return p && condition(*p, "WorkloadsReady", "reason") == "ForeignObject" &&
           condition(*p, "WorkloadsReady", "message").find("own-") != std::string::npos;
  };
  const auto reported = [&] {  // the first status of the Pipeline is written
    const auto p = pipeline("demo", "own");
    return p && !condition(*p, "WorkloadsReady", "reason").empty();
  };
  ASSERT_EQ(apply_text(own).exit_code, 0);
  ASSERT_TRUE(eventually(reported));
  untouched();
  EXPECT_TRUE(eventually(conflicted)) << pipeline("demo", "own").value_or(json()).dump(2);
  // Nothing of the Pipeline is written while a name is someone else's: its Deployment would
  // mount the user's ConfigMap and volume.
  EXPECT_FALSE(deployment("demo", "own-web").has_value());
  EXPECT_TRUE(eventually([&] {
    const auto events =
        kubectl({"-n", "demo", "get", "events", "--field-selector",
                 "involvedObject.kind=Pipeline,involvedObject.name=own,type=Warning", "-o",
                 "jsonpath={.items[*].reason}"});
    return events.output.find("ForeignObject") != std::string::npos;
  }));

  // Deleting the Pipeline takes its own children (a sentinel shows the garbage collector did
  // its work), not the user's objects.
  const auto owner = pipeline("demo", "own");
  ASSERT_TRUE(owner);
  ASSERT_EQ(create_text(R"(apiVersion: v1
kind: ConfigMap
metadata:
  name: own-sentinel
  namespace: demo
  ownerReferences:
    - {apiVersion: pipewright.io/v1alpha1, kind: Pipeline, name: own, uid: )" +
                        (*owner)["metadata"]["uid"].get<std::string>() + "}\n")
                .exit_code,
            0);
  ASSERT_EQ(kubectl({"-n", "demo", "delete", "pl", "own", "--wait=false"}).exit_code, 0);
  ASSERT_TRUE(
      eventually([&] { return !get(base + "configmaps/own-sentinel").has_value(); }, seconds(60)))
      << "the garbage collector did not run";
  untouched();

  // Once the user removes their objects, the Pipeline gets its own.
  ASSERT_EQ(apply_text(own).exit_code, 0);
  ASSERT_TRUE(eventually(conflicted)) << pipeline("demo", "own").value_or(json()).dump(2);
  untouched();
  // No pvc-protection controller runs here to release the claim's finalizer.
  kubectl({"-n", "demo", "patch", "pvc", "own-data", "--type=merge", "-p",
           R"({"metadata":{"finalizers":null}})"});
  ASSERT_EQ(
      kubectl({"-n", "demo", "delete", "configmap/own-web", "service/own-web", "pvc/own-data"})
          .exit_code,
      0);
  const auto ours = [&](const std::string& path) {
    const auto o = get(path);
    return o && (*o)["metadata"].value("ownerReferences", json::array()).size() == 1 &&
           (*o)["metadata"]["ownerReferences"][0]["name"] == "own";
  };
  EXPECT_TRUE(eventually([&] {
    return ours(users[0]) && ours(users[1]) && ours(users[2]) &&
           deployment("demo", "own-web").has_value();
  })) << pipeline("demo", "own").value_or(json()).dump(2);
  EXPECT_TRUE(eventually([&] {
    const auto p = pipeline("demo", "own");
    return p && condition(*p, "WorkloadsReady", "reason") == "StepNotReady";
  })) << pipeline("demo", "own").value_or(json()).dump(2);
  kubectl({"-n", "demo", "delete", "pl", "own", "--wait=false"});
}

// Pipeline "twin" step "a-b" and Pipeline "twin-a" step "b" both want Deployment twin-a-b.
TEST_F(Operator, AChildOfAnotherPipelineWithTheSameNameIsNotTakenOver) {
  ASSERT_EQ(apply_text(R"(apiVersion: pipewright.io/v1alpha1
kind: Pipeline
metadata: {name: twin, namespace: demo}
spec:
  topics: [{name: t}]
  steps: [{name: a-b, worker: audit, inputs: [t]}]
)")
                .exit_code,
            0);
  ASSERT_TRUE(eventually([&] { return deployment("demo", "twin-a-b").has_value(); }));
  const auto first = deployment("demo", "twin-a-b");
  ASSERT_EQ(apply_text(R"(apiVersion: pipewright.io/v1alpha1
kind: Pipeline
metadata: {name: twin-a, namespace: demo}
spec:
  topics: [{name: t}]
  steps: [{name: b, worker: audit, inputs: [t], replicas: 3}]
)")
                .exit_code,
            0);
  EXPECT_TRUE(eventually([&] {
    const auto p = pipeline("demo", "twin-a");
    return p && condition(*p, "WorkloadsReady", "reason") == "ForeignObject" &&
           condition(*p, "WorkloadsReady", "message").find("controlled by Pipeline twin") !=
               std::string::npos;
  })) << pipeline("demo", "twin-a").value_or(json()).dump(2);
  const auto now = deployment("demo", "twin-a-b");
  ASSERT_TRUE(now);
  EXPECT_EQ((*now)["metadata"]["resourceVersion"], (*first)["metadata"]["resourceVersion"]);
  EXPECT_EQ((*now)["spec"]["replicas"], 1);
  kubectl({"-n", "demo", "delete", "pl", "twin", "twin-a", "--wait=false"});
}

// The same for a WeightedService: its router's ConfigMap name is a user's.
TEST_F(Operator, AWeightedServiceLeavesAUsersObjectOfItsChildsNameAlone) {
  ASSERT_EQ(create_text("apiVersion: v1\nkind: ConfigMap\n"
                        "metadata: {name: guarded-router, namespace: demo}\n"
                        "data: {nginx.conf: \"the user's\"}\n")
                .exit_code,
            0);
  const std::string path = "/api/v1/namespaces/demo/configmaps/guarded-router";
  const auto before = get(path);
  ASSERT_TRUE(before);
  ASSERT_EQ(apply_text(R"(apiVersion: pipewright.io/v1alpha1
kind: WeightedService
metadata: {name: guarded, namespace: demo}
spec:
  worker: mult
  port: 8080
  backends: [{name: one, weight: 1}]
)")
                .exit_code,
            0);
  const auto ws = [] {
    return get("/apis/pipewright.io/v1alpha1/namespaces/demo/weightedservices/guarded");
  };
  EXPECT_TRUE(eventually([&] {
    const auto w = ws();
    return w && condition(*w, "RouterReady", "reason") == "ForeignObject" &&
           condition(*w, "RouterReady", "message").find("ConfigMap guarded-router") !=
               std::string::npos;
  })) << ws().value_or(json()).dump(2);
  EXPECT_EQ(get(path).value_or(json()).dump(), before->dump());
  EXPECT_FALSE(deployment("demo", "guarded-router").has_value());
  kubectl({"-n", "demo", "delete", "ws", "guarded", "--wait=false"});
  kubectl({"-n", "demo", "delete", "configmap", "guarded-router"});
}

// A topic that existed before (named by topicName) is used but keeps its partitions and
// settings, and survives `deletionPolicy: Delete`; the Pipeline's own topics do not.
TEST_F(Operator, APreExistingTopicIsUsedButNeverAlteredOrDeleted) {
  auto admin = kafka::make_admin(kafka->bootstrap());
  kafka::TopicSpec theirs;
  theirs.name = "shared.compacted";
  theirs.partitions = 2;
  theirs.config = {{"cleanup.policy", "compact"}};
  ASSERT_EQ(admin->create({theirs})[0].outcome, kafka::TopicOutcome::created);
  ASSERT_EQ(apply_text(R"(apiVersion: pipewright.io/v1alpha1
kind: Pipeline
metadata: {name: borrow, namespace: demo}
spec:
  topics:
    - name: in
      topicName: shared.compacted
      partitions: 4
      config: {retention.ms: "1000", cleanup.policy: delete}
      deletionPolicy: Delete
    - {name: out, deletionPolicy: Delete}
  steps: [{name: s, worker: enrich, inputs: [in], outputs: [out]}]
)")
                .exit_code,
            0);
  ASSERT_TRUE(eventually([&] {
    const auto p = pipeline("demo", "borrow");
    return p && condition(*p, "TopicsReady", "status") == "True";
  })) << pipeline("demo", "borrow").value_or(json()).dump(2);
  EXPECT_EQ(partitions("demo.borrow.out"), 1);
  const auto state = admin->describe({"shared.compacted"})[0];
  EXPECT_EQ(state.partitions, 2);
  EXPECT_EQ(state.config, theirs.config);
  // Its own topic and the dead-letter topic of the borrowed one are its; the borrowed is not.
  EXPECT_EQ(pipeline("demo", "borrow").value_or(json())["status"].value("createdTopics", json()),
            json::array({"demo.borrow.out", "shared.compacted.dlq"}));

  ASSERT_EQ(kubectl({"-n", "demo", "delete", "pl", "borrow", "--wait=false"}).exit_code, 0);
  EXPECT_TRUE(eventually([&] { return !pipeline("demo", "borrow").has_value(); }));
  EXPECT_TRUE(eventually([&] {
    return partitions("demo.borrow.out") == 0 && partitions("shared.compacted.dlq") == 0;
  })) << "its own Delete topics stayed";
  const auto after = admin->describe({"shared.compacted"})[0];
  EXPECT_EQ(after.partitions, 2) << "a topic it did not create was deleted or grown";
  EXPECT_EQ(after.config, theirs.config);
}

TEST_F(Operator, KafkasInternalTopicsAreRefused) {
  const auto r = apply_text(R"(apiVersion: pipewright.io/v1alpha1
kind: Pipeline
metadata: {name: offsets, namespace: demo}
spec:
  topics: [{name: o, topicName: __consumer_offsets, partitions: 60, deletionPolicy: Delete}]
  steps: [{name: s, worker: audit, inputs: [o]}]
)");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("internal topics"), std::string::npos) << r.output;
  EXPECT_FALSE(pipeline("demo", "offsets").has_value());
}

// Two Pipelines naming one topic: the one that created it keeps it; the other is refused in
// status and changes nothing, not even when it is deleted with `deletionPolicy: Delete`.
TEST_F(Operator, ASecondPipelineOnATopicIsRefusedAndTheFirstKeepsWorking) {
  const auto first = [](int partitions) {
    return R"(apiVersion: pipewright.io/v1alpha1
kind: Pipeline
metadata: {name: first, namespace: demo}
spec:
  topics: [{name: t, topicName: demo.contested, partitions: )" +
           std::to_string(partitions) + R"(}]
  steps: [{name: s, worker: audit, inputs: [t]}]
)";
  };
  ASSERT_EQ(apply_text(first(2)).exit_code, 0);
  ASSERT_TRUE(eventually([&] {
    const auto p = pipeline("demo", "first");
    return p && condition(*p, "TopicsReady", "status") == "True";
  })) << pipeline("demo", "first").value_or(json()).dump(2);
  EXPECT_EQ(pipeline("demo", "first").value_or(json())["status"].value("createdTopics", json()),
            json::array({"demo.contested", "demo.contested.dlq"}));

  ASSERT_EQ(apply_text(R"(apiVersion: pipewright.io/v1alpha1
kind: Pipeline
metadata: {name: second, namespace: demo}
spec:
  topics:
    - {name: t, topicName: demo.contested, partitions: 5, config: {cleanup.policy: compact},
       deletionPolicy: Delete}
  steps: [{name: s, worker: audit, inputs: [t]}]
)")
                .exit_code,
            0);
  ASSERT_TRUE(eventually([&] {
    const auto p = pipeline("demo", "second");
    return p && !condition(*p, "TopicsReady", "reason").empty();
  }));
  EXPECT_EQ(partitions("demo.contested"), 2);
  EXPECT_TRUE(eventually([&] {
    const auto p = pipeline("demo", "second");
    return p && condition(*p, "TopicsReady", "reason") == "TopicClaimed" &&
           condition(*p, "TopicsReady", "message").find("Pipeline demo/first") != std::string::npos;
  })) << pipeline("demo", "second").value_or(json()).dump(2);
  ASSERT_EQ(kubectl({"-n", "demo", "delete", "pl", "second", "--wait=false"}).exit_code, 0);
  EXPECT_TRUE(eventually([&] { return !pipeline("demo", "second").has_value(); }));

  // The first still holds it: its edits reach the topic, and it is still ready.
  ASSERT_EQ(apply_text(first(3)).exit_code, 0);
  EXPECT_TRUE(eventually([&] { return partitions("demo.contested") == 3; }));
  const auto p = pipeline("demo", "first");
  ASSERT_TRUE(p);
  EXPECT_EQ(condition(*p, "TopicsReady", "status"), "True") << p->dump(2);
  EXPECT_TRUE(
      kafka::make_admin(kafka->bootstrap())->describe({"demo.contested"})[0].config.empty());
  kubectl({"-n", "demo", "delete", "pl", "first", "--wait=false"});
}

// The series of `name` whose labels include `label` (e.g. step="count"); nullopt when none.
std::optional<double> series(const std::string& metrics, const std::string& name,
                             const std::string& label) {
  std::istringstream in(metrics);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(name + "{", 0) == 0 && line.find(label) != std::string::npos)
      return std::stod(line.substr(line.rfind(' ') + 1));
  }
  return std::nullopt;
}

TEST_F(Operator, StatusShowsEachStepsLagAndDeadLettersAsKafkaHasThem) {
  const auto r = apply_text(R"(apiVersion: pipewright.io/v1alpha1
kind: Pipeline
metadata: {name: lagged, namespace: demo}
spec:
  topics: [{name: in, partitions: 2}, {name: out}]
  steps:
    - {name: count, worker: enrich, inputs: [in], outputs: [out]}
)");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto step = [&](const char* field) -> std::optional<long> {
    const auto p = pipeline("demo", "lagged");
    if (!p) return std::nullopt;
    for (const auto& line : p->value("status", json::object()).value("steps", json::array())) {
      if (line.value("name", "") == "count" && line.contains(field)) return line[field].get<long>();
    }
    return std::nullopt;
  };
  const auto dump = [&] { return pipeline("demo", "lagged").value_or(json()).dump(2); };
  ASSERT_TRUE(eventually([&] { return step("lag") == 0L && step("deadLetters") == 0L; })) << dump();
  EXPECT_EQ(condition(*pipeline("demo", "lagged"), "LagGrowing", "status"), "False");
  EXPECT_EQ(condition(*pipeline("demo", "lagged"), "DeadLetters", "status"), "False");

  auto producer = kafka::make_producer(kafka::client_properties(kafka->bootstrap()));
  const auto produce = [&](const std::string& topic, int n) {
    std::vector<kafka::OutMessage> batch;
    for (int i = 0; i < n; ++i)
      batch.push_back({topic, "k" + std::to_string(i), "{}", {}});
    producer->send(batch);
  };
  // Nothing consumed yet: the group has committed nothing, so its lag is all that is retained.
  produce("demo.lagged.in", 5);
  EXPECT_TRUE(eventually([&] { return step("lag") == 5L; })) << dump();

  // The step's own group commits what it read: lag counts from the committed offsets.
  {
    auto consumer = kafka::make_consumer(kafka::client_properties(kafka->bootstrap()),
                                         "demo.lagged.count", {"demo.lagged.in"});
    std::vector<kafka::InMessage> read;
    ASSERT_TRUE(eventually([&] {
      for (auto& m : consumer->poll(10, std::chrono::milliseconds(200)))
        read.push_back(std::move(m));
      return read.size() >= 5;
    }));
    consumer->commit(read);
    consumer->close();
  }
  EXPECT_TRUE(eventually([&] { return step("lag") == 0L; })) << dump();

  // A producer outpacing a consumer that does nothing: LagGrowing after consecutive rises, and
  // back to False once the lag holds still.
  EXPECT_TRUE(eventually(
      [&] {
        produce("demo.lagged.in", 20);
        return condition(*pipeline("demo", "lagged"), "LagGrowing", "status") == "True";
      },
      seconds(90)))
      << dump();
  EXPECT_NE(condition(*pipeline("demo", "lagged"), "LagGrowing", "message").find("step count"),
            std::string::npos);
  EXPECT_TRUE(eventually(
      [&] { return condition(*pipeline("demo", "lagged"), "LagGrowing", "status") == "False"; },
      seconds(60)))
      << dump();

  // Dead letters: the .dlq topic's size, a condition, and the operator's depth gauge.
  produce("demo.lagged.in.dlq", 2);
  EXPECT_TRUE(eventually([&] { return step("deadLetters") == 2L; })) << dump();
  const auto p = pipeline("demo", "lagged");
  EXPECT_EQ(condition(*p, "DeadLetters", "status"), "True");
  EXPECT_NE(condition(*p, "DeadLetters", "message").find("count: 2 dead letters"),
            std::string::npos);
  EXPECT_TRUE(eventually([&] {
    return series(op->metrics(), "pipewright_dead_letter_messages", "step=\"count\"") == 2.0;
  })) << op->metrics();
  EXPECT_EQ(series(op->metrics(), "pipewright_resource_ready", "name=\"lagged\""), 0.0)
      << "no kubelet: its step is not ready";

  // kubectl's table says why it is not Ready.
  const auto table = kubectl({"-n", "demo", "get", "pl", "lagged"});
  EXPECT_NE(table.output.find("REASON"), std::string::npos) << table.output;
  EXPECT_NE(table.output.find("StepNotReady"), std::string::npos) << table.output;
}

// The operator's part of the shipped monitoring, against a real Prometheus scraping the real
// operator: every dashboard query on its metrics returns data, and every metric of its alerts
// has series (an alert's expression is empty while all is well).
TEST_F(Operator, ItsDashboardQueriesAndAlertMetricsHaveDataInPrometheus) {
  // Pipelines with dead-letter topics and a WeightedService with a backup, whatever ran before.
  const auto r = kubectl({"apply", "-f", (testing::source_dir() / "examples").string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto prom = testing::Prometheus::start({op->metrics_address()});
  int dashboard = 0, alerts = 0;
  for (const auto& q : testing::monitoring_queries()) {
    bool operators = !q.metrics.empty();
    for (const auto& m : q.metrics)
      operators = operators && testing::operator_metric(m);
    if (!operators) continue;
    if (q.where.starts_with("dashboard:")) {
      ++dashboard;
      EXPECT_TRUE(eventually([&] {
        return testing::prometheus_result_size(prom->url(), q.expr) > 0;
      })) << q.where
          << ": " << q.expr;
      continue;
    }
    ++alerts;
    for (const auto& m : q.metrics) {
      EXPECT_TRUE(eventually([&] {
        return testing::prometheus_result_size(
                   prom->url(), "count({__name__=~\"" + m + "|" + m + "_bucket\"})") > 0;
      })) << q.where
          << ": " << m << " has no series";
    }
  }
  EXPECT_GE(dashboard, 8) << "the operator's panels were not found";
  EXPECT_GE(alerts, 5) << "the operator's alerts were not found";
}

TEST_F(Operator, ANetworkPolicyIsMadeWhenAskedAndRemovedWhenNot) {
  const auto r = apply_text(R"(apiVersion: pipewright.io/v1alpha1
kind: Pipeline
metadata: {name: fenced, namespace: demo}
spec:
  networkPolicy: {enabled: true}
  topics: [{name: in}]
  steps: [{name: audit, worker: audit, inputs: [in]}]
)");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto policy = [&] {
    return get("/apis/networking.k8s.io/v1/namespaces/demo/networkpolicies/fenced");
  };
  ASSERT_TRUE(eventually([&] { return policy().has_value(); }));
  EXPECT_EQ((*policy())["metadata"]["ownerReferences"][0]["name"], "fenced");
  EXPECT_EQ((*policy())["spec"]["podSelector"]["matchLabels"]["pipewright.io/pipeline"], "fenced");
  ASSERT_EQ(kubectl({"-n", "demo", "patch", "pl", "fenced", "--type=merge", "-p",
                     R"({"spec":{"networkPolicy":{"enabled":false}}})"})
                .exit_code,
            0);
  EXPECT_TRUE(eventually([&] { return !policy().has_value(); }));
  kubectl({"-n", "demo", "delete", "pl", "fenced"});
}

TEST_F(Operator, IdleHalfMinuteAfterConvergenceMakesNoApiWrites) {
  // A lag that is not zero but stable (nothing consumes here): its samples must write nothing.
  const auto idle = apply_text(R"(apiVersion: pipewright.io/v1alpha1
kind: Pipeline
metadata: {name: backlog, namespace: demo}
spec:
  topics: [{name: in}, {name: out}]
  steps:
    - {name: wait, worker: enrich, inputs: [in], outputs: [out]}
)");
  ASSERT_EQ(idle.exit_code, 0) << idle.output;
  ASSERT_TRUE(eventually([&] { return partitions("demo.backlog.in") == 1; }));
  kafka::make_producer(kafka::client_properties(kafka->bootstrap()))
      ->send({{"demo.backlog.in", "k", "{}", {}}, {"demo.backlog.in", "k", "{}", {}}});
  ASSERT_TRUE(eventually([&] {
    const auto p = pipeline("demo", "backlog");
    return p && p->value("status", json::object()).value("steps", json::array()).size() == 1 &&
           (*p)["status"]["steps"][0].value("lag", 0) == 2;
  })) << pipeline("demo", "backlog").value_or(json()).dump(2);
  // Converged: every Pipeline's status describes its current generation.
  ASSERT_TRUE(eventually([&] {
    const auto list = get("/apis/pipewright.io/v1alpha1/namespaces/demo/pipelines");
    if (!list) return false;
    for (const auto& p : (*list)["items"]) {
      if (p.value("status", json::object()).value("observedGeneration", 0L) !=
          p["metadata"].value("generation", 0L)) {
        return false;
      }
    }
    return true;
  }));
  // Settle: the last reconciles of the previous tests may still be writing. Settled is no write
  // for longer than a resync period (5 s), not for one 200 ms poll: a write that came after a
  // short quiet spell (the slower the machine, the longer its spells) fell inside the window.
  double before = op->metric_sum("pipewright_api_writes_total");
  auto quiet_since = std::chrono::steady_clock::now();
  ASSERT_TRUE(eventually(
      [&] {
        const double now = op->metric_sum("pipewright_api_writes_total");
        if (now != before) {
          before = now;
          quiet_since = std::chrono::steady_clock::now();
        }
        return std::chrono::steady_clock::now() - quiet_since > seconds(6);
      },
      seconds(120)));
  const double reconciles_before = op->metric_sum("pipewright_reconcile_total");
  // The observation window is the claim itself: half a minute in which resyncs (every 5 s, six
  // rounds over every Pipeline) and lag samples (every 2 s, fifteen) run.
  std::this_thread::sleep_for(seconds(30));
  EXPECT_EQ(op->metric_sum("pipewright_api_writes_total"), before) << op->metrics();
  EXPECT_GE(op->metric_sum("pipewright_reconcile_total"), reconciles_before + 5)
      << "resyncs did not run, so the window proves nothing";
}

TEST_F(Operator, TwoReplicasElectOneLeaderAndTheOtherTakesOverWhenItIsKilled) {
  const auto kubeconfig = testing::operator_kubeconfig(*plane);
  const std::vector<std::string> flags = {
      "--namespace=le", "--leader-elect", "--leader-election-lease-duration=4",
      "--leader-election-renew-deadline=3", "--leader-election-retry-period=500"};
  auto a = OperatorProcess::start(kubeconfig, kafka->bootstrap(), flags, "leader-a");
  ASSERT_TRUE(eventually([&] {
    return testing::read_file(a->log_file()).find("became leader") != std::string::npos;
  }));
  auto b = OperatorProcess::start(kubeconfig, kafka->bootstrap(), flags, "leader-b");
  ASSERT_EQ(
      apply_text(
          "apiVersion: pipewright.io/v1alpha1\nkind: Pipeline\nmetadata: {name: p, namespace: le}\n"
          "spec:\n  topics: [{name: t}]\n  steps: [{name: s, worker: audit, inputs: [t]}]\n")
          .exit_code,
      0);
  EXPECT_TRUE(eventually([&] { return deployment("le", "p-s").has_value(); }));
  EXPECT_EQ(testing::read_file(b->log_file()).find("became leader"), std::string::npos)
      << "two leaders at once";

  a->kill(SIGKILL);
  EXPECT_TRUE(eventually(
      [&] { return testing::read_file(b->log_file()).find("became leader") != std::string::npos; },
      seconds(20)))
      << testing::tail(b->log_file());
  ASSERT_EQ(kubectl({"-n", "le", "patch", "pl", "p", "--type=json", "-p",
                     R"([{"op":"replace","path":"/spec/steps/0/replicas","value":4}])"})
                .exit_code,
            0);
  EXPECT_TRUE(eventually([&] {
    const auto d = deployment("le", "p-s");
    return d && (*d)["spec"]["replicas"] == 4;
  })) << "the new leader does not reconcile";
}

}  // namespace
}  // namespace pipewright
