#include "pkg/kube/config.h"

#include <yaml-cpp/yaml.h>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <openssl/evp.h>

namespace pipewright::kube {
namespace {

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

YAML::Node find_named(const YAML::Node& list, const std::string& name, const char* what) {
  if (list) {
    for (const auto& item : list) {
      if (item["name"] && item["name"].as<std::string>() == name) return item[what];
    }
  }
  throw std::runtime_error(std::string("kubeconfig: no ") + what + " named '" + name + "'");
}

// `<key>-data` (base64) or `<key>` (a path, relative to the kubeconfig's folder).
std::string pem_field(const YAML::Node& node, const std::string& key,
                      const std::filesystem::path& base) {
  if (node[key + "-data"]) return base64_decode(node[key + "-data"].as<std::string>());
  if (node[key]) {
    std::filesystem::path p = node[key].as<std::string>();
    if (p.is_relative()) p = base / p;
    return read_file(p);
  }
  return {};
}

}  // namespace

std::string base64_decode(const std::string& in) {
  std::string out((in.size() / 4 + 1) * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()),
                                static_cast<int>(in.size()));
  if (n < 0) throw std::runtime_error("invalid base64 data");
  std::size_t pad = 0;
  for (auto it = in.rbegin(); it != in.rend() && *it == '='; ++it)
    ++pad;
  out.resize(static_cast<std::size_t>(n) - pad);
  return out;
}

Config load_kubeconfig(const std::filesystem::path& path, const std::string& context) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path.string());
  } catch (const YAML::Exception& e) {
    throw std::runtime_error("kubeconfig " + path.string() + ": " + e.what());
  }
  const auto base = path.parent_path();
  const std::string ctx_name =
      !context.empty() ? context
                       : (root["current-context"] ? root["current-context"].as<std::string>() : "");
  if (ctx_name.empty())
    throw std::runtime_error("kubeconfig " + path.string() + ": no current-context");
  const YAML::Node ctx = find_named(root["contexts"], ctx_name, "context");
  const YAML::Node cluster =
      find_named(root["clusters"], ctx["cluster"].as<std::string>(), "cluster");
  Config cfg;
  cfg.server = cluster["server"].as<std::string>("");
  if (cfg.server.empty()) throw std::runtime_error("kubeconfig: cluster has no server");
  cfg.ca_pem = pem_field(cluster, "certificate-authority", base);
  cfg.insecure_skip_tls_verify = cluster["insecure-skip-tls-verify"].as<bool>(false);
  cfg.namespace_ = ctx["namespace"].as<std::string>("default");
  if (ctx["user"]) {
    const YAML::Node user = find_named(root["users"], ctx["user"].as<std::string>(), "user");
    if (user) {
      cfg.token = user["token"].as<std::string>("");
      cfg.token_file = user["tokenFile"].as<std::string>("");
      cfg.client_cert_pem = pem_field(user, "client-certificate", base);
      cfg.client_key_pem = pem_field(user, "client-key", base);
    }
  }
  return cfg;
}

Config in_cluster_config() {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (host == nullptr || port == nullptr) {
    throw std::runtime_error(
        "in-cluster: KUBERNETES_SERVICE_HOST/PORT are not set (not in a pod?)");
  }
  const std::filesystem::path sa = "/var/run/secrets/kubernetes.io/serviceaccount";
  Config cfg;
  std::string h = host;
  if (h.find(':') != std::string::npos) h = "[" + h + "]";
  cfg.server = "https://" + h + ":" + port;
  cfg.token_file = (sa / "token").string();
  cfg.ca_pem = read_file(sa / "ca.crt");
  cfg.namespace_ = read_file(sa / "namespace");
  return cfg;
}

}  // namespace pipewright::kube
