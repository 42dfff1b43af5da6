#include "tests/support/control_plane.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>

#include "pkg/kube/rest.h"
#include "pkg/local/tools.h"
#include "pkg/proc/net.h"
#include "tests/support/http_client.h"
#include "tests/support/suite_logs.h"

namespace pipewright::testing {
namespace {

using std::chrono::seconds;

void must(const proc::RunResult& r, const std::string& what) {
  if (r.exit_code != 0) throw std::runtime_error(what + " failed: " + r.output);
}

std::string random_token() {
  std::random_device rd;
  std::string out;
  const char* hex = "0123456789abcdef";
  for (int i = 0; i < 32; ++i)
    out += hex[rd() % 16];
  return out;
}

void wait_or_throw(proc::Process& p, const std::filesystem::path& log, const std::string& what,
                   seconds timeout, const std::function<bool()>& ready) {
  const bool ok = proc::poll_until(
      timeout, [&] { return !p.running() || ready(); }, std::chrono::milliseconds(200));
  if (!ok || !p.running()) {
    throw std::runtime_error(what + " did not become ready within " +
                             std::to_string(timeout.count()) + "s; " + log.string() + ":\n" +
                             tail(log, 3000));
  }
}

}  // namespace

kube::Config ControlPlane::admin() const {
  kube::Config c;
  c.server = server();
  c.token = admin_token_;
  c.ca_pem = read_file(ca_file());
  c.namespace_ = "default";
  return c;
}

void ControlPlane::write_pki() {
  const auto d = dir_.string();
  const std::string openssl = local::system_tool("openssl").string();
  must(proc::run({openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                  "-nodes", "-keyout", d + "/ca.key", "-out", d + "/ca.crt", "-days", "30", "-subj",
                  "/CN=pipewright-test-ca"}),
       "openssl ca");
  must(proc::run({openssl, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                  "-keyout", d + "/apiserver.key", "-out", d + "/apiserver.csr", "-subj",
                  "/CN=kube-apiserver"}),
       "openssl csr");
  {
    std::ofstream ext(dir_ / "san.ext");
    ext << "subjectAltName=IP:127.0.0.1,DNS:localhost,IP:10.96.0.1,DNS:kubernetes,"
           "DNS:kubernetes.default,DNS:kubernetes.default.svc\n";
  }
  must(proc::run({openssl, "x509", "-req", "-in", d + "/apiserver.csr", "-CA", d + "/ca.crt",
                  "-CAkey", d + "/ca.key", "-CAcreateserial", "-out", d + "/apiserver.crt", "-days",
                  "30", "-extfile", d + "/san.ext"}),
       "openssl sign");
  must(proc::run({openssl, "genrsa", "-out", d + "/sa.key", "2048"}), "openssl sa key");
  must(proc::run({openssl, "rsa", "-in", d + "/sa.key", "-pubout", "-out", d + "/sa.pub"}),
       "openssl sa pub");
  admin_token_ = random_token();
  {
    std::ofstream tokens(dir_ / "tokens.csv");
    tokens << admin_token_ << ",admin,admin-uid,system:masters\n";
  }
}

void ControlPlane::start_etcd() {
  const auto log = dir_ / "etcd.log";
  etcd_ = proc::Process::start(
      {{local::cached_tool("etcd").string(), "--name", "default", "--data-dir",
        (dir_ / "etcd-data").string(), "--listen-client-urls",
        "http://127.0.0.1:" + std::to_string(etcd_port_), "--advertise-client-urls",
        "http://127.0.0.1:" + std::to_string(etcd_port_), "--listen-peer-urls",
        "http://127.0.0.1:" + std::to_string(etcd_peer_port_), "--initial-advertise-peer-urls",
        "http://127.0.0.1:" + std::to_string(etcd_peer_port_), "--initial-cluster",
        "default=http://127.0.0.1:" + std::to_string(etcd_peer_port_), "--log-level", "warn",
        "--unsafe-no-fsync"},
       {},
       log,
       {}});
  wait_or_throw(etcd_, log, "etcd", seconds(30), [&] {
    const auto r = http_get("http://127.0.0.1:" + std::to_string(etcd_port_) + "/health");
    return r.status == 200 && r.body.find("true") != std::string::npos;
  });
}

void ControlPlane::start_apiserver() {
  const auto d = dir_.string();
  const auto log = dir_ / "kube-apiserver.log";
  apiserver_ = proc::Process::start(
      {{local::cached_tool("kube-apiserver").string(),
        "--etcd-servers=http://127.0.0.1:" + std::to_string(etcd_port_), "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1", "--secure-port=" + std::to_string(apiserver_port_),
        "--cert-dir=" + d + "/certs", "--tls-cert-file=" + d + "/apiserver.crt",
        "--tls-private-key-file=" + d + "/apiserver.key", "--client-ca-file=" + d + "/ca.crt",
        "--token-auth-file=" + d + "/tokens.csv",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        "--service-account-key-file=" + d + "/sa.pub",
        "--service-account-signing-key-file=" + d + "/sa.key",
        "--service-cluster-ip-range=10.96.0.0/16", "--authorization-mode=RBAC",
        "--allow-privileged=true", "--endpoint-reconciler-type=none", "--v=1"},
       {},
       log,
       {}});
  kube::Rest rest(admin(), seconds(5));
  wait_or_throw(apiserver_, log, "kube-apiserver", seconds(120), [&] {
    try {
      return rest.request("GET", "/readyz").status == 200;
    } catch (const kube::TransportError&) {
      return false;
    }
  });
}

void ControlPlane::start_kcm() {
  const auto d = dir_.string();
  const auto log = dir_ / "kube-controller-manager.log";
  kcm_ = proc::Process::start(
      {{local::cached_tool("kube-controller-manager").string(),
        "--kubeconfig=" + admin_kubeconfig().string(), "--controllers=" + controllers_,
        "--leader-elect=false", "--bind-address=127.0.0.1",
        "--secure-port=" + std::to_string(kcm_port_), "--cert-dir=" + d + "/kcm-certs",
        "--service-account-private-key-file=" + d + "/sa.key", "--root-ca-file=" + d + "/ca.crt",
        "--use-service-account-credentials=false", "--concurrent-gc-syncs=5", "--v=1"},
       {},
       log,
       {}});
  kube::Config health;
  health.server = "https://127.0.0.1:" + std::to_string(kcm_port_);
  health.insecure_skip_tls_verify = true;  // it serves /healthz with a self-signed certificate
  kube::Rest rest(health, seconds(5));
  wait_or_throw(kcm_, log, "kube-controller-manager", seconds(60), [&] {
    try {
      return rest.request("GET", "/healthz").status == 200;
    } catch (const kube::TransportError&) {
      return false;
    }
  });
}

std::unique_ptr<ControlPlane> ControlPlane::start(const Options& options) {
  std::unique_ptr<ControlPlane> cp(new ControlPlane);
  cp->dir_ = component_dir("control-plane");
  cp->etcd_port_ = proc::free_port();
  cp->etcd_peer_port_ = proc::free_port();
  cp->apiserver_port_ = proc::free_port();
  cp->kcm_port_ = proc::free_port();
  cp->write_pki();
  {
    std::ofstream kc(cp->admin_kubeconfig());
    kc << "apiVersion: v1\nkind: Config\ncurrent-context: admin\n"
       << "clusters:\n- name: test\n  cluster:\n    server: " << cp->server()
       << "\n    certificate-authority: " << cp->ca_file().string() << "\n"
       << "users:\n- name: admin\n  user:\n    token: " << cp->admin_token_ << "\n"
       << "contexts:\n- name: admin\n  context:\n    cluster: test\n    user: admin\n"
       << "    namespace: default\n";
  }
  cp->start_etcd();
  cp->start_apiserver();
  cp->controllers_ = options.controllers;
  if (options.controller_manager) cp->start_kcm();
  return cp;
}

proc::RunResult ControlPlane::kubectl(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {local::cached_tool("kubectl").string(),
                                   "--kubeconfig=" + admin_kubeconfig().string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return proc::run(argv, std::chrono::seconds(60));
}

void ControlPlane::stop_apiserver() {
  apiserver_.stop(seconds(15));
}
void ControlPlane::stop_controller_manager() {
  kcm_.stop(seconds(10));
}

std::int64_t ControlPlane::compact_etcd() {
  const std::string base = "http://127.0.0.1:" + std::to_string(etcd_port_);
  // Any range read answers with the store's revision in its header; "Lw==" is the key "/".
  const auto range = http_request("POST", base + "/v3/kv/range", R"({"key": "Lw==", "limit": 1})",
                                  "application/json");
  if (range.status != 200) {
    throw std::runtime_error("etcd range: " + std::to_string(range.status) + " " + range.error +
                             range.body);
  }
  // int64 fields are strings in the gateway's JSON.
  const std::string revision =
      nlohmann::json::parse(range.body)["header"]["revision"].get<std::string>();
  const auto compact = http_request(
      "POST", base + "/v3/kv/compaction",
      nlohmann::json{{"revision", revision}, {"physical", true}}.dump(), "application/json");
  if (compact.status != 200) {
    throw std::runtime_error("etcd compaction to " + revision + ": " +
                             std::to_string(compact.status) + " " + compact.error + compact.body);
  }
  return std::stoll(revision);
}

ControlPlane::~ControlPlane() {
  kcm_.stop(seconds(5));
  apiserver_.stop(seconds(10));
  etcd_.stop(seconds(5));
}

}  // namespace pipewright::testing
