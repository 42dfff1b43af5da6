// plan::render, step_env, nginx_config and to_yaml as pure functions: names, labels, the worker
// environment contract, selectors, hashes that move exactly when they should, and YAML that reads
// back as the same JSON.

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <regex>

#include "pkg/api/manifest.h"
#include "pkg/plan/env.h"
#include "pkg/plan/quantity.h"
#include "pkg/plan/render.h"
#include "tests/support/suite_logs.h"

namespace pipewright::plan {
namespace {

using nlohmann::json;

api::Manifests examples() {
  return api::load({testing::source_dir() / "examples"});
}

api::Pipeline example_pipeline(const std::string& name) {
  for (auto& p : examples().pipelines)
    if (p.meta.name == name) return p;
  throw std::runtime_error("no example pipeline " + name);
}

api::WeightedService mult() {
  return examples().weighted_services.at(0);
}

std::vector<std::string> kinds_and_names(const std::vector<json>& objects) {
  std::vector<std::string> out;
  for (const auto& o : objects)
    out.push_back(o["kind"].get<std::string>() + "/" + o["metadata"]["name"].get<std::string>());
  return out;
}

const json& find(const std::vector<json>& objects, const std::string& kind,
                 const std::string& name) {
  for (const auto& o : objects)
    if (o["kind"] == kind && o["metadata"]["name"] == name) return o;
  throw std::runtime_error("no " + kind + "/" + name);
}

std::string annotation(const json& o, const std::string& key) {
  return o["metadata"]["annotations"].value(key, "");
}

std::string pod_annotation(const json& deployment, const std::string& key) {
  return deployment["spec"]["template"]["metadata"]["annotations"].value(key, "");
}

TEST(Render, PipelineChildrenInOrder) {
  EXPECT_EQ(
      kinds_and_names(render(example_pipeline("images"), {})),
      (std::vector<std::string>{
          "ConfigMap/images-upload", "Deployment/images-upload", "Service/images-upload",
          "ConfigMap/images-rotate", "Deployment/images-rotate", "ConfigMap/images-grayscale",
          "Deployment/images-grayscale", "ConfigMap/images-notify", "Deployment/images-notify",
          "Ingress/images", "PersistentVolumeClaim/images-data"}));
}

TEST(Render, WeightedServiceChildrenInOrder) {
  EXPECT_EQ(
      kinds_and_names(render(mult(), {})),
      (std::vector<std::string>{
          "Deployment/mult-primary", "Service/mult-primary", "Deployment/mult-secondary",
          "Service/mult-secondary", "Deployment/mult-standby", "Service/mult-standby",
          "ConfigMap/mult-router", "Deployment/mult-router", "Service/mult", "Ingress/mult"}));
}

TEST(Render, EveryChildIsLabelledAndOwnedOnlyWithAUid) {
  auto ws = mult();
  for (const auto& o : render(example_pipeline("orders"), {})) {
    const auto& labels = o["metadata"]["labels"];
    EXPECT_EQ(o["metadata"]["namespace"], "demo");
    EXPECT_EQ(labels[kManagedBy], "pipewright");
    EXPECT_EQ(labels["app.kubernetes.io/instance"], "orders");
    EXPECT_EQ(labels[kPipelineLabel], "orders");
    EXPECT_TRUE(labels.contains("app.kubernetes.io/name"));
    EXPECT_TRUE(labels.contains("app.kubernetes.io/component"));
    EXPECT_FALSE(o["metadata"].contains("ownerReferences")) << o.dump();
    EXPECT_EQ(annotation(o, kSpecHash), spec_hash(o));
  }
  ws.meta.uid = "0b9f7a1e-1111-2222-3333-444455556666";
  for (const auto& o : render(ws, {})) {
    EXPECT_EQ(o["metadata"]["labels"][kWeightedServiceLabel], "mult");
    EXPECT_EQ(o["metadata"]["ownerReferences"],
              json::parse(R"([{"apiVersion": "pipewright.io/v1alpha1", "kind": "WeightedService",
                  "name": "mult", "uid": "0b9f7a1e-1111-2222-3333-444455556666",
                  "controller": true, "blockOwnerDeletion": true}])"));
  }
  const auto objects = render(example_pipeline("images"), {});
  const auto& rotate = find(objects, "Deployment", "images-rotate")["metadata"]["labels"];
  EXPECT_EQ(rotate["app.kubernetes.io/name"], "rotate");
  EXPECT_EQ(rotate["app.kubernetes.io/component"], "rotate");
  const auto ws_objects = render(ws, {});
  const auto& router = find(ws_objects, "Deployment", "mult-router")["metadata"]["labels"];
  EXPECT_EQ(router["app.kubernetes.io/name"], "router");
  EXPECT_EQ(router["app.kubernetes.io/component"], "router");
}

// A selector must match its own pods and nothing else's: the component label tells them apart.
TEST(Render, SelectorsMatchTheirPodsOnly) {
  for (auto objects : {render(example_pipeline("images"), {}), render(mult(), {})}) {
    std::vector<json> pod_labels;
    for (const auto& o : objects) {
      if (o["kind"] != "Deployment") continue;
      const auto& labels = o["spec"]["template"]["metadata"]["labels"];
      for (const auto& [k, v] : o["spec"]["selector"]["matchLabels"].items())
        EXPECT_EQ(labels[k], v) << o["metadata"]["name"];
      pod_labels.push_back(labels);
    }
    for (const auto& o : objects) {
      if (o["kind"] != "Service" && o["kind"] != "Deployment") continue;
      const auto& sel =
          o["kind"] == "Service" ? o["spec"]["selector"] : o["spec"]["selector"]["matchLabels"];
      int matched = 0;
      for (const auto& labels : pod_labels) {
        bool all = true;
        for (const auto& [k, v] : sel.items())
          all = all && labels.value(k, json()) == v;
        matched += all ? 1 : 0;
      }
      EXPECT_EQ(matched, 1) << o["kind"] << " " << o["metadata"]["name"];
    }
  }
}

TEST(StepEnv, TheWorkerContract) {
  const auto p = example_pipeline("images");
  const EnvVars expected = {{"PIPEWRIGHT_NAMESPACE", "demo"},
                            {"PIPEWRIGHT_PIPELINE", "images"},
                            {"PIPEWRIGHT_STEP", "rotate"},
                            {"PIPEWRIGHT_WORKER", "rotate"},
                            {"PIPEWRIGHT_KAFKA_BOOTSTRAP", "kafka:9092"},
                            {"PIPEWRIGHT_INPUTS", "demo.images.images"},
                            {"PIPEWRIGHT_INPUT_TOPICS", "images=demo.images.images"},
                            {"PIPEWRIGHT_OUTPUTS", "notifications=demo.images.notifications"},
                            {"PIPEWRIGHT_CONSUMER_GROUP", "demo.images.rotate"},
                            {"PIPEWRIGHT_MAX_ATTEMPTS", "5"},
                            {"PIPEWRIGHT_BACKOFF_INITIAL", "200ms"},
                            {"PIPEWRIGHT_BACKOFF_MAX", "30s"},
                            {"PIPEWRIGHT_DEAD_LETTER", "true"},
                            {"PIPEWRIGHT_CONFIG", "/etc/pipewright/config.json"},
                            {"PIPEWRIGHT_HTTP_PORT", "8080"},
                            {"PIPEWRIGHT_METRICS_PORT", "9090"},
                            {"PIPEWRIGHT_DATA_DIR", "/data"}};
  RenderOptions options;
  options.default_bootstrap_servers = "kafka:9092";
  EXPECT_EQ(step_env(p, p.steps[1], options), expected);

  // The Deployment carries the same list, in the same order.
  const auto objects = render(p, options);
  const auto& container =
      find(objects, "Deployment", "images-rotate")["spec"]["template"]["spec"]["containers"][0];
  ASSERT_EQ(container["env"].size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(container["env"][i]["name"], expected[i].first);
    EXPECT_EQ(container["env"][i].value("value", ""), expected[i].second);
  }
}

TEST(StepEnv, OverridesSecretsCustomImagesAndLocalPaths) {
  const auto m = api::parse(R"(apiVersion: pipewright.io/v1alpha1
kind: Pipeline
metadata: {name: p, namespace: ns}
spec:
  kafka: {bootstrapServers: "b1:9092,b2:9092", secretRef: {name: creds}}
  topics: [{name: a, topicName: custom.a}, {name: b}, {name: c}, {name: d}]
  steps:
    - name: s
      image: example.com/mine:1
      inputs: [a, b]
      outputs: [c, d]
      delivery: {maxAttempts: 2, deadLetter: false}
  delivery: {backoff: {initial: 1s}}
)",
                            "m.yaml");
  const auto& p = m.pipelines.at(0);
  RenderOptions options;
  options.default_bootstrap_servers = "ignored:9092";
  auto env = step_env(p, p.steps[0], options, "/tmp/run/s.json");
  EXPECT_EQ(env_value(env, "PIPEWRIGHT_WORKER"), "");
  EXPECT_EQ(env_value(env, "PIPEWRIGHT_KAFKA_BOOTSTRAP"), "b1:9092,b2:9092");
  EXPECT_EQ(env_value(env, "PIPEWRIGHT_INPUTS"), "custom.a,ns.p.b");
  EXPECT_EQ(env_value(env, "PIPEWRIGHT_INPUT_TOPICS"), "a=custom.a,b=ns.p.b");
  EXPECT_EQ(env_value(env, "PIPEWRIGHT_OUTPUTS"), "c=ns.p.c,d=ns.p.d");
  EXPECT_EQ(env_value(env, "PIPEWRIGHT_MAX_ATTEMPTS"), "2");
  EXPECT_EQ(env_value(env, "PIPEWRIGHT_DEAD_LETTER"), "false");
  // The step's delivery starts from the pipeline's, so the pipeline's backoff still applies.
  EXPECT_EQ(env_value(env, "PIPEWRIGHT_BACKOFF_INITIAL"), "1s");
  EXPECT_EQ(env_value(env, "PIPEWRIGHT_CONFIG"), "/tmp/run/s.json");
  EXPECT_EQ(env_value(env, "PIPEWRIGHT_KAFKA_SECRET_DIR"), "/etc/pipewright/kafka");
  EXPECT_EQ(env.back().first, "PIPEWRIGHT_KAFKA_SECRET_DIR");
  EXPECT_EQ(env_value(env, "PIPEWRIGHT_DATA_DIR"), "");  // no storage asked for

  const auto size = env.size();
  set_env(env, "PIPEWRIGHT_HTTP_PORT", "18080");
  set_env(env, "PIPEWRIGHT_EXTRA", "x");
  EXPECT_EQ(env_value(env, "PIPEWRIGHT_HTTP_PORT"), "18080");
  EXPECT_EQ(env.size(), size + 1);

  const auto objects = render(p, options);
  const auto& pod = find(objects, "Deployment", "p-s")["spec"]["template"]["spec"];
  EXPECT_EQ(pod["containers"][0]["image"], "example.com/mine:1");
  EXPECT_FALSE(pod["containers"][0].contains("args"));
  EXPECT_EQ(pod["volumes"][1],
            json::parse(R"({"name": "kafka", "secret": {"secretName": "creds"}})"));
  EXPECT_EQ(
      pod["containers"][0]["volumeMounts"][1],
      json::parse(R"({"name": "kafka", "mountPath": "/etc/pipewright/kafka", "readOnly": true})"));
  EXPECT_EQ(find(objects, "Deployment", "p-s")["metadata"]["labels"]["app.kubernetes.io/name"],
            "custom");
}

TEST(ServiceBackendEnv, TheWorkerContract) {
  const auto ws = mult();
  EXPECT_EQ(service_backend_env(ws, ws.backends[1]),
            (EnvVars{{"PIPEWRIGHT_NAMESPACE", "demo"},
                     {"PIPEWRIGHT_SERVICE", "mult"},
                     {"PIPEWRIGHT_BACKEND", "secondary"},
                     {"PIPEWRIGHT_WORKER", "mult"},
                     {"PIPEWRIGHT_HTTP_PORT", "8080"},
                     {"PIPEWRIGHT_METRICS_PORT", "9090"},
                     {"PIPEWRIGHT_CONFIG", "/etc/pipewright/config.json"},
                     {"PIPEWRIGHT_BASE_PATH", "/mult"}}));
}

TEST(Render, StepDeploymentShape) {
  RenderOptions options;
  options.worker_image = "registry.local/pipewright-worker:1.2";
  const auto p = example_pipeline("images");
  const auto objects = render(p, options);
  const auto& d = find(objects, "Deployment", "images-rotate");
  EXPECT_EQ(d["apiVersion"], "apps/v1");
  EXPECT_EQ(d["spec"]["replicas"], 2);
  const auto& pod = d["spec"]["template"]["spec"];
  ASSERT_EQ(pod["containers"].size(), 1u);
  const auto& c = pod["containers"][0];
  EXPECT_EQ(c["name"], "worker");
  EXPECT_EQ(c["image"], "registry.local/pipewright-worker:1.2");
  EXPECT_EQ(c["args"], json::array({"rotate"}));
  EXPECT_EQ(c["ports"], json::parse(R"([{"name": "http", "containerPort": 8080},
                                        {"name": "metrics", "containerPort": 9090}])"));
  EXPECT_EQ(c["readinessProbe"]["httpGet"], json::parse(R"({"path": "/readyz", "port": "http"})"));
  EXPECT_EQ(c["livenessProbe"]["httpGet"], json::parse(R"({"path": "/healthz", "port": "http"})"));
  EXPECT_EQ(c["volumeMounts"], json::parse(R"([{"name": "config", "mountPath": "/etc/pipewright",
      "readOnly": true}, {"name": "data", "mountPath": "/data"},
      {"name": "tmp", "mountPath": "/tmp"}])"));
  EXPECT_EQ(pod["volumes"],
            json::parse(R"([{"name": "config", "configMap": {"name": "images-rotate"}},
      {"name": "data", "persistentVolumeClaim": {"claimName": "images-data"}},
      {"name": "tmp", "emptyDir": {}}])"));
  EXPECT_EQ(pod_annotation(d, "prometheus.io/scrape"), "true");
  EXPECT_EQ(pod_annotation(d, "prometheus.io/port"), "9090");
  // notify asks for no storage: no data volume for it (config and /tmp only).
  const auto& notify = find(objects, "Deployment", "images-notify")["spec"]["template"]["spec"];
  EXPECT_EQ(notify["volumes"].size(), 2u);

  const auto& cm = find(objects, "ConfigMap", "images-rotate");
  EXPECT_EQ(json::parse(cm["data"]["config.json"].get<std::string>()), p.steps[1].config);

  const auto& svc = find(objects, "Service", "images-upload");
  EXPECT_EQ(svc["spec"]["ports"],
            json::parse(R"([{"name": "http", "port": 80, "targetPort": "http"},
      {"name": "metrics", "port": 9090, "targetPort": "metrics"}])"));
  EXPECT_EQ(find(objects, "PersistentVolumeClaim", "images-data")["spec"],
            json::parse(R"({"accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": "1Gi"}}})"));
}

TEST(Render, IngressRoutesEveryExposedStep) {
  auto p = example_pipeline("orders");
  const auto plain = find(render(p, {}), "Ingress", "orders");
  EXPECT_EQ(plain["apiVersion"], "networking.k8s.io/v1");
  EXPECT_EQ(plain["spec"], json::parse(R"({"rules": [{"http": {"paths": [
      {"path": "/orders", "pathType": "Prefix",
       "backend": {"service": {"name": "orders-api", "port": {"name": "http"}}}},
      {"path": "/audit", "pathType": "Prefix",
       "backend": {"service": {"name": "orders-audit", "port": {"name": "http"}}}}]}}]})"));
  p.ingress = api::Ingress{"kong", "demo.example.com", "demo-tls"};
  const auto spec = find(render(p, {}), "Ingress", "orders")["spec"];
  EXPECT_EQ(spec["ingressClassName"], "kong");
  EXPECT_EQ(spec["rules"][0]["host"], "demo.example.com");
  EXPECT_EQ(spec["tls"],
            json::parse(R"([{"hosts": ["demo.example.com"], "secretName": "demo-tls"}])"));

  p.storage.storage_class_name = "fast";
  EXPECT_EQ(find(render(p, {}), "PersistentVolumeClaim", "orders-data")["spec"]["storageClassName"],
            "fast");
  for (auto& s : p.steps)
    s.expose_path.clear();
  p.storage.size.clear();
  for (const auto& o : render(p, {})) {
    EXPECT_NE(o["kind"], "Ingress");
    EXPECT_NE(o["kind"], "Service");
    EXPECT_NE(o["kind"], "PersistentVolumeClaim");
  }
}

TEST(Render, WeightedServiceShape) {
  RenderOptions options;
  options.router_image = "nginx:1.22";
  auto ws = mult();
  ws.backends[0].replicas = 3;
  const auto objects = render(ws, options);
  const auto& primary = find(objects, "Deployment", "mult-primary");
  EXPECT_EQ(primary["spec"]["replicas"], 3);
  const auto& c = primary["spec"]["template"]["spec"]["containers"][0];
  EXPECT_EQ(c["args"], json::array({"mult"}));
  EXPECT_EQ(c["ports"][0], json::parse(R"({"name": "http", "containerPort": 8080})"));
  EXPECT_EQ(c["readinessProbe"]["httpGet"]["path"], "/readyz");
  EXPECT_EQ(find(objects, "Service", "mult-primary")["spec"]["ports"][0],
            json::parse(R"({"name": "http", "port": 8080, "targetPort": "http"})"));

  const auto& cm = find(objects, "ConfigMap", "mult-router");
  const auto conf = cm["data"]["nginx.conf"].get<std::string>();
  EXPECT_NE(conf.find("events {"), std::string::npos) << conf;
  EXPECT_NE(conf.find("http {"), std::string::npos) << conf;
  EXPECT_NE(conf.find("server mult-primary.demo.svc.cluster.local:8080 weight=3"),
            std::string::npos)
      << conf;
  EXPECT_NE(conf.find("server mult-standby.demo.svc.cluster.local:8080 backup"), std::string::npos)
      << conf;
  EXPECT_NE(conf.find("listen 8080;"), std::string::npos) << conf;

  const auto& router = find(objects, "Deployment", "mult-router");
  const auto& rc = router["spec"]["template"]["spec"]["containers"][0];
  EXPECT_EQ(rc["image"], "nginx:1.22");
  EXPECT_EQ(rc["volumeMounts"][0]["mountPath"], "/etc/nginx/nginx.conf");
  EXPECT_EQ(router["spec"]["template"]["spec"]["volumes"][0]["configMap"]["name"], "mult-router");
  EXPECT_EQ(find(objects, "Service", "mult")["spec"],
            json::parse(R"({"ports": [{"name": "http", "port": 80, "targetPort": "http"}],
                "selector": {"app.kubernetes.io/component": "router",
                             "pipewright.io/weightedservice": "mult"}})"));
  EXPECT_EQ(find(objects, "Ingress", "mult")["spec"]["rules"][0]["http"]["paths"][0]["backend"],
            json::parse(R"({"service": {"name": "mult", "port": {"name": "http"}}})"));
}

TEST(Render, HttpRouteCarriesTheWeightsButNoBackup) {
  auto ws = mult();
  ws.gateway = api::GatewayRef{"public", "gateways"};
  const auto objects = render(ws, {});
  ASSERT_EQ(objects.back()["kind"], "HTTPRoute");
  const auto& route = objects.back();
  EXPECT_EQ(route["apiVersion"], "gateway.networking.k8s.io/v1");
  EXPECT_EQ(route["spec"], json::parse(R"({
      "parentRefs": [{"name": "public", "namespace": "gateways"}],
      "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/mult"}}],
                 "backendRefs": [{"name": "mult-primary", "port": 8080, "weight": 3},
                                 {"name": "mult-secondary", "port": 8080, "weight": 1}]}]})"));
}

TEST(Render, SameInputSameBytes) {
  const auto p = example_pipeline("events");
  EXPECT_EQ(to_yaml(render(p, {})), to_yaml(render(p, {})));
  EXPECT_EQ(to_yaml(render(mult(), {})), to_yaml(render(mult(), {})));
}

TEST(Render, HashesMoveWithWhatTheyCover) {
  const auto base = example_pipeline("images");
  const auto before = render(base, {});

  auto scaled = base;
  scaled.steps[1].replicas = 3;
  const auto after_scale = render(scaled, {});
  EXPECT_NE(annotation(find(after_scale, "Deployment", "images-rotate"), kSpecHash),
            annotation(find(before, "Deployment", "images-rotate"), kSpecHash));
  EXPECT_EQ(annotation(find(after_scale, "ConfigMap", "images-rotate"), kSpecHash),
            annotation(find(before, "ConfigMap", "images-rotate"), kSpecHash));
  EXPECT_EQ(pod_annotation(find(after_scale, "Deployment", "images-rotate"), kConfigHash),
            pod_annotation(find(before, "Deployment", "images-rotate"), kConfigHash));

  auto reconfigured = base;
  reconfigured.steps[1].config["angle"] = 180;
  const auto after_config = render(reconfigured, {});
  EXPECT_NE(annotation(find(after_config, "ConfigMap", "images-rotate"), kSpecHash),
            annotation(find(before, "ConfigMap", "images-rotate"), kSpecHash));
  // The pods roll: their template changes with the config.
  EXPECT_NE(pod_annotation(find(after_config, "Deployment", "images-rotate"), kConfigHash),
            pod_annotation(find(before, "Deployment", "images-rotate"), kConfigHash));
  EXPECT_EQ(annotation(find(after_config, "Deployment", "images-upload"), kSpecHash),
            annotation(find(before, "Deployment", "images-upload"), kSpecHash));

  const auto ws = mult();
  auto reweighted = ws;
  reweighted.backends[1].weight = 2;
  const auto a = render(ws, {});
  const auto b = render(reweighted, {});
  EXPECT_NE(annotation(find(a, "ConfigMap", "mult-router"), kSpecHash),
            annotation(find(b, "ConfigMap", "mult-router"), kSpecHash));
  EXPECT_NE(pod_annotation(find(a, "Deployment", "mult-router"), kConfigHash),
            pod_annotation(find(b, "Deployment", "mult-router"), kConfigHash));
  // Backends do not read nginx.conf: a weight change leaves them alone.
  EXPECT_EQ(annotation(find(a, "Deployment", "mult-secondary"), kSpecHash),
            annotation(find(b, "Deployment", "mult-secondary"), kSpecHash));
}

TEST(SpecHash, IgnoresStatusAndItsOwnAnnotation) {
  const auto o = render(mult(), {}).front();
  const auto hash = annotation(o, kSpecHash);
  EXPECT_TRUE(std::regex_match(hash, std::regex("[0-9a-f]{64}"))) << hash;
  auto with_status = o;
  with_status["status"] = {{"readyReplicas", 1}};
  EXPECT_EQ(spec_hash(with_status), hash);
  auto bare = o;
  bare["metadata"].erase("annotations");
  EXPECT_EQ(spec_hash(bare), hash);
  auto edited = o;
  edited["metadata"]["annotations"]["someone/else"] = "x";
  EXPECT_NE(spec_hash(edited), hash);
}

TEST(NginxConfig, TheMultExample) {
  const auto ws = mult();
  int port = 9000;
  const auto conf = nginx_config(
      ws, [&](const api::Backend&) { return "127.0.0.1:" + std::to_string(++port); },
      "127.0.0.1:8080");
  for (const char* line :
       {"upstream demo_mult {\n",
        "  server 127.0.0.1:9001 weight=3 max_fails=1 fail_timeout=10s;\n",
        "  server 127.0.0.1:9002 weight=1 max_fails=1 fail_timeout=10s;\n",
        "  server 127.0.0.1:9003 backup max_fails=1 fail_timeout=10s;\n", "  keepalive 32;\n",
        "  listen 127.0.0.1:8080;\n", "  location = /healthz {\n", "    return 200;\n",
        "    proxy_pass http://demo_mult;\n", "    proxy_http_version 1.1;\n",
        "    proxy_set_header Connection \"\";\n", "    proxy_connect_timeout 1s;\n",
        "    proxy_read_timeout 1s;\n", "    proxy_send_timeout 1s;\n",
        "    proxy_next_upstream error timeout http_502 http_503 http_504 non_idempotent;\n",
        "    proxy_next_upstream_tries 0;\n"}) {
    EXPECT_NE(conf.find(line), std::string::npos) << "missing " << line << "in:\n" << conf;
  }
}

// A service of someone else's image may not be safe to send a POST twice; its own read timeout
// replaces the connect timeout's.
TEST(NginxConfig, AnImageIsNotRetriedAfterItGotTheRequest) {
  auto ws = mult();
  ws.worker.clear();
  ws.image = "registry.local/pricing:2";
  ws.health.read_timeout = "30s";
  const auto conf = nginx_config(
      ws, [](const api::Backend&) { return std::string("10.0.0.1:80"); }, "8080");
  EXPECT_NE(conf.find("    proxy_read_timeout 30s;\n"), std::string::npos) << conf;
  EXPECT_NE(conf.find("    proxy_connect_timeout 1s;\n"), std::string::npos) << conf;
  EXPECT_EQ(conf.find("non_idempotent"), std::string::npos) << conf;
}

// What a YAML reader makes of a node, by YAML 1.2 core rules (quoted scalars stay strings).
json from_yaml(const YAML::Node& n) {
  if (n.IsMap()) {
    json o = json::object();
    for (const auto& kv : n)
      o[kv.first.as<std::string>()] = from_yaml(kv.second);
    return o;
  }
  if (n.IsSequence()) {
    json a = json::array();
    for (const auto& item : n)
      a.push_back(from_yaml(item));
    return a;
  }
  if (n.IsNull()) return nullptr;
  const auto s = n.as<std::string>();
  if (n.Tag() == "!") return s;
  if (s == "true" || s == "false") return s == "true";
  if (std::regex_match(s, std::regex(R"([-+]?[0-9]+)"))) return std::stoll(s);
  if (std::regex_match(s, std::regex(R"([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?)")))
    return std::stod(s);
  return s;
}

TEST(ToYaml, ReadsBackAsTheSameJson) {
  const json tricky = {{"apiVersion", "v1"},
                       {"kind", "ConfigMap"},
                       {"metadata", {{"name", "x"}}},
                       {"strings",
                        {"8080",
                         "true",
                         "no",
                         "on",
                         "null",
                         "~",
                         "",
                         "1e3",
                         "0x1F",
                         "-1",
                         ".5",
                         ".inf",
                         "-",
                         "a: b",
                         "#x",
                         "- y",
                         "{z}",
                         "200ms",
                         "1Gi",
                         "plain",
                         "multi\nline\n",
                         "  indented\nx\n",
                         "no final newline\nx",
                         "two\n\n",
                         "tab\tand \"quotes\"\n"}},
                       {"numbers", {1, -2, 3.5, 10000000000LL}},
                       {"flags", {true, false}},
                       {"nothing", nullptr},
                       {"empty", json::object()},
                       {"none", json::array()},
                       {"8080", "a numeric key"}};
  const auto second = render(mult(), {}).front();
  const auto text = to_yaml({tricky, second});
  const auto docs = YAML::LoadAll(text);
  ASSERT_EQ(docs.size(), 2u) << text;
  EXPECT_EQ(from_yaml(docs[0]), tricky) << text;
  EXPECT_EQ(from_yaml(docs[1]), second) << text;
  EXPECT_EQ(text.rfind("apiVersion: v1\nkind: ConfigMap\nmetadata:\n", 0), 0u) << text;
}

}  // namespace
}  // namespace pipewright::plan

namespace pipewright::plan {
namespace {

TEST(Quantity, RenderedSizesAreInTheFormTheApiServerStores) {
  EXPECT_EQ(canonical_quantity("1Gi"), "1Gi");
  EXPECT_EQ(canonical_quantity("1024Mi"), "1Gi");
  EXPECT_EQ(canonical_quantity("1.5Gi"), "1536Mi");
  EXPECT_EQ(canonical_quantity("1000M"), "1G");
  EXPECT_EQ(canonical_quantity("1500M"), "1500M");
  EXPECT_EQ(canonical_quantity("0.5G"), "500M");
  EXPECT_EQ(canonical_quantity("1073741824"), "1073741824");
  EXPECT_EQ(canonical_quantity("2048"), "2048");
  EXPECT_EQ(canonical_quantity("0.5Ki"), "512");
  EXPECT_EQ(canonical_quantity("0.1Ki"), "0.1Ki");  // 102.4 bytes: left for the server
}

}  // namespace
// What a namespace with `pod-security.kubernetes.io/enforce: restricted` demands of every pod, a
// read-only root, and requests/limits: the operator's defaults, or a step's or backend's own.
TEST(Render, EveryDeploymentRunsAsTheRestrictedStandardDemands) {
  RenderOptions options;
  options.worker_resources = {{{"cpu", "50m"}, {"memory", "64Mi"}}, {{"memory", "512Mi"}}};
  options.router_resources = {{{"cpu", "20m"}}, {{"memory", "128Mi"}}};
  auto p = example_pipeline("images");
  p.steps[1].resources = api::Resources{{{"cpu", "500m"}, {"memory", "1024Mi"}}, {}};
  auto ws = api::load({testing::source_dir() / "examples" / "mult.yaml"}).weighted_services.at(0);
  ws.backends[1].resources = api::Resources{{}, {{"memory", "1Gi"}}};
  auto objects = render(p, options);
  const auto services = render(ws, options);
  objects.insert(objects.end(), services.begin(), services.end());
  int deployments = 0;
  for (const auto& o : objects) {
    if (o["kind"] != "Deployment") continue;
    ++deployments;
    const auto name = o["metadata"]["name"].get<std::string>();
    const auto& pod = o["spec"]["template"]["spec"];
    EXPECT_EQ(pod["automountServiceAccountToken"], false) << name;
    EXPECT_EQ(pod["securityContext"]["runAsNonRoot"], true) << name;
    EXPECT_EQ(pod["securityContext"]["runAsUser"], 65532) << name;
    EXPECT_EQ(pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault") << name;
    const auto& c = pod["containers"][0];
    EXPECT_EQ(c["securityContext"]["allowPrivilegeEscalation"], false) << name;
    EXPECT_EQ(c["securityContext"]["readOnlyRootFilesystem"], true) << name;
    EXPECT_EQ(c["securityContext"]["capabilities"]["drop"], json::array({"ALL"})) << name;
    EXPECT_EQ(c["imagePullPolicy"], "IfNotPresent") << name;
    EXPECT_NE(c["volumeMounts"].dump().find("\"/tmp\""), std::string::npos) << name;
    json expected = {{"requests", {{"cpu", "50m"}, {"memory", "64Mi"}}},
                     {"limits", {{"memory", "512Mi"}}}};
    if (name == "images-rotate") expected = {{"requests", {{"cpu", "500m"}, {"memory", "1Gi"}}}};
    if (name == "mult-secondary") expected = {{"limits", {{"memory", "1Gi"}}}};
    if (name == "mult-router")
      expected = {{"requests", {{"cpu", "20m"}}}, {"limits", {{"memory", "128Mi"}}}};
    EXPECT_EQ(c["resources"], expected) << name;
  }
  EXPECT_EQ(deployments, 8);
  EXPECT_EQ(find(services, "Deployment",
                 "mult-router")["spec"]["template"]["spec"]["containers"][0]["image"],
            "pipewright/router:latest");
}

// The router runs as a non-root user on a read-only root: nothing of nginx's goes elsewhere.
TEST(Render, TheRouterKeepsItsFilesInTmp) {
  const auto ws =
      api::load({testing::source_dir() / "examples" / "mult.yaml"}).weighted_services.at(0);
  const auto conf =
      find(render(ws, RenderOptions{}), "ConfigMap", "mult-router")["data"]["nginx.conf"]
          .get<std::string>();
  for (const char* line :
       {"pid /tmp/nginx.pid;", "error_log stderr;", "access_log off;",
        "client_body_temp_path /tmp/client_body;", "proxy_temp_path /tmp/proxy;"})
    EXPECT_NE(conf.find(line), std::string::npos) << line << "\n" << conf;
}

// Credentials never reach a ConfigMap: the notify step's secretRefs become secretKeyRef env.
TEST(Render, NotifySecretRefsBecomeSecretKeyRefEnvironment) {
  auto p = example_pipeline("images");
  auto& notify = p.steps.at(3);
  notify.config["smtp"] = {{"host", "mail.example.com"}, {"secretRef", "mail-login"}};
  notify.config["telegram"] = {{"chatId", "1"}, {"secretRef", "bot"}};
  const auto objects = render(p, RenderOptions{});
  const auto& env = find(objects, "Deployment",
                         "images-notify")["spec"]["template"]["spec"]["containers"][0]["env"];
  const auto secret_env = [&](const std::string& name) {
    for (const auto& e : env)
      if (e["name"] == name)
        return e.value("valueFrom", json::object()).value("secretKeyRef", json());
    return json();
  };
  EXPECT_EQ(secret_env("PIPEWRIGHT_SMTP_USERNAME"),
            json({{"name", "mail-login"}, {"key", "username"}}));
  EXPECT_EQ(secret_env("PIPEWRIGHT_SMTP_PASSWORD"),
            json({{"name", "mail-login"}, {"key", "password"}}));
  EXPECT_EQ(secret_env("PIPEWRIGHT_TELEGRAM_TOKEN"), json({{"name", "bot"}, {"key", "token"}}));
  // Other steps get none.
  const auto& rotate = find(objects, "Deployment",
                            "images-rotate")["spec"]["template"]["spec"]["containers"][0]["env"];
  EXPECT_EQ(rotate.dump().find("secretKeyRef"), std::string::npos);
}

}  // namespace pipewright::plan
