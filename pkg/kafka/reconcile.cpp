#include <algorithm>

#include "pkg/kafka/admin.h"

#include "pkg/contract/names.h"

namespace pipewright::kafka {

bool internal_topic(const std::string& name) {
  return contract::is_internal_topic(name);
}

std::string reason(TopicProblem problem) {
  switch (problem) {
    case TopicProblem::none:
      return "";
    case TopicProblem::internal_refused:
      return "InternalTopicRefused";
    case TopicProblem::claimed:
      return "TopicClaimed";
    case TopicProblem::partition_decrease_refused:
      return "PartitionDecreaseRefused";
    case TopicProblem::create_failed:
      return "CreateFailed";
    case TopicProblem::created_elsewhere:
      return "CreatedElsewhere";
    case TopicProblem::grow_partitions_failed:
      return "GrowPartitionsFailed";
    case TopicProblem::config_failed:
      return "ConfigFailed";
  }
  return "";
}

namespace {

// Why a topic is left alone before anything is asked of Kafka; "" when it is not.
TopicStatus refusal(const TopicSpec& t, const TopicClaims& claims) {
  TopicStatus s{t.logical, t.name, 0, false, {}, {}};
  if (internal_topic(t.name)) {
    s.problem = TopicProblem::internal_refused;
    s.message = "names starting with '__' are Kafka's internal topics";
  } else if (const auto it = claims.taken.find(t.name); it != claims.taken.end()) {
    s.problem = TopicProblem::claimed;
    s.message = "held by " + it->second + "; a topic belongs to one Pipeline";
  }
  return s;
}

}  // namespace

TopicReconcile reconcile_topics(TopicAdmin& admin, const std::vector<TopicSpec>& desired,
                                const TopicClaims& claims) {
  TopicReconcile out;
  std::vector<TopicStatus> refused;
  std::vector<const TopicSpec*> ours;  // neither internal nor someone else's
  std::vector<std::string> names;
  for (const auto& t : desired) {
    refused.push_back(refusal(t, claims));
    if (refused.back().problem != TopicProblem::none) continue;
    ours.push_back(&t);
    names.push_back(t.name);
  }
  const auto actual = names.empty() ? std::vector<TopicState>{} : admin.describe(names);

  std::vector<TopicSpec> missing;
  for (std::size_t i = 0; i < ours.size(); ++i) {
    if (actual[i].partitions == 0) missing.push_back(*ours[i]);
  }
  std::map<std::string, TopicResult> created;
  if (!missing.empty()) {
    for (auto& r : admin.create(missing)) {
      if (r.outcome == TopicOutcome::created) out.created.push_back(r.name);
      created[r.name] = r;
    }
    out.writes += static_cast<int>(missing.size());
  }

  std::size_t next = 0;  // index into ours / actual
  for (std::size_t d = 0; d < desired.size(); ++d) {
    if (refused[d].problem != TopicProblem::none) {
      out.topics.push_back(std::move(refused[d]));
      continue;
    }
    const auto& want = *ours[next];
    const auto& have = actual[next];
    ++next;
    TopicStatus s{want.logical, want.name, have.partitions, true, {}, {}};
    if (have.partitions == 0) {
      const auto& r = created[want.name];
      if (r.outcome == TopicOutcome::failed) {
        s = {want.logical, want.name, 0, false, TopicProblem::create_failed, r.error};
      } else if (r.outcome == TopicOutcome::exists) {
        // Someone made it between our look and our create: not ours; the next pass sees it.
        s = {want.logical,
             want.name,
             0,
             false,
             TopicProblem::created_elsewhere,
             "was created by someone else meanwhile; it is used as it is, never altered"};
      } else {
        s.partitions = want.partitions;
      }
      out.topics.push_back(std::move(s));
      continue;
    }
    if (!claims.created.contains(want.name)) {
      // Someone else's topic (a pre-existing one named by topicName): its partitions and
      // settings are theirs. It is used, never grown, altered or deleted.
      s.message = "existed before this Pipeline: used as it is (" +
                  std::to_string(have.partitions) + " partitions), never altered or deleted";
      out.topics.push_back(std::move(s));
      continue;
    }
    if (want.partitions < have.partitions) {
      // Kafka cannot remove partitions, and keys would move between them if it could.
      s.ready = false;
      s.problem = TopicProblem::partition_decrease_refused;
      s.message = "spec asks for " + std::to_string(want.partitions) + " partitions but " +
                  want.name + " has " + std::to_string(have.partitions) +
                  "; partitions can only grow";
    } else if (want.partitions > have.partitions) {
      ++out.writes;
      if (auto err = admin.grow_partitions(want.name, want.partitions); !err.empty()) {
        s.ready = false;
        s.problem = TopicProblem::grow_partitions_failed;
        s.message = err;
      } else {
        s.partitions = want.partitions;
      }
    }
    // Only the keys the plan names: AlterConfigs replaces the whole set, so it gets the
    // topic's own settings with the plan's on top, and nothing else changes.
    auto merged = have.config;
    for (const auto& [key, value] : want.config)
      merged[key] = value;
    if (merged != have.config) {
      std::string err;
      if (have.sensitive) {
        err =
            "a setting of the topic is sensitive (the broker does not tell its value), so "
            "altering the others would lose it; change it with the Kafka tools";
      } else {
        ++out.writes;
        err = admin.set_config(want.name, merged);
      }
      if (!err.empty()) {
        s.ready = false;
        s.problem = TopicProblem::config_failed;
        s.message = err;
      }
    }
    out.topics.push_back(std::move(s));
  }
  return out;
}

}  // namespace pipewright::kafka
