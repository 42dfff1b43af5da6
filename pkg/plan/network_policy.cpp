#include "pkg/plan/network_policy.h"

#include <algorithm>
#include <map>
#include <optional>
#include <regex>
#include <set>

#include "pkg/contract/names.h"
#include "pkg/plan/render.h"

namespace pipewright::plan {
namespace {

using nlohmann::json;

bool ip_literal(const std::string& host) {
  static const std::regex v4(R"(^([0-9]{1,3}\.){3}[0-9]{1,3}$)");
  return std::regex_match(host, v4) || host.find(':') != std::string::npos;
}

std::string host_cidr(const std::string& host) {
  return host + (host.find(':') != std::string::npos ? "/128" : "/32");
}

// "host", "host:port", "[v6]:port" -> endpoint; `fallback` when no port is given.
Endpoint parse_host_port(const std::string& text, int fallback) {
  Endpoint e{text, fallback};
  if (!text.empty() && text[0] == '[') {
    const auto close = text.find(']');
    if (close == std::string::npos) return e;
    e.host = text.substr(1, close - 1);
    if (close + 1 < text.size() && text[close + 1] == ':')
      e.port = std::atoi(text.c_str() + close + 2);
    return e;
  }
  if (const auto colon = text.rfind(':'); colon != std::string::npos && text.find(':') == colon) {
    e.host = text.substr(0, colon);
    e.port = std::atoi(text.c_str() + colon + 1);
  }
  return e;
}

// http(s)://[user@]host[:port][/...] -> endpoint.
std::optional<Endpoint> url_endpoint(const std::string& url) {
  int port = 0;
  std::string rest;
  if (url.rfind("https://", 0) == 0) {
    port = 443;
    rest = url.substr(8);
  } else if (url.rfind("http://", 0) == 0) {
    port = 80;
    rest = url.substr(7);
  } else {
    return std::nullopt;
  }
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (const auto at = rest.rfind('@'); at != std::string::npos) rest = rest.substr(at + 1);
  auto e = parse_host_port(rest, port);
  if (e.host.empty() || e.port <= 0 || e.port > 65535) return std::nullopt;
  return e;
}

void walk_urls(const json& value, std::set<Endpoint>& out) {
  if (value.is_string()) {
    if (const auto e = url_endpoint(value.get<std::string>())) out.insert(*e);
  } else if (value.is_structured()) {
    for (const auto& item : value)
      walk_urls(item, out);
  }
}

json tcp(const json& port) {
  return {{"protocol", "TCP"}, {"port", port}};
}

// One egress rule per destination: to its address when it is one, else to anywhere (a
// NetworkPolicy cannot name a host) on its ports.
void add_egress(const std::vector<Endpoint>& endpoints, json& egress) {
  std::map<std::string, std::set<int>> by_peer;  // "" : any address
  for (const auto& e : endpoints)
    by_peer[ip_literal(e.host) ? host_cidr(e.host) : ""].insert(e.port);
  for (const auto& [peer, ports] : by_peer) {
    json rule = {{"ports", json::array()}};
    for (const int port : ports)
      rule["ports"].push_back(tcp(port));
    if (!peer.empty()) rule["to"] = json::array({{{"ipBlock", {{"cidr", peer}}}}});
    egress.push_back(rule);
  }
}

}  // namespace

std::vector<Endpoint> bootstrap_endpoints(const std::string& bootstrap) {
  std::set<Endpoint> out;
  std::size_t at = 0;
  while (at <= bootstrap.size()) {
    const auto end = std::min(bootstrap.find(',', at), bootstrap.size());
    auto item = bootstrap.substr(at, end - at);
    item.erase(0, item.find_first_not_of(' '));
    item.erase(item.find_last_not_of(' ') + 1);
    // librdkafka accepts "PLAINTEXT://host:port" too.
    if (const auto scheme = item.find("://"); scheme != std::string::npos)
      item = item.substr(scheme + 3);
    if (!item.empty()) {
      const auto e = parse_host_port(item, 9092);
      if (!e.host.empty() && e.port > 0 && e.port <= 65535) out.insert(e);
    }
    at = end + 1;
  }
  return {out.begin(), out.end()};
}

std::vector<Endpoint> config_endpoints(const json& config) {
  std::set<Endpoint> out;
  if (!config.is_object()) return {};
  walk_urls(config, out);
  if (const auto smtp = config.find("smtp"); smtp != config.end() && smtp->is_object()) {
    const auto host = smtp->value("host", "");
    if (!host.empty()) {
      if (const auto port = smtp->find("port"); port != smtp->end() && port->is_number_integer()) {
        out.insert({host, port->get<int>()});
      } else {
        // The notify worker picks 587 (STARTTLS) or 25: both, rather than a second copy of its
        // rule here.
        out.insert({host, 25});
        out.insert({host, 587});
      }
    }
  }
  // Telegram without a baseUrl goes to its public API (the notify worker's default).
  const auto channels = config.value("channels", json::array());
  const bool telegram = channels.is_array() && std::find(channels.begin(), channels.end(),
                                                         json("telegram")) != channels.end();
  const auto tg = config.value("telegram", json::object());
  if (telegram && (!tg.is_object() || !tg.contains("baseUrl")))
    out.insert({"api.telegram.org", 443});
  return {out.begin(), out.end()};
}

std::vector<std::pair<std::string, json>> network_policies(const api::Pipeline& pipeline,
                                                           const RenderOptions& options) {
  std::vector<std::pair<std::string, json>> out;
  if (!pipeline.network_policy) return out;
  const auto& settings = *pipeline.network_policy;
  const json pods = {{"matchLabels", {{kPipelineLabel, pipeline.meta.name}}}};

  json egress = json::array();
  egress.push_back({{"ports", json::array({{{"protocol", "UDP"}, {"port", 53}},
                                           {{"protocol", "TCP"}, {"port", 53}}})}});
  const auto kafka =
      bootstrap_endpoints(pipeline.bootstrap_servers.empty() ? options.default_bootstrap_servers
                                                             : pipeline.bootstrap_servers);
  if (settings.kafka_cidrs.empty()) {
    add_egress(kafka, egress);
  } else {
    std::set<int> ports;
    for (const auto& e : kafka)
      ports.insert(e.port);
    json rule = {{"ports", json::array()}, {"to", json::array()}};
    for (const int port : ports)
      rule["ports"].push_back(tcp(port));
    for (const auto& cidr : settings.kafka_cidrs)
      rule["to"].push_back({{"ipBlock", {{"cidr", cidr}}}});
    if (!ports.empty()) egress.push_back(rule);
  }
  std::set<Endpoint> named;
  for (const auto& step : pipeline.steps) {
    for (const auto& e : config_endpoints(step.config))
      named.insert(e);
  }
  add_egress({named.begin(), named.end()}, egress);

  out.emplace_back(pipeline.meta.name,
                   json{{"podSelector", pods},
                        {"policyTypes", json::array({"Ingress", "Egress"})},
                        {"ingress", json::array({{{"ports", json::array({tcp("metrics")})}}})},
                        {"egress", egress}});

  json exposed = json::array();
  for (const auto& step : pipeline.steps) {
    if (!step.expose_path.empty()) exposed.push_back(step.name);
  }
  if (exposed.empty()) return out;
  json rule = {{"ports", json::array({tcp("http")})}};
  if (!settings.ingress_namespace.empty()) {
    rule["from"] = json::array(
        {{{"namespaceSelector",
           {{"matchLabels", {{"kubernetes.io/metadata.name", settings.ingress_namespace}}}}}}});
  }
  out.emplace_back(contract::child_name(pipeline.meta.name, "exposed"),
                   json{{"podSelector",
                         {{"matchLabels", {{kPipelineLabel, pipeline.meta.name}}},
                          {"matchExpressions", json::array({{{"key", "app.kubernetes.io/component"},
                                                             {"operator", "In"},
                                                             {"values", exposed}}})}}},
                        {"policyTypes", json::array({"Ingress"})},
                        {"ingress", json::array({rule})}});
  return out;
}

}  // namespace pipewright::plan
