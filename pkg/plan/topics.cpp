#include "pkg/plan/topics.h"

#include <algorithm>

namespace pipewright::plan {

std::string topic_name(const api::Pipeline& pipeline, const api::Topic& topic) {
  if (!topic.topic_name.empty()) return topic.topic_name;
  return contract::topic_name(pipeline.meta.namespace_, pipeline.meta.name, topic.name);
}

std::vector<TopicPlan> topics(const api::Pipeline& pipeline) {
  std::vector<TopicPlan> out;
  for (const auto& t : pipeline.topics) {
    out.push_back({t.name, topic_name(pipeline, t), t.partitions, t.replication_factor, t.config,
                   t.deletion_policy == "Delete", false});
  }
  const std::size_t declared = out.size();
  for (std::size_t i = 0; i < declared; ++i) {
    const bool has_dead_letters =
        std::any_of(pipeline.steps.begin(), pipeline.steps.end(), [&](const api::Step& s) {
          const auto& delivery = s.delivery ? *s.delivery : pipeline.delivery;
          return delivery.dead_letter &&
                 std::find(s.inputs.begin(), s.inputs.end(), out[i].logical) != s.inputs.end();
        });
    if (!has_dead_letters) continue;
    TopicPlan dlq{contract::dead_letter_logical(out[i].logical),
                  contract::dead_letter_topic(out[i].name),
                  1,
                  out[i].replication_factor,
                  {},
                  out[i].delete_with_pipeline,
                  true};
    out.push_back(std::move(dlq));
  }
  return out;
}

std::string consumer_group(const api::Pipeline& pipeline, const api::Step& step) {
  return contract::consumer_group(pipeline.meta.namespace_, pipeline.meta.name, step.name);
}

}  // namespace pipewright::plan
