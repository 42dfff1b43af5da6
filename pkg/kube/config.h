#pragma once
// How to reach and authenticate to a kube-apiserver: from a kubeconfig file or in-cluster.

#include <filesystem>
#include <optional>
#include <string>

namespace pipewright::kube {

struct Config {
  std::string server;           // https://host:port
  std::string token;            // bearer token, or empty
  std::string token_file;       // re-read on each connection (in-cluster tokens rotate)
  std::string ca_pem;           // CA bundle (PEM), or empty to use the system roots
  std::string client_cert_pem;  // client certificate and key (PEM), or empty
  std::string client_key_pem;
  bool insecure_skip_tls_verify = false;
  std::string namespace_;  // the context's namespace, "default" when unset
};

// Reads a kubeconfig (current context, or `context` when given): token, client certificate
// (file or -data), certificate authority (file or -data). Throws std::runtime_error naming what
// is missing or malformed.
Config load_kubeconfig(const std::filesystem::path& path, const std::string& context = {});

// The ServiceAccount mount and KUBERNETES_SERVICE_HOST/PORT of a pod.
Config in_cluster_config();

// Standard base64 (kubeconfig -data fields, Secret data). Throws std::runtime_error when invalid.
std::string base64_decode(const std::string& in);

}  // namespace pipewright::kube
