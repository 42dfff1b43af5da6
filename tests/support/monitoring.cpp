#include "tests/support/monitoring.h"

#include <yaml-cpp/yaml.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <regex>
#include <sstream>

#include "tests/support/http_client.h"
#include "tests/support/suite_logs.h"

namespace pipewright::testing {
namespace {

std::set<std::string> metrics_in(const std::string& expr) {
  // Our series are pipewright_* and http_*; PromQL functions and labels never start so.
  static const std::regex name(R"(\b(pipewright|http)_[a-z_]+\b)");
  std::set<std::string> out;
  for (auto it = std::sregex_iterator(expr.begin(), expr.end(), name); it != std::sregex_iterator();
       ++it) {
    std::string m = it->str();
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string s = suffix;
      if (m.size() > s.size() && m.ends_with(s) && m != "pipewright_messages_consumed_total")
        m.resize(m.size() - s.size());
    }
    out.insert(m);
  }
  return out;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (auto pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size()))
    s.replace(pos, from.size(), to);
  return s;
}

std::string url_encode(const std::string& s) {
  std::ostringstream out;
  for (const unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out << c;
    } else {
      static const char* hex = "0123456789ABCDEF";
      out << '%' << hex[c >> 4U] << hex[c & 15U];
    }
  }
  return out.str();
}

}  // namespace

std::vector<MonitoringQuery> monitoring_queries() {
  const auto files = source_dir() / "deploy/helm/pipewright/files";
  std::vector<MonitoringQuery> out;
  std::ifstream in(files / "grafana-dashboard.json");
  const auto dashboard = nlohmann::json::parse(in);
  for (const auto& panel : dashboard["panels"]) {
    if (!panel.contains("targets")) continue;
    for (const auto& t : panel["targets"]) {
      const auto expr = replace_all(t["expr"].get<std::string>(), "$pipeline", ".*");
      out.push_back({"dashboard: " + panel["title"].get<std::string>(), expr, metrics_in(expr)});
    }
  }
  const auto rules = YAML::LoadFile((files / "prometheus-rules.yaml").string());
  for (const auto& group : rules["groups"])
    for (const auto& rule : group["rules"]) {
      const auto expr = rule["expr"].as<std::string>();
      out.push_back({"alert: " + rule["alert"].as<std::string>(), expr, metrics_in(expr)});
    }
  return out;
}

bool operator_metric(const std::string& name) {
  for (const char* prefix :
       {"pipewright_reconcile_", "pipewright_workqueue_", "pipewright_managed_resources",
        "pipewright_api_writes_", "pipewright_resource_ready",
        "pipewright_weightedservice_on_backup", "pipewright_dead_letter_messages"})
    if (name.starts_with(prefix)) return true;
  return false;
}

std::size_t prometheus_result_size(const std::string& prometheus_url, const std::string& expr) {
  const auto r = http_get(prometheus_url + "/api/v1/query?query=" + url_encode(expr));
  const auto doc = nlohmann::json::parse(r.body, nullptr, false);
  if (!doc.is_object() || doc.value("status", "") != "success") return 0;
  return doc["data"]["result"].size();
}

}  // namespace pipewright::testing
