#pragma once
// What the shipped monitoring asks Prometheus (deploy/helm/pipewright/files: the Grafana
// dashboard's queries and the alert rules' expressions), so tests can run each against a real
// Prometheus scraping the real binaries: a renamed metric breaks the build.

#include <set>
#include <string>
#include <vector>

namespace pipewright::testing {

struct MonitoringQuery {
  std::string where;              // "dashboard: <panel title>" or "alert: <name>"
  std::string expr;               // dashboard variables replaced ($pipeline -> .*)
  std::set<std::string> metrics;  // the metric names it reads (histograms: the base name)
};

std::vector<MonitoringQuery> monitoring_queries();

// Metrics only the operator exports (local mode runs no operator).
bool operator_metric(const std::string& name);

// The result of an instant query (Prometheus' `data.result`), or an empty list.
std::size_t prometheus_result_size(const std::string& prometheus_url, const std::string& expr);

}  // namespace pipewright::testing
