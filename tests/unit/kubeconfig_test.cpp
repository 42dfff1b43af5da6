#include <gtest/gtest.h>
#include <fstream>

#include "pkg/kube/config.h"
#include "tests/support/suite_logs.h"

namespace pipewright::kube {
namespace {

std::filesystem::path write(const std::string& name, const std::string& text) {
  const auto p = testing::suite_dir() / name;
  std::ofstream(p) << text;
  return p;
}

TEST(Kubeconfig, ReadsTokenAndRelativeCaFileOfTheCurrentContext) {
  write("ca.crt", "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n");
  const auto path = write("token.kubeconfig", R"(apiVersion: v1
kind: Config
current-context: b
clusters:
- {name: one, cluster: {server: "https://10.0.0.1:6443"}}
- {name: two, cluster: {server: "https://127.0.0.1:6443", certificate-authority: ca.crt}}
users:
- {name: u, user: {token: abc123}}
contexts:
- {name: a, context: {cluster: one, user: u}}
- {name: b, context: {cluster: two, user: u, namespace: demo}}
)");
  const auto cfg = load_kubeconfig(path);
  EXPECT_EQ(cfg.server, "https://127.0.0.1:6443");
  EXPECT_EQ(cfg.token, "abc123");
  EXPECT_EQ(cfg.namespace_, "demo");
  EXPECT_NE(cfg.ca_pem.find("BEGIN CERTIFICATE"), std::string::npos);

  EXPECT_EQ(load_kubeconfig(path, "a").server, "https://10.0.0.1:6443");
  EXPECT_EQ(load_kubeconfig(path, "a").namespace_, "default");
}

TEST(Kubeconfig, DecodesBase64ClientCertificateData) {
  // "cert" and "key" in base64
  const auto path = write("data.kubeconfig", R"(current-context: c
clusters: [{name: k, cluster: {server: "https://127.0.0.1:1", certificate-authority-data: Y2E=}}]
users: [{name: u, user: {client-certificate-data: Y2VydA==, client-key-data: a2V5}}]
contexts: [{name: c, context: {cluster: k, user: u}}]
)");
  const auto cfg = load_kubeconfig(path);
  EXPECT_EQ(cfg.ca_pem, "ca");
  EXPECT_EQ(cfg.client_cert_pem, "cert");
  EXPECT_EQ(cfg.client_key_pem, "key");
  EXPECT_TRUE(cfg.token.empty());
}

TEST(Kubeconfig, NamesWhatIsMissing) {
  const auto path = write("broken.kubeconfig", "current-context: nope\ncontexts: []\n");
  try {
    load_kubeconfig(path);
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("nope"), std::string::npos) << e.what();
  }
  EXPECT_THROW(load_kubeconfig(testing::suite_dir() / "absent"), std::runtime_error);
  EXPECT_THROW(load_kubeconfig(write("bad.kubeconfig", "a: [unclosed")), std::runtime_error);
}

}  // namespace
}  // namespace pipewright::kube
