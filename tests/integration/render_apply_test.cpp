// What plan::render produces is real: a real kube-apiserver accepts every rendered object of every
// example (server-side dry run, strict field validation) and reads our YAML back as the same
// values; children of a live resource carry its uid; `pipewright render` prints YAML kubectl
// applies; and a real nginx runs nginx_config's output, splitting by weight and falling back to the
// backup.

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <map>
#include <memory>

#include "pkg/api/manifest.h"
#include "pkg/plan/render.h"
#include "pkg/proc/run.h"
#include "tests/support/control_plane.h"
#include "tests/support/crd_suite.h"
#include "tests/support/http_client.h"
#include "tests/support/http_server.h"
#include "tests/support/operator.h"
#include "tests/support/servers.h"
#include "tests/support/shared.h"
#include "tests/support/suite_logs.h"

namespace pipewright {
namespace {

using nlohmann::json;

class RenderApply : public testing::CrdSuite {
 protected:
  static std::filesystem::path write(const std::string& name, const std::string& text) {
    const auto file = testing::suite_dir() / name;
    std::ofstream(file) << text;
    return file;
  }
};

std::vector<json> render_all(const api::Manifests& m, const plan::RenderOptions& options) {
  std::vector<json> out;
  for (const auto& p : m.pipelines) {
    auto children = plan::render(p, options);
    out.insert(out.end(), children.begin(), children.end());
  }
  for (const auto& w : m.weighted_services) {
    auto children = plan::render(w, options);
    out.insert(out.end(), children.begin(), children.end());
  }
  return out;
}

std::string key(const json& o) {
  return o["kind"].get<std::string>() + "/" + o["metadata"]["name"].get<std::string>();
}

// The fields whose values only survive when the YAML was read as we meant it (quoted numbers,
// booleans, block literals): they must come back from the server unchanged.
void expect_read_back(const json& ours, const json& server) {
  SCOPED_TRACE(key(ours));
  EXPECT_EQ(server["metadata"]["labels"], ours["metadata"]["labels"]);
  // kubectl adds its last-applied-configuration annotation next to ours.
  for (const auto& [name, value] : ours["metadata"]["annotations"].items())
    EXPECT_EQ(server["metadata"]["annotations"][name], value) << name;
  if (ours["kind"] == "ConfigMap") {
    EXPECT_EQ(server["data"], ours["data"]);
  }
  if (ours["kind"] == "Deployment") {
    const auto& tpl = ours["spec"]["template"];
    const auto& got = server["spec"]["template"];
    EXPECT_EQ(got["metadata"]["annotations"], tpl["metadata"]["annotations"]);
    const auto& container = got["spec"]["containers"][0];
    const auto& ours_container = tpl["spec"]["containers"][0];
    for (const char* field : {"env", "args", "image"})
      EXPECT_EQ(container.value(field, json()), ours_container.value(field, json())) << field;
    EXPECT_EQ(server["spec"]["replicas"], ours["spec"]["replicas"]);
  }
}

TEST_F(RenderApply, EveryExampleRendersToObjectsTheServerAccepts) {
  plan::RenderOptions options;
  options.default_bootstrap_servers = "kafka.kafka:9092";
  for (const auto& entry :
       std::filesystem::directory_iterator(testing::source_dir() / "examples")) {
    SCOPED_TRACE(entry.path().filename().string());
    const auto objects = render_all(api::load({entry.path()}), options);
    ASSERT_FALSE(objects.empty());
    const auto file =
        write(entry.path().stem().string() + ".rendered.yaml", plan::to_yaml(objects));
    const auto r = plane->kubectl(
        {"apply", "--dry-run=server", "--validate=strict", "-o", "json", "-f", file.string()});
    ASSERT_EQ(r.exit_code, 0) << r.output << "\n" << testing::read_file(file);
    const auto list = json::parse(r.output);
    ASSERT_EQ(list["items"].size(), objects.size()) << r.output;
    std::map<std::string, json> by_key;
    for (const auto& item : list["items"])
      by_key[key(item)] = item;
    for (const auto& o : objects) {
      ASSERT_TRUE(by_key.contains(key(o))) << key(o);
      expect_read_back(o, by_key[key(o)]);
    }
  }
}

// spec.networkPolicy's objects as the server reads them: accepted under strict validation and
// read back field for field (named ports, ipBlocks, namespace selectors).
TEST_F(RenderApply, NetworkPoliciesAreAcceptedAndReadBackUnchanged) {
  const auto m = api::parse(R"(apiVersion: pipewright.io/v1alpha1
kind: Pipeline
metadata: {name: shop, namespace: demo}
spec:
  kafka: {bootstrapServers: "10.0.0.5:9092,kafka.kafka:9093"}
  networkPolicy: {enabled: true, ingressNamespace: ingress-nginx}
  topics: [{name: orders}, {name: mails}]
  steps:
    - {name: api, worker: orders-api, outputs: [orders], expose: {path: /orders}}
    - name: notify
      worker: notify
      inputs: [mails]
      config:
        channels: [smtp, webhook]
        smtp: {host: mail.example.com, port: 2525}
        webhook: {url: "https://[fd00::1]:8443/hook"}
)",
                            "shop.yaml");
  const auto objects = render_all(m, {});
  const auto file = write("network-policy.rendered.yaml", plan::to_yaml(objects));
  const auto r = plane->kubectl(
      {"apply", "--dry-run=server", "--validate=strict", "-o", "json", "-f", file.string()});
  ASSERT_EQ(r.exit_code, 0) << r.output << "\n" << testing::read_file(file);
  int policies = 0;
  const auto applied = json::parse(r.output);  // kept: a loop over a temporary's member dangles
  for (const auto& item : applied["items"]) {
    if (item["kind"] != "NetworkPolicy") continue;
    ++policies;
    for (const auto& o : objects) {
      if (key(o) == key(item)) {
        EXPECT_EQ(item["spec"], o["spec"]) << key(o);
      }
    }
  }
  EXPECT_EQ(policies, 2) << r.output;

  // The Pipeline itself passes the CRD's schema with the field set.
  const auto pipeline = write("network-policy.yaml", R"(apiVersion: pipewright.io/v1alpha1
kind: Pipeline
metadata: {name: shop, namespace: demo}
spec:
  networkPolicy: {enabled: true, kafkaCIDRs: [10.20.0.0/16, "fd00::/8"], ingressNamespace: ingress-nginx}
  topics: [{name: orders}]
  steps: [{name: audit, worker: audit, inputs: [orders]}]
)");
  const auto crd =
      plane->kubectl({"apply", "--dry-run=server", "--validate=strict", "-f", pipeline.string()});
  EXPECT_EQ(crd.exit_code, 0) << crd.output;
}

TEST_F(RenderApply, ChildrenOfALiveResourceAreOwnedByIt) {
  const auto example = (testing::source_dir() / "examples" / "mult.yaml").string();
  ASSERT_EQ(plane->kubectl({"apply", "-f", example}).exit_code, 0);
  const auto got = plane->kubectl({"get", "ws", "mult", "-n", "demo", "-o", "json"});
  ASSERT_EQ(got.exit_code, 0) << got.output;
  const auto live = json::parse(got.output);
  const auto ws = api::weighted_service_from_json(live);
  ASSERT_EQ(ws.meta.uid, live["metadata"]["uid"]);

  const auto objects = plan::render(ws, {});
  const auto file = write("mult.owned.yaml", plan::to_yaml(objects));
  const auto applied = plane->kubectl({"apply", "-f", file.string()});
  ASSERT_EQ(applied.exit_code, 0) << applied.output;
  for (const auto& o : objects) {
    const auto r =
        plane->kubectl({"get", o["kind"].get<std::string>(),
                        o["metadata"]["name"].get<std::string>(), "-n", "demo", "-o", "json"});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const auto server = json::parse(r.output);
    const auto& ref = server["metadata"]["ownerReferences"][0];
    EXPECT_EQ(ref["uid"], ws.meta.uid) << key(o);
    EXPECT_EQ(ref["kind"], "WeightedService");
    EXPECT_EQ(ref["controller"], true);
    EXPECT_EQ(server["metadata"]["annotations"][plan::kSpecHash],
              o["metadata"]["annotations"][plan::kSpecHash]);
  }
  // Rendering the same live resource again gives the same bytes, so nothing would be rewritten.
  EXPECT_EQ(plan::to_yaml(plan::render(api::weighted_service_from_json(live), {})),
            plan::to_yaml(objects));
  plane->kubectl({"delete", "-f", file.string(), "--wait=false"});
  plane->kubectl({"delete", "-f", example, "--wait=false"});
}

proc::RunResult cli(std::vector<std::string> args) {
  args.insert(args.begin(), PIPEWRIGHT_CLI);
  return proc::run(args, std::chrono::seconds(60));
}

TEST_F(RenderApply, TheRenderCommandPrintsWhatKubectlApplies) {
  const auto r =
      cli({"render", "-f", (testing::source_dir() / "examples").string(), "--worker-image",
           "registry.local/pipewright-worker:9", "--default-bootstrap-servers=kafka.kafka:9092"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("image: registry.local/pipewright-worker:9\n"), std::string::npos);
  EXPECT_NE(r.output.find("value: kafka.kafka:9092\n"), std::string::npos);
  const auto file = write("cli.rendered.yaml", r.output);
  const auto applied =
      plane->kubectl({"apply", "--dry-run=server", "--validate=strict", "-f", file.string()});
  ASSERT_EQ(applied.exit_code, 0) << applied.output;
  for (const char* line : {"configmap/images-rotate created (server dry run)",
                           "deployment.apps/images-rotate created (server dry run)",
                           "ingress.networking.k8s.io/orders created (server dry run)",
                           "persistentvolumeclaim/orders-data created (server dry run)",
                           "deployment.apps/events-enrich created (server dry run)",
                           "configmap/mult-router created (server dry run)"}) {
    EXPECT_NE(applied.output.find(line), std::string::npos) << line << " in:\n" << applied.output;
  }
}

TEST_F(RenderApply, TheRenderCommandNamesTheFileLineAndField) {
  const auto bad = write("bad.yaml",
                         "apiVersion: pipewright.io/v1alpha1\nkind: Pipeline\n"
                         "metadata: {name: p}\nspec:\n  steps:\n    - {name: s, worker: rotat}\n");
  const auto r = cli({"render", "-f", bad.string()});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("bad.yaml:6: spec.steps[0].worker:"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("apiVersion"), std::string::npos) << r.output;
  const auto flag = cli({"validate", "-f", bad.string(), "--worker-image", "x"});
  EXPECT_EQ(flag.exit_code, 2);
  EXPECT_NE(flag.output.find("unknown flag '--worker-image'"), std::string::npos) << flag.output;
}

// A real nginx with the mult example's config: 3:1 between the weighted backends, nothing to the
// backup while they answer, the backup once they fail (503, as a worker that is not ready does).
TEST(RenderNginx, TheMultRouterWorksInARealNginx) {
  const auto ws =
      api::load({testing::source_dir() / "examples" / "mult.yaml"}).weighted_services.at(0);
  std::atomic<bool> failing{false};
  std::map<std::string, std::unique_ptr<testing::HttpServer>> backends;
  for (const auto& b : ws.backends) {
    backends[b.name] = std::make_unique<testing::HttpServer>(
        [&failing, name = b.name](const testing::TestRequest&) {
          if (failing && name != "standby") return testing::TestResponse{503, "text/plain", "down"};
          return testing::TestResponse{200, "text/plain", name};
        });
  }
  const auto conf = plan::nginx_config(
      ws,
      [&](const api::Backend& b) {
        return "127.0.0.1:" + std::to_string(backends.at(b.name)->port());
      },
      "127.0.0.1:{{port}}");
  const auto nginx = testing::Nginx::start(conf);

  EXPECT_EQ(testing::http_get(nginx->url() + "/healthz").status, 200);
  std::map<std::string, int> served;
  for (int i = 0; i < 8; ++i) {
    const auto r = testing::http_get(nginx->url() + "/mult?op1=6&op2=7");
    ASSERT_EQ(r.status, 200) << r.error << r.body;
    ++served[r.body];
  }
  EXPECT_EQ(served["primary"], 6);
  EXPECT_EQ(served["secondary"], 2);
  EXPECT_EQ(backends.at("standby")->requests(), 0);

  failing = true;
  for (int i = 0; i < 3; ++i) {
    const auto r = testing::http_get(nginx->url() + "/mult?op1=6&op2=7");
    EXPECT_EQ(r.status, 200) << r.error << r.body;
    EXPECT_EQ(r.body, "standby");
  }
  // max_fails=1: each weighted backend was tried once, then left alone for fail_timeout.
  EXPECT_EQ(backends.at("primary")->requests(), 7);
  EXPECT_EQ(backends.at("secondary")->requests(), 3);
}

}  // namespace
}  // namespace pipewright
