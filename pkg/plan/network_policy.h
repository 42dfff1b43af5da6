#pragma once
// spec.networkPolicy: NetworkPolicies that let a Pipeline's step pods reach only what they need
// and be reached only where they serve. Pure, like render.h, which adds their metadata.
//
// "<pipeline>" selects every step pod, Ingress and Egress:
//   egress  DNS (53, UDP and TCP); Kafka: the bootstrap servers' ports, to their addresses when
//           they are IPs, to spec.networkPolicy.kafkaCIDRs when set, else to any address (a
//           NetworkPolicy cannot name a host); what step configs name: smtp.host/port and every
//           http(s) URL (to that IP when it is one, else to any address on that port);
//   ingress the `metrics` port only (Prometheus).
// "<pipeline>-exposed", when a step is exposed, adds ingress to those steps' `http` port from
//   the Ingress controller's namespace (spec.networkPolicy.ingressNamespace; any when empty).

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "pkg/api/types.h"
#include "pkg/plan/env.h"

namespace pipewright::plan {

// (name, spec) of each NetworkPolicy; none unless spec.networkPolicy.enabled.
std::vector<std::pair<std::string, nlohmann::json>> network_policies(const api::Pipeline& pipeline,
                                                                     const RenderOptions& options);

// `object` (apiVersion, kind, metadata) with its spec: what render.cpp's hook needs.
inline nlohmann::json with_spec(nlohmann::json object, const nlohmann::json& spec) {
  object["spec"] = spec;
  return object;
}

struct Endpoint {
  std::string host;  // a name or an address (IPv6 without brackets)
  int port = 0;
  bool operator<(const Endpoint& o) const { return host != o.host ? host < o.host : port < o.port; }
};

// "a:9092,[::1]:9093" -> its endpoints (a missing port is Kafka's 9092).
std::vector<Endpoint> bootstrap_endpoints(const std::string& bootstrap);
// What a step's config names: smtp {host, port} (both SMTP defaults, 25 and 587, without a
// port), every http(s) URL string, and Telegram's API when the channels list it without a
// baseUrl. Ordered, without repeats.
std::vector<Endpoint> config_endpoints(const nlohmann::json& config);

}  // namespace pipewright::plan
