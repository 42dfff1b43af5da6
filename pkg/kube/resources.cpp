#include "pkg/kube/client.h"

namespace pipewright::kube {

std::string Resource::path(const std::string& ns, const std::string& name) const {
  std::string out = group.empty() ? "/api/" + version : "/apis/" + group + "/" + version;
  if (namespaced && !ns.empty()) out += "/namespaces/" + ns;
  out += "/" + plural;
  if (!name.empty()) out += "/" + name;
  return out;
}

namespace resources {

const Resource pipelines{"pipewright.io", "v1alpha1", "pipelines", "Pipeline"};
const Resource weighted_services{"pipewright.io", "v1alpha1", "weightedservices",
                                 "WeightedService"};
const Resource deployments{"apps", "v1", "deployments", "Deployment"};
const Resource replica_sets{"apps", "v1", "replicasets", "ReplicaSet"};
const Resource services{"", "v1", "services", "Service"};
const Resource config_maps{"", "v1", "configmaps", "ConfigMap"};
const Resource persistent_volume_claims{"", "v1", "persistentvolumeclaims",
                                        "PersistentVolumeClaim"};
const Resource events{"", "v1", "events", "Event"};
const Resource namespaces{"", "v1", "namespaces", "Namespace", false};
const Resource ingresses{"networking.k8s.io", "v1", "ingresses", "Ingress"};
const Resource network_policies{"networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy"};
const Resource http_routes{"gateway.networking.k8s.io", "v1", "httproutes", "HTTPRoute"};
const Resource leases{"coordination.k8s.io", "v1", "leases", "Lease"};

}  // namespace resources
}  // namespace pipewright::kube
