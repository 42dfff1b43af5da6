#include "pkg/local/prometheus.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "pkg/local/tools.h"
#include "pkg/proc/net.h"

namespace pipewright::local {

std::unique_ptr<Prometheus> Prometheus::start(const std::filesystem::path& dir, int port,
                                              const std::vector<ScrapeTarget>& targets,
                                              const std::string& scrape_interval) {
  std::filesystem::create_directories(dir);
  std::unique_ptr<Prometheus> p(new Prometheus());
  p->dir_ = dir;
  p->port_ = port != 0 ? port : proc::free_port();
  {
    // JSON is YAML: every target group with its labels, quoting done by the library.
    nlohmann::json groups = nlohmann::json::array();
    for (const auto& t : targets)
      groups.push_back({{"targets", {t.address}}, {"labels", t.labels}});
    const nlohmann::json config = {
        {"global",
         {{"scrape_interval", scrape_interval}, {"evaluation_interval", scrape_interval}}},
        {"scrape_configs",
         {{{"job_name", "pipewright"},
           {"static_configs", groups.empty()
                                  ? nlohmann::json::array({{{"targets", nlohmann::json::array()}}})
                                  : groups}}}}};
    std::ofstream(dir / "prometheus.yml") << config.dump(2) << "\n";
  }
  p->process_ = proc::Process::start(
      {{system_tool("prometheus").string(), "--config.file=" + (dir / "prometheus.yml").string(),
        "--storage.tsdb.path=" + (dir / "data").string(),
        "--web.listen-address=127.0.0.1:" + std::to_string(p->port_), "--log.level=warn"},
       {},
       p->log_file(),
       dir});
  const bool ready = proc::poll_until(std::chrono::seconds(60), [&] {
    return !p->process_.running() || proc::loopback_get(p->port_, "/-/ready").status == 200;
  });
  if (!ready || !p->process_.running()) {
    throw std::runtime_error("prometheus did not become ready; " + p->log_file().string() + ":\n" +
                             tail(p->log_file()));
  }
  return p;
}

Prometheus::~Prometheus() {
  process_.stop();
}

}  // namespace pipewright::local
