// spec.networkPolicy: the NetworkPolicies a Pipeline renders to, and what the manifest refuses.
// tests/integration/render_apply_test.cpp has the API server accept them.

#include <gtest/gtest.h>

#include "pkg/api/manifest.h"
#include "pkg/plan/network_policy.h"
#include "pkg/plan/render.h"

namespace pipewright::plan {
namespace {

using nlohmann::json;

api::Pipeline parse(const std::string& network_policy, const std::string& kafka = "",
                    const std::string& extra_steps = "") {
  return api::parse(R"(apiVersion: pipewright.io/v1alpha1
kind: Pipeline
metadata: {name: shop, namespace: demo}
spec:
)" + kafka + network_policy +
                        R"(
  topics: [{name: orders}, {name: mails}]
  steps:
    - name: api
      worker: orders-api
      outputs: [orders]
      expose: {path: /orders}
    - name: notify
      worker: notify
      inputs: [mails]
      config:
        channels: [smtp, webhook, telegram]
        smtp: {host: mail.example.com}
        webhook: {url: "http://10.1.2.3:8025/hook"}
)" + extra_steps,
                    "shop.yaml")
      .pipelines.at(0);
}

std::vector<json> policies(const api::Pipeline& p, const std::string& bootstrap = "kafka:9092") {
  RenderOptions options;
  options.default_bootstrap_servers = bootstrap;
  std::vector<json> out;
  for (const auto& o : render(p, options)) {
    if (o["kind"] == "NetworkPolicy") out.push_back(o);
  }
  return out;
}

// The egress rule that allows `port` (TCP), or null.
json egress_to(const json& policy, int port) {
  for (const auto& rule : policy["spec"]["egress"]) {
    for (const auto& p : rule["ports"]) {
      if (p["port"] == port && p["protocol"] == "TCP") return rule;
    }
  }
  return nullptr;
}

TEST(NetworkPolicy, NoneUnlessEnabled) {
  EXPECT_TRUE(policies(parse("")).empty());
  EXPECT_TRUE(policies(parse("  networkPolicy: {enabled: false}\n")).empty());
}

TEST(NetworkPolicy, StepsReachDnsKafkaAndWhatTheirConfigNamesOnly) {
  const auto all = policies(parse("  networkPolicy: {enabled: true}\n"));
  ASSERT_EQ(all.size(), 2U);
  const auto& np = all[0];
  EXPECT_EQ(np["metadata"]["name"], "shop");
  EXPECT_FALSE(np["metadata"].contains("ownerReferences")) << "no uid: a local render";
  EXPECT_EQ(np["spec"]["podSelector"]["matchLabels"][kPipelineLabel], "shop");
  EXPECT_EQ(np["spec"]["policyTypes"], json::array({"Ingress", "Egress"}));
  EXPECT_EQ(np["spec"]["ingress"],
            json::parse(R"([{"ports": [{"protocol": "TCP", "port": "metrics"}]}])"));
  EXPECT_EQ(np["spec"]["egress"][0]["ports"],
            json::parse(R"([{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}])"));
  // A host name cannot be a NetworkPolicy peer: its port, to any address.
  ASSERT_NE(egress_to(np, 9092), nullptr);
  EXPECT_FALSE(egress_to(np, 9092).contains("to"));
  for (const int port : {25, 587, 443})  // SMTP either default, Telegram's API
    EXPECT_NE(egress_to(np, port), nullptr) << port;
  EXPECT_EQ(egress_to(np, 8025)["to"], json::parse(R"([{"ipBlock": {"cidr": "10.1.2.3/32"}}])"))
      << "an address in a URL is the peer itself";
  EXPECT_EQ(egress_to(np, 80), nullptr);
  EXPECT_EQ(egress_to(np, 8080), nullptr);

  const auto& exposed = all[1];
  EXPECT_EQ(exposed["metadata"]["name"], "shop-exposed");
  EXPECT_EQ(exposed["spec"]["podSelector"]["matchExpressions"][0]["values"], json::array({"api"}));
  EXPECT_EQ(exposed["spec"]["policyTypes"], json::array({"Ingress"}));
  EXPECT_FALSE(exposed["spec"]["ingress"][0].contains("from")) << "no namespace given: any";
  EXPECT_EQ(exposed["spec"]["ingress"][0]["ports"][0]["port"], "http");
}

TEST(NetworkPolicy, KafkaByAddressOrCidrAndTheIngressControllersNamespace) {
  const auto by_ip =
      policies(parse("  networkPolicy: {enabled: true, ingressNamespace: ingress-nginx}\n",
                     "  kafka: {bootstrapServers: '10.0.0.5:9092,10.0.0.6:9093'}\n"));
  EXPECT_EQ(egress_to(by_ip[0], 9092)["to"],
            json::parse(R"([{"ipBlock": {"cidr": "10.0.0.5/32"}}])"));
  EXPECT_EQ(egress_to(by_ip[0], 9093)["to"],
            json::parse(R"([{"ipBlock": {"cidr": "10.0.0.6/32"}}])"));
  EXPECT_EQ(by_ip[1]["spec"]["ingress"][0]["from"][0]["namespaceSelector"]["matchLabels"]
                 ["kubernetes.io/metadata.name"],
            "ingress-nginx");

  const auto by_cidr =
      policies(parse("  networkPolicy: {enabled: true, kafkaCIDRs: [10.20.0.0/16]}\n"),
               "kafka-0.kafka:9094,kafka-1.kafka:9094");
  const auto rule = egress_to(by_cidr[0], 9094);
  EXPECT_EQ(rule["to"], json::parse(R"([{"ipBlock": {"cidr": "10.20.0.0/16"}}])"));
  EXPECT_EQ(rule["ports"].size(), 1U);
}

TEST(NetworkPolicy, TheSameSpecRendersTheSameBytes) {
  const auto p = parse("  networkPolicy: {enabled: true}\n");
  EXPECT_EQ(policies(p), policies(p));
  EXPECT_EQ(policies(p)[0]["metadata"]["annotations"].count(kSpecHash), 1U);
}

TEST(NetworkPolicy, BadPeersAreRefusedWithTheirFieldPath) {
  try {
    parse("  networkPolicy: {enabled: true, kafkaCIDRs: [kafka.svc], ingressNamespace: Bad_NS}\n");
    FAIL() << "accepted";
  } catch (const api::ManifestError& e) {
    ASSERT_EQ(e.errors().size(), 2U) << e.what();
    EXPECT_EQ(e.errors()[0].path, "spec.networkPolicy.kafkaCIDRs[0]");
    EXPECT_EQ(e.errors()[1].path, "spec.networkPolicy.ingressNamespace");
  }
  EXPECT_THROW(parse("  networkPolicy: {enabled: true, egress: []}\n"), api::ManifestError)
      << "an unknown field";
}

TEST(Endpoints, BootstrapAndConfigEndpoints) {
  EXPECT_EQ(bootstrap_endpoints("a:9092, [::1]:9093,b,SASL_SSL://c:9094").size(), 4U);
  EXPECT_EQ(bootstrap_endpoints("[::1]:9093")[0].host, "::1");
  EXPECT_EQ(bootstrap_endpoints("b")[0].port, 9092);
  const auto named = config_endpoints(json::parse(
      R"({"smtp": {"host": "mx", "port": 2525}, "hooks": ["https://u:p@h.example/x?y"],
          "telegram": {"baseUrl": "http://tg.local"}, "channels": ["telegram"], "note": "ftp://x"})"));
  ASSERT_EQ(named.size(), 3U);
  EXPECT_EQ(named[0].host, "h.example");
  EXPECT_EQ(named[0].port, 443);
  EXPECT_EQ(named[1].host, "mx");
  EXPECT_EQ(named[1].port, 2525);
  EXPECT_EQ(named[2].host, "tg.local");
  EXPECT_EQ(named[2].port, 80);
}

}  // namespace
}  // namespace pipewright::plan
