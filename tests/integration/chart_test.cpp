// The Helm chart as a platform team installs it: helm lint; its values schema refuses wrong
// types; default and unusual values render objects the real API server accepts (with the
// Prometheus Operator's CRDs installed, for the monitoring objects); with watchNamespaces the
// operator's ServiceAccount may do its work there and nothing elsewhere; the aggregated roles
// give a namespace's editors Pipelines; the documented CRD upgrade command works.

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "pkg/local/tools.h"
#include "pkg/proc/net.h"
#include "pkg/proc/run.h"
#include "tests/support/control_plane.h"
#include "tests/support/operator.h"
#include "tests/support/shared.h"
#include "tests/support/suite_logs.h"

namespace pipewright {
namespace {

using std::chrono::seconds;

const std::filesystem::path& chart() {
  static const auto dir = testing::source_dir() / "deploy" / "helm" / "pipewright";
  return dir;
}

proc::RunResult helm(std::vector<std::string> args) {
  args.insert(args.begin(), local::cached_tool("helm").string());
  return proc::run(args, seconds(60));
}

// `helm template` into a folder of its own (helm warns about the crds symlink on stderr, so its
// stdout is read from files); returns the templates folder.
std::filesystem::path render(const std::string& name, const std::vector<std::string>& sets) {
  const auto out = testing::suite_dir() / ("render-" + name);
  std::filesystem::remove_all(out);
  std::vector<std::string> args = {"template",
                                   "pipewright",
                                   chart().string(),
                                   "--namespace",
                                   testing::kOperatorNamespace,
                                   "--kube-version",
                                   PIPEWRIGHT_K8S_VERSION,
                                   "--output-dir",
                                   out.string()};
  for (const auto& s : sets)
    args.insert(args.end(), {"--set", s});
  const auto r = helm(args);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return out / "pipewright" / "templates";
}

class Chart : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    plane.start([] {
      testing::ControlPlane::Options options;
      // Aggregated ClusterRoles are filled in by this controller of kube-controller-manager.
      options.controllers = "clusterrole-aggregation-controller,namespace-controller";
      auto cp = testing::ControlPlane::start(options);
      testing::install_crds(*cp);
      const auto mon = local::cached_tool("helm").parent_path().parent_path() / "monitoring-crds";
      auto r = cp->kubectl({"apply", "--server-side", "-f", mon.string()});
      if (r.exit_code != 0) throw std::runtime_error("monitoring CRDs: " + r.output);
      r = cp->kubectl({"wait", "--for", "condition=established", "--timeout=60s",
                       "crd/servicemonitors.monitoring.coreos.com",
                       "crd/podmonitors.monitoring.coreos.com",
                       "crd/prometheusrules.monitoring.coreos.com"});
      if (r.exit_code != 0) throw std::runtime_error("monitoring CRDs: " + r.output);
      for (const char* ns : {testing::kOperatorNamespace, "team-a", "team-b", "team-c"})
        cp->kubectl({"create", "namespace", ns});
      return cp;
    });
  }
  static void TearDownTestSuite() { plane.reset(); }
  void SetUp() override { ASSERT_TRUE(plane) << plane.error; }

  static std::string can_i(const std::string& as, const std::vector<std::string>& what) {
    std::vector<std::string> args = {"auth", "can-i"};
    args.insert(args.end(), what.begin(), what.end());
    args.insert(args.end(), {"--as", as});
    const auto r = plane->kubectl(args);
    return r.output.substr(0, r.output.find('\n'));  // "yes" or "no" (exit 1 with "no")
  }
  static inline testing::Shared<testing::ControlPlane> plane;
};

constexpr const char* kOperatorSa = "system:serviceaccount:pipewright-system:pipewright-operator";

TEST_F(Chart, LintsAndItsSchemaRefusesWrongValues) {
  const auto lint = helm({"lint", chart().string()});
  EXPECT_EQ(lint.exit_code, 0) << lint.output;
  for (const auto& [set, words] : std::vector<std::pair<std::string, std::string>>{
           {"replicas=two", "/replicas': got string, want integer"},
           {"watchNamespaces=demo", "/watchNamespaces': got string, want array"},
           {"workerImage=", "/workerImage"},
           {"image.pullPolicy=Sometimes", "/image/pullPolicy"},
           {"serviceMonitor.interval=often", "/serviceMonitor/interval"},
           {"replica=2", "additional properties 'replica' not allowed"}}) {
    const auto r = helm({"template", "x", chart().string(), "--kube-version",
                         PIPEWRIGHT_K8S_VERSION, "--set", set});
    EXPECT_NE(r.exit_code, 0) << set;
    EXPECT_NE(r.output.find(words), std::string::npos) << set << ": " << r.output;
  }
}

TEST_F(Chart, DefaultAndUnusualValuesPassTheApiServer) {
  const std::string term =
      "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]";
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
      {"default", {}},
      {"unusual",
       {"watchNamespaces={team-a,team-b}",
        "replicas=3",
        "podDisruptionBudget.minAvailable=50%",
        "serviceAccount.annotations.example\\.com/role=ops",
        "podAnnotations.a=b",
        "podLabels.team=platform",
        "nodeSelector.kubernetes\\.io/os=linux",
        "tolerations[0].key=dedicated",
        "tolerations[0].operator=Exists",
        "tolerations[0].effect=NoSchedule",
        "priorityClassName=system-cluster-critical",
        "imagePullSecrets[0].name=my-registry",
        term + ".matchExpressions[0].key=kubernetes.io/arch",
        term + ".matchExpressions[0].operator=Exists",
        "topologySpreadConstraints[0].maxSkew=2",
        "topologySpreadConstraints[0].topologyKey=topology.kubernetes.io/zone",
        "topologySpreadConstraints[0].whenUnsatisfiable=DoNotSchedule",
        "serviceMonitor.enabled=true",
        "serviceMonitor.labels.release=prom",
        "podMonitor.enabled=true",
        "prometheusRule.enabled=true",
        "grafanaDashboard.enabled=true",
        "defaultBootstrapServers=kafka.kafka:9092"}},
      {"minimal",
       {"replicas=1", "leaderElect=false", "serviceAccount.create=false",
        "rbac.aggregateToDefaultRoles=false", "podDisruptionBudget.enabled=false"}}};
  for (const auto& [name, sets] : cases) {
    const auto dir = render(name, sets);
    const auto r = plane->kubectl({"apply", "--dry-run=server", "-f", dir.string()});
    EXPECT_EQ(r.exit_code, 0) << name << ":\n" << r.output;
    const auto has = [&](const std::string& file) { return std::filesystem::exists(dir / file); };
    if (name == "unusual") {
      for (const char* f : {"servicemonitor.yaml", "podmonitor.yaml", "prometheusrule.yaml",
                            "grafana-dashboard.yaml", "poddisruptionbudget.yaml"})
        EXPECT_TRUE(has(f)) << f;
      EXPECT_NE(r.output.find("prometheusrule.monitoring.coreos.com/pipewright-alerts created"),
                std::string::npos)
          << r.output;
    }
    if (name == "minimal") {
      EXPECT_FALSE(has("serviceaccount.yaml"));
      EXPECT_FALSE(has("poddisruptionbudget.yaml"));
    }
  }
}

TEST_F(Chart, WatchNamespacesGivesTheOperatorThoseNamespacesOnly) {
  const auto dir = render("watch", {"watchNamespaces={team-a,team-b}"});
  auto r = plane->kubectl(
      {"apply", "-f", (dir / "serviceaccount.yaml").string(), "-f", (dir / "rbac.yaml").string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // No ClusterRole for the children: only the aggregated view/edit roles are cluster-wide.
  EXPECT_NE(plane->kubectl({"get", "clusterrole", "pipewright-operator"}).exit_code, 0);
  for (const auto& what :
       std::vector<std::vector<std::string>>{{"create", "deployments.apps"},
                                             {"patch", "services"},
                                             {"delete", "configmaps"},
                                             {"list", "pipelines.pipewright.io"},
                                             {"patch", "pipelines.pipewright.io/status"},
                                             {"create", "ingresses.networking.k8s.io"},
                                             {"get", "secrets"},
                                             {"create", "events"}}) {
    for (const char* ns : {"team-a", "team-b"}) {
      auto in = what;
      in.insert(in.end(), {"-n", ns});
      EXPECT_EQ(can_i(kOperatorSa, in), "yes") << what[0] << " " << what[1] << " in " << ns;
    }
    auto out = what;
    out.insert(out.end(), {"-n", "team-c"});
    EXPECT_EQ(can_i(kOperatorSa, out), "no") << what[0] << " " << what[1] << " in team-c";
  }
  EXPECT_EQ(can_i(kOperatorSa, {"list", "pipelines.pipewright.io", "--all-namespaces"}), "no");
  EXPECT_EQ(can_i(kOperatorSa, {"list", "secrets", "-n", "team-a"}), "no");  // get by name only
  EXPECT_EQ(can_i(kOperatorSa,
                  {"update", "leases.coordination.k8s.io", "-n", testing::kOperatorNamespace}),
            "yes");

  // The operator itself, as that ServiceAccount with the chart's --namespace list: it does its
  // work in both namespaces and leaves the third alone.
  for (const char* ns : {"team-a", "team-b", "team-c"}) {
    const auto file = testing::suite_dir() / (std::string("mult-") + ns + ".yaml");
    std::ifstream in(testing::source_dir() / "examples" / "mult.yaml");
    std::stringstream text;
    text << in.rdbuf();
    auto yaml = text.str();
    yaml.replace(yaml.find("namespace: demo"), 15, std::string("namespace: ") + ns);
    std::ofstream(file) << yaml;
    r = plane->kubectl({"apply", "-f", file.string()});
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  auto op = testing::OperatorProcess::start(testing::operator_kubeconfig(*plane), "127.0.0.1:9",
                                            {"--namespace=team-a,team-b"}, "watching-operator");
  for (const char* ns : {"team-a", "team-b"}) {
    EXPECT_TRUE(proc::poll_until(
        seconds(60),
        [&] {
          return plane->kubectl({"get", "deployment", "mult-router", "-n", ns}).exit_code == 0;
        }))
        << "no router in " << ns << "\n"
        << testing::tail(op->log_file());
  }
  EXPECT_NE(plane->kubectl({"get", "deployment", "mult-router", "-n", "team-c"}).exit_code, 0);
  EXPECT_EQ(plane->kubectl({"get", "deployments", "-n", "team-c", "-o", "name"}).output, "");
  EXPECT_TRUE(op->running());
  EXPECT_EQ(testing::read_file(op->log_file()).find("forbidden"), std::string::npos)
      << testing::tail(op->log_file());
  op->stop();
}

TEST_F(Chart, NamespaceEditorsGetPipelinesThroughTheAggregatedRoles) {
  const auto dir = render("aggregate", {});
  auto r = plane->kubectl({"apply", "-f", (dir / "rbac.yaml").string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = plane->kubectl({"create", "rolebinding", "alice-edit", "-n", "team-a", "--clusterrole=edit",
                      "--user=alice"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = plane->kubectl(
      {"create", "rolebinding", "bob-view", "-n", "team-a", "--clusterrole=view", "--user=bob"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // kube-controller-manager aggregates the labelled ClusterRoles into edit and view.
  EXPECT_TRUE(proc::poll_until(seconds(30), [&] {
    return can_i("alice", {"create", "pipelines.pipewright.io", "-n", "team-a"}) == "yes";
  }));
  EXPECT_TRUE(proc::poll_until(seconds(30), [&] {
    return can_i("bob", {"list", "weightedservices.pipewright.io", "-n", "team-a"}) == "yes";
  }));
  EXPECT_EQ(can_i("bob", {"delete", "pipelines.pipewright.io", "-n", "team-a"}), "no");
  EXPECT_EQ(can_i("alice", {"create", "pipelines.pipewright.io", "-n", "team-b"}), "no");
}

TEST_F(Chart, TheDocumentedCrdUpgradeCommandWorks) {
  // What NOTES.txt and docs say to run before `helm upgrade`: Helm never upgrades crds/.
  const auto file = testing::suite_dir() / "crds.yaml";
  const auto shown = helm({"show", "crds", chart().string()});
  ASSERT_EQ(shown.exit_code, 0) << shown.output;
  std::ofstream(file) << shown.output.substr(shown.output.find("apiVersion:"));
  for (int i = 0; i < 2; ++i) {
    const auto r =
        plane->kubectl({"apply", "--server-side", "--force-conflicts", "-f", file.string()});
    EXPECT_EQ(r.exit_code, 0) << r.output;
  }
  const auto r = plane->kubectl(
      {"get", "crd", "pipelines.pipewright.io", "-o", "jsonpath={.spec.versions[0].name}"});
  EXPECT_EQ(r.output, "v1alpha1");
}

}  // namespace
}  // namespace pipewright
