#include "pkg/plan/topics.h"

namespace pipewright::plan {

std::string topic_name(const api::Pipeline& pipeline, const api::Topic& topic) {
  if (!topic.topic_name.empty()) return topic.topic_name;
  return pipeline.meta.namespace_ + "." + pipeline.meta.name + "." + topic.name;
}

std::vector<TopicPlan> topics(const api::Pipeline& pipeline) {
  std::vector<TopicPlan> out;
  for (const auto& t : pipeline.topics) {
    out.push_back({t.name, topic_name(pipeline, t), t.partitions, t.replication_factor, t.config,
                   t.deletion_policy == "Delete"});
  }
  return out;
}

std::string consumer_group(const api::Pipeline& pipeline, const api::Step& step) {
  return pipeline.meta.namespace_ + "." + pipeline.meta.name + "." + step.name;
}

}  // namespace pipewright::plan
