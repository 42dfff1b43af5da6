#include "tests/support/operator.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "pkg/kube/rest.h"
#include "pkg/local/tools.h"
#include "pkg/proc/net.h"
#include "pkg/proc/run.h"
#include "tests/support/http_client.h"
#include "tests/support/suite_logs.h"

namespace pipewright::testing {

namespace {

void must(const proc::RunResult& r, const std::string& what) {
  if (r.exit_code != 0) throw std::runtime_error(what + ": " + r.output);
}

}  // namespace

void install_crds(const ControlPlane& plane) {
  must(plane.kubectl({"apply", "-f", (source_dir() / "crds").string()}), "kubectl apply crds/");
  must(plane.kubectl({"wait", "--for", "condition=established", "--timeout=60s",
                      "crd/pipelines.pipewright.io", "crd/weightedservices.pipewright.io"}),
       "CRDs not established");
}

void install_crds_and_rbac(const ControlPlane& plane) {
  install_crds(plane);
  plane.kubectl({"create", "namespace", kOperatorNamespace});
  // --output-dir: helm warns on stderr about the chart's crds symlink, so its stdout with
  // stderr is not YAML.
  const auto out = suite_dir() / "chart";
  must(proc::run({local::cached_tool("helm").string(), "template", "pipewright",
                  (source_dir() / "deploy" / "helm" / "pipewright").string(), "--namespace",
                  kOperatorNamespace, "--kube-version", PIPEWRIGHT_K8S_VERSION, "--output-dir",
                  out.string()}),
       "helm template");
  const auto templates = out / "pipewright" / "templates";
  must(plane.kubectl({"apply", "-f", (templates / "serviceaccount.yaml").string(), "-f",
                      (templates / "rbac.yaml").string()}),
       "kubectl apply rbac");
}

std::filesystem::path operator_kubeconfig(const ControlPlane& plane) {
  kube::Rest rest(plane.admin());
  const auto r = rest.request(
      "POST",
      std::string("/api/v1/namespaces/") + kOperatorNamespace +
          "/serviceaccounts/pipewright-operator/token",
      R"({"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"expirationSeconds":7200}})");
  if (r.status != 201)
    throw std::runtime_error("TokenRequest: " + std::to_string(r.status) + " " + r.body);
  const std::string token = r.json()["status"]["token"];
  const auto path = suite_dir() / "operator.kubeconfig";
  std::ofstream(path) << "apiVersion: v1\nkind: Config\ncurrent-context: operator\n"
                      << "clusters:\n- name: test\n  cluster:\n    server: " << plane.server()
                      << "\n    certificate-authority: " << plane.ca_file().string() << "\n"
                      << "users:\n- name: operator\n  user:\n    token: " << token << "\n"
                      << "contexts:\n- name: operator\n  context:\n    cluster: test\n"
                      << "    user: operator\n";
  return path;
}

std::unique_ptr<OperatorProcess> OperatorProcess::start(const std::filesystem::path& kubeconfig,
                                                        const std::string& bootstrap,
                                                        const std::vector<std::string>& extra,
                                                        const std::string& name) {
  auto op = std::make_unique<OperatorProcess>();
  op->metrics_port_ = proc::free_port();
  op->health_port_ = proc::free_port();
  op->log_ = suite_dir() / (name + ".log");
  std::vector<std::string> argv = {
      PIPEWRIGHT_OPERATOR,
      "--kubeconfig=" + kubeconfig.string(),
      "--metrics-bind-address=127.0.0.1:" + std::to_string(op->metrics_port_),
      "--health-probe-bind-address=127.0.0.1:" + std::to_string(op->health_port_),
      "--default-bootstrap-servers=" + bootstrap,
      "--worker-image=pipewright/worker:test",
      "--leader-election-namespace=" + std::string(kOperatorNamespace)};
  argv.insert(argv.end(), extra.begin(), extra.end());
  op->process_ = proc::Process::start({argv, {}, op->log_, {}});
  const std::string ready = "http://127.0.0.1:" + std::to_string(op->health_port_) + "/readyz";
  const bool up = proc::poll_until(
      std::chrono::seconds(60),
      [&] { return !op->process_.running() || http_get(ready).status == 200; },
      std::chrono::milliseconds(100));
  if (!up || !op->process_.running()) {
    throw std::runtime_error("pipewright-operator did not become ready; " + op->log_.string() +
                             ":\n" + tail(op->log_));
  }
  return op;
}

OperatorProcess::~OperatorProcess() {
  process_.stop(std::chrono::seconds(10));
}

std::string OperatorProcess::metrics() const {
  const auto r = http_get("http://127.0.0.1:" + std::to_string(metrics_port_) + "/metrics");
  return r.status == 200 ? r.body : "";
}

double OperatorProcess::metric_sum(const std::string& name) const {
  std::istringstream in(metrics());
  double total = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(name, 0) != 0) continue;
    const char next = line.size() > name.size() ? line[name.size()] : ' ';
    if (next != '{' && next != ' ') continue;  // a longer name with the same prefix
    total += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return total;
}

}  // namespace pipewright::testing
