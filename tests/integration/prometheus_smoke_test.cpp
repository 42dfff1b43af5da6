// Prometheus (Debian's) scrapes a prometheus-cpp exposer, and a query returns our value.

#include <gtest/gtest.h>
#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/registry.h>
#include <nlohmann/json.hpp>

#include "pkg/proc/net.h"
#include "tests/support/http_client.h"
#include "tests/support/servers.h"

namespace pipewright {
namespace {

using std::chrono::seconds;

TEST(PrometheusSmoke, ScrapesAPrometheusCppExposer) {
  prometheus::Exposer exposer{"127.0.0.1:0"};
  auto registry = std::make_shared<prometheus::Registry>();
  auto& family = prometheus::BuildCounter()
                     .Name("pipewright_smoke_total")
                     .Help("Counts nothing; the Prometheus smoke test reads it back")
                     .Register(*registry);
  family.Add({{"step", "smoke"}}).Increment(42);
  exposer.RegisterCollectable(registry);
  ASSERT_FALSE(exposer.GetListeningPorts().empty());
  const int port = exposer.GetListeningPorts().front();

  const auto prom = testing::Prometheus::start({"127.0.0.1:" + std::to_string(port)});

  std::string last;
  const bool scraped = proc::poll_until(
      seconds(30),
      [&] {
        const auto r =
            testing::http_get(prom->url() + "/api/v1/query?query=pipewright_smoke_total");
        last = r.body;
        if (r.status != 200) return false;
        const auto result = nlohmann::json::parse(r.body)["data"]["result"];
        return result.size() == 1 && result[0]["value"][1] == "42" &&
               result[0]["metric"]["step"] == "smoke";
      },
      std::chrono::milliseconds(250));
  EXPECT_TRUE(scraped) << "last answer: " << last;

  const auto targets =
      nlohmann::json::parse(testing::http_get(prom->url() + "/api/v1/targets").body);
  ASSERT_EQ(targets["data"]["activeTargets"].size(), 1u);
  EXPECT_EQ(targets["data"]["activeTargets"][0]["health"], "up");
}

}  // namespace
}  // namespace pipewright
