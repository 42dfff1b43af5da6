#include <algorithm>

#include "pkg/kafka/admin.h"

namespace pipewright::kafka {

TopicReconcile reconcile_topics(TopicAdmin& admin, const std::vector<plan::TopicPlan>& desired) {
  TopicReconcile out;
  std::vector<std::string> names;
  for (const auto& t : desired)
    names.push_back(t.name);
  const auto actual = admin.describe(names);

  std::vector<plan::TopicPlan> missing;
  for (std::size_t i = 0; i < desired.size(); ++i) {
    if (actual[i].partitions == 0) missing.push_back(desired[i]);
  }
  std::map<std::string, TopicResult> created;
  if (!missing.empty()) {
    for (auto& r : admin.create(missing))
      created[r.name] = r;
    out.writes += static_cast<int>(missing.size());
  }

  for (std::size_t i = 0; i < desired.size(); ++i) {
    const auto& want = desired[i];
    const auto& have = actual[i];
    TopicStatus s{want.logical, want.name, have.partitions, true, {}, {}};
    if (have.partitions == 0) {
      const auto& r = created[want.name];
      if (r.outcome == TopicOutcome::failed) {
        s = {want.logical, want.name, 0, false, "CreateFailed", r.error};
      } else {
        s.partitions = want.partitions;
      }
    } else if (want.partitions < have.partitions) {
      // Kafka cannot remove partitions, and keys would move between them if it could.
      s.ready = false;
      s.reason = "PartitionDecreaseRefused";
      s.message = "spec asks for " + std::to_string(want.partitions) + " partitions but " +
                  want.name + " has " + std::to_string(have.partitions) +
                  "; partitions can only grow";
    } else if (want.partitions > have.partitions) {
      ++out.writes;
      if (auto err = admin.grow_partitions(want.name, want.partitions); !err.empty()) {
        s.ready = false;
        s.reason = "GrowPartitionsFailed";
        s.message = err;
      } else {
        s.partitions = want.partitions;
      }
    }
    if (have.partitions > 0 && have.config != want.config) {
      ++out.writes;
      if (auto err = admin.set_config(want.name, want.config); !err.empty()) {
        s.ready = false;
        s.reason = "ConfigFailed";
        s.message = err;
      }
    }
    out.topics.push_back(std::move(s));
  }
  return out;
}

}  // namespace pipewright::kafka
