// The CRDs in crds/ on a real kube-apiserver: they become Established, the shipped examples
// validate against them, `kubectl explain` documents the fields, defaults are applied, and what
// the schema and CEL rules can refuse is refused with a message that names the field.

#include <gtest/gtest.h>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/support/control_plane.h"
#include "tests/support/crd_suite.h"
#include "tests/support/operator.h"
#include "tests/support/shared.h"
#include "tests/support/suite_logs.h"

namespace pipewright {
namespace {

using nlohmann::json;

class Crd : public testing::CrdSuite {
 protected:
  // Applies a manifest given as text; returns kubectl's exit code and output.
  static proc::RunResult apply(const std::string& yaml, bool dry_run = false) {
    const auto file = testing::suite_dir() / "manifest.yaml";
    std::ofstream(file) << yaml;
    std::vector<std::string> args = {"apply", "-f", file.string()};
    if (dry_run) args.emplace_back("--dry-run=server");
    return plane->kubectl(args);
  }
};

const std::string kHead =
    "apiVersion: pipewright.io/v1alpha1\nkind: Pipeline\nmetadata: {name: p, namespace: demo}\n";

TEST_F(Crd, TheShippedExamplesValidateOnTheServer) {
  const auto r = plane->kubectl(
      {"apply", "--dry-run=server", "-f", (testing::source_dir() / "examples").string()});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("pipeline.pipewright.io/images created (server dry run)"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("weightedservice.pipewright.io/mult created (server dry run)"),
            std::string::npos)
      << r.output;
}

TEST_F(Crd, KubectlExplainDocumentsEveryLevel) {
  const auto steps = plane->kubectl({"explain", "pipelines.spec.steps"});
  ASSERT_EQ(steps.exit_code, 0) << steps.output;
  for (const char* field : {"worker", "image", "replicas", "inputs", "outputs", "expose", "storage",
                            "config", "delivery"}) {
    EXPECT_NE(steps.output.find(field), std::string::npos) << field << " missing:\n"
                                                           << steps.output;
  }
  const auto partitions = plane->kubectl({"explain", "pl.spec.topics.partitions"});
  EXPECT_NE(partitions.output.find("May only grow"), std::string::npos) << partitions.output;
  const auto backup = plane->kubectl({"explain", "ws.spec.backends.backup"});
  EXPECT_NE(backup.output.find("every weighted backend is down"), std::string::npos)
      << backup.output;
}

TEST_F(Crd, DefaultsAreFilledInAndPrinterColumnsShow) {
  const auto r = apply(kHead +
                       "spec:\n  topics: [{name: t}, {name: u}]\n"
                       "  steps: [{name: s, worker: enrich, inputs: [t], outputs: [u]}]\n");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto got = plane->kubectl({"get", "pl", "p", "-n", "demo", "-o", "json"});
  ASSERT_EQ(got.exit_code, 0) << got.output;
  const auto spec = json::parse(got.output)["spec"];
  EXPECT_EQ(spec["topics"][0]["partitions"], 1);
  EXPECT_EQ(spec["topics"][0]["replicationFactor"], 1);
  EXPECT_EQ(spec["topics"][0]["deletionPolicy"], "Retain");
  EXPECT_EQ(spec["steps"][0]["replicas"], 1);
  EXPECT_EQ(spec["steps"][0]["storage"], false);
  const auto table = plane->kubectl({"get", "pl", "-n", "demo"});
  EXPECT_EQ(table.output.rfind("NAME   PHASE   STEPS   READY   REASON   AGE", 0), 0u)
      << table.output;
  EXPECT_NE(plane->kubectl({"get", "ws", "-A"}).output.find("No resources found"),
            std::string::npos);
  plane->kubectl({"delete", "pl", "p", "-n", "demo"});
}

TEST_F(Crd, RefusesWhatTheSchemaAndCelCanCheck) {
  struct Case {
    std::string spec, expected;
  };
  const std::vector<Case> cases = {
      {"spec:\n  steps: [{name: s, worker: rotat}]\n",
       "spec.steps[0].worker: Unsupported value: \"rotat\""},
      {"spec:\n  topics: [{name: t}]\n  steps: [{name: s, worker: enrich, inputs: [nope]}]\n",
       "every step input must name a topic declared in spec.topics"},
      {"spec:\n  steps: [{name: s, worker: enrich, image: x}]\n", "set exactly one of worker"},
      {"spec:\n  topics: [{name: t}, {name: t}]\n  steps: [{name: s, worker: enrich}]\n",
       "spec.topics[1]: Duplicate value"},
      {"spec:\n  topics: [{name: t, partitions: 0}]\n  steps: [{name: s, worker: enrich}]\n",
       "spec.topics[0].partitions: Invalid value: 0"},
      {"spec:\n  steps: [{name: s, worker: upload, storage: true}]\n", "needs spec.storage"},
      {"spec:\n  steps: [{name: s, worker: upload, expose: {path: \"/a/../b\"}}]\n",
       "must not contain '..'"},
      {"spec:\n  steps: [{name: Bad_Name, worker: enrich}]\n", "spec.steps[0].name: Invalid value"},
      {"spec:\n  steps: []\n", "spec.steps: Invalid value"},
      {"spec:\n  networkPolicy: {enabled: true, kafkaCIDRs: [kafka.svc]}\n  steps: [{name: s, "
       "worker: enrich}]\n",
       "must be a CIDR like 10.0.0.0/8"},
      {"spec:\n  networkPolicy: {enabled: true, ingressNamespace: Bad_NS}\n  steps: [{name: s, "
       "worker: enrich}]\n",
       "spec.networkPolicy.ingressNamespace: Invalid value"},
  };
  for (const auto& c : cases) {
    const auto r = apply(kHead + c.spec, /*dry_run=*/true);
    EXPECT_NE(r.exit_code, 0) << "accepted:\n" << c.spec;
    EXPECT_NE(r.output.find(c.expected), std::string::npos) << "for:\n"
                                                            << c.spec << "got:\n"
                                                            << r.output;
  }
  const auto ws = apply(
      "apiVersion: pipewright.io/v1alpha1\nkind: WeightedService\nmetadata: {name: w, namespace: "
      "demo}\n"
      "spec:\n  worker: mult\n  backends: [{name: a, backup: true}, {name: b, backup: true, "
      "weight: 2}]\n",
      true);
  EXPECT_NE(ws.exit_code, 0);
  EXPECT_NE(ws.output.find("at least one backend must not be a backup"), std::string::npos)
      << ws.output;
  EXPECT_NE(ws.output.find("a backup backend takes no weight"), std::string::npos) << ws.output;
}

}  // namespace
}  // namespace pipewright
