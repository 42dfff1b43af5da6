#include "pkg/controller/pipeline_reconciler.h"

#include <algorithm>

#include "pkg/api/manifest.h"
#include "pkg/contract/names.h"
#include "pkg/controller/status.h"
#include "pkg/log/log.h"

namespace pipewright::controller {

using nlohmann::json;

namespace {

// The Pipeline's own record of the topics it created (status.createdTopics).
std::set<std::string> recorded_topics(const json& pipeline) {
  std::set<std::string> out;
  const auto status = pipeline.value("status", json::object());
  if (!status.is_object()) return out;
  for (const auto& t : status.value("createdTopics", json::array())) {
    if (t.is_string()) out.insert(t.get<std::string>());
  }
  return out;
}

// What another Pipeline holds, from its status: the topics it created, and every topic it
// reconciled (its status lines, refused ones included).
void held_topics(const json& pipeline, std::set<std::string>& created,
                 std::set<std::string>& declared) {
  created = recorded_topics(pipeline);
  declared.clear();
  const auto status = pipeline.value("status", json::object());
  if (!status.is_object()) return;
  for (const auto& line : status.value("topics", json::array())) {
    if (line.is_object() && line.contains("topicName") && line["topicName"].is_string())
      declared.insert(line["topicName"].get<std::string>());
  }
}

// Older first (creationTimestamp is RFC 3339 in UTC, so it sorts as text), then by name.
std::string seniority(const json& pipeline) {
  const auto& md = pipeline["metadata"];
  return md.value("creationTimestamp", "") + " " + md.value("namespace", "") + "/" +
         md.value("name", "");
}

}  // namespace

PipelineReconciler::PipelineReconciler(Children& children, AdminFor admin,
                                       plan::RenderOptions options)
    : children_(children), admin_(std::move(admin)), options_(std::move(options)) {}

std::string PipelineReconciler::bootstrap_of(const std::string& declared) const {
  return declared.empty() ? options_.default_bootstrap_servers : declared;
}

Outcome PipelineReconciler::delete_pipeline(const json& object) {
  const auto& md = object["metadata"];
  const auto finalizers = md.value("finalizers", std::vector<std::string>{});
  if (std::find(finalizers.begin(), finalizers.end(), kTopicsFinalizer) == finalizers.end()) {
    return {};
  }
  // Only what deletion needs: the names and policies of the topics.
  api::Pipeline p;
  p.meta.name = md.value("name", "");
  p.meta.namespace_ = md.value("namespace", "");
  const json spec = object.value("spec", json::object());
  for (const auto& t : spec.value("topics", json::array())) {
    api::Topic topic;
    topic.name = t.value("name", "");
    topic.topic_name = t.value("topicName", "");
    topic.deletion_policy = t.value("deletionPolicy", "Retain");
    p.topics.push_back(topic);
  }
  const std::string bootstrap =
      bootstrap_of(spec.value("kafka", json::object()).value("bootstrapServers", ""));
  // Only topics this Pipeline created: a topic it found (someone's, named by topicName) stays.
  const auto created = created_topics(object, &p);
  std::vector<std::string> doomed;
  for (const auto& t : plan::topics(p)) {
    if (!t.delete_with_pipeline) continue;
    for (const auto& name : {t.name, plan::dead_letter_topic(t.name)}) {
      if (created.contains(name) && !kafka::internal_topic(name)) doomed.push_back(name);
    }
  }
  std::string error;
  try {
    const auto secret =
        spec.value("kafka", json::object()).value("secretRef", json::object()).value("name", "");
    for (const auto& name : doomed) {
      if (auto err = admin_(bootstrap, p.meta.namespace_, secret)->remove(name); !err.empty()) {
        error = "deleting topic " + name + ": " + err;
        break;
      }
      log::info("topic deleted with its pipeline",
                {{"topic", name}, {"pipeline", p.meta.namespace_ + "/" + p.meta.name}});
    }
    if (error.empty()) {
      set_finalizer(object, false);
      const std::lock_guard lock(unrecorded_mu_);
      unrecorded_.erase(p.meta.namespace_ + "/" + p.meta.name);
      return {};
    }
  } catch (const std::exception& e) {
    error = describe(e);
  }
  // Say why deletion waits, where people look.
  try {
    json status = object.value("status", json::object());
    status["phase"] = "Deleting";
    status["conditions"] = json::array({{{"type", "Ready"},
                                         {"status", "False"},
                                         {"reason", "TopicDeletionFailed"},
                                         {"message", error},
                                         {"lastTransitionTime", now_rfc3339()}}});
    children_.write_status(kube::resources::pipelines, object, status);
  } catch (const std::exception&) {
    // The retry below reports again.
  }
  return {false, std::nullopt, error};
}

bool PipelineReconciler::set_finalizer(const json& object, bool wanted) {
  auto finalizers = object["metadata"].value("finalizers", std::vector<std::string>{});
  const auto it = std::find(finalizers.begin(), finalizers.end(), kTopicsFinalizer);
  const bool has = it != finalizers.end();
  if (has == wanted) return false;
  if (wanted) {
    finalizers.emplace_back(kTopicsFinalizer);
  } else {
    finalizers.erase(it);
  }
  // The resourceVersion makes this a compare-and-swap: a concurrent edit of the list conflicts.
  children_.client().merge_patch(
      kube::resources::pipelines, object["metadata"]["namespace"], object["metadata"]["name"],
      {{"metadata",
        {{"finalizers", finalizers}, {"resourceVersion", object["metadata"]["resourceVersion"]}}}});
  return true;
}

Outcome PipelineReconciler::reconcile(const std::string& ns, const std::string& name) {
  const auto& kind = kube::resources::pipelines;
  const auto object = children_.cache().get(kind, ns, name);
  if (!object) {  // deleted: the garbage collector takes the children
    if (lag_) lag_->forget(ns, name);
    children_.forget(kind, ns, name);
    const std::lock_guard lock(unrecorded_mu_);
    unrecorded_.erase(ns + "/" + name);
    return {};
  }
  // Deletion comes first and reads the spec leniently: a spec the operator refuses must not
  // leave the Pipeline (and its namespace) stuck in Terminating.
  if ((*object)["metadata"].contains("deletionTimestamp")) return delete_pipeline(*object);

  api::Pipeline p;
  PipelineObservation o;
  o.generation = (*object)["metadata"].value("generation", 0L);
  try {
    p = api::pipeline_from_json(*object);
  } catch (const api::ManifestError& e) {
    o.invalid_spec = first_problem(e);
    if (const auto s = object->value("status", json::object());
        s.is_object() && s.contains("createdTopics")) {
      const auto created = created_topics(*object);
      o.created_topics.emplace(created.begin(), created.end());
    }
    children_.write_status(kind, *object,
                           pipeline_status(o, object->value("status", json()), now_rfc3339()));
    return {};  // nothing to retry until the spec changes
  }

  const auto topics = plan::topics(p);
  const std::string bootstrap = bootstrap_of(p.bootstrap_servers);
  const bool delete_topics = std::any_of(topics.begin(), topics.end(),
                                         [](const auto& t) { return t.delete_with_pipeline; });

  try {
    if (set_finalizer(*object, delete_topics)) return {};  // the update brings us back
  } catch (const std::exception& e) {
    return {false, std::nullopt, describe(e)};
  }

  bool retry = false;
  bool conflict = false;  // waits for someone else to let go: looked at again later
  // The record keeps the topics the spec still names (a topic dropped from the spec is no
  // longer held), plus what this pass creates.
  const auto record = created_topics(*object, &p);
  std::set<std::string> created;
  for (const auto& t : topics) {
    if (record.contains(t.name)) created.insert(t.name);
  }
  if (bootstrap.empty()) {
    o.topics_error =
        "no Kafka: set spec.kafka.bootstrapServers or the operator's --default-bootstrap-servers";
  } else {
    try {
      const auto result =
          kafka::reconcile_topics(*admin_(bootstrap, p.meta.namespace_, p.kafka_secret), topics,
                                  {created, topics_taken(*object, created, topics)});
      o.topics = result.topics;
      created.insert(result.created.begin(), result.created.end());
      if (!result.created.empty()) {
        const std::lock_guard lock(unrecorded_mu_);
        auto& pending = unrecorded_[ns + "/" + name];
        if (pending.first != (*object)["metadata"].value("uid", "")) pending = {};
        pending.first = (*object)["metadata"].value("uid", "");
        pending.second.insert(result.created.begin(), result.created.end());
      }
      for (const auto& t : o.topics) {
        if (t.ready) continue;
        if (t.problem == kafka::TopicProblem::claimed) conflict = true;
        if (kafka::retry_may_fix(t.problem)) retry = true;
      }
    } catch (const std::exception& e) {
      o.topics_error = "Kafka at " + bootstrap + ": " + e.what();
      retry = true;
    }
  }
  o.created_topics.emplace(created.begin(), created.end());

  const auto children = children_.sync(plan::render(p, options_), *object, plan::kPipelineLabel);
  o.children_error = children.error;
  o.children_conflict = children.conflict;
  retry = retry || !o.children_error.empty();
  conflict = conflict || !o.children_conflict.empty();
  for (const auto& s : p.steps) {
    o.steps.push_back(
        {s.name, s.replicas, children_.ready_replicas(ns, contract::child_name(name, s.name))});
  }
  if (lag_ && !bootstrap.empty()) observe_lag(*lag_, p, bootstrap, o);
  try {
    children_.write_status(kind, *object,
                           pipeline_status(o, object->value("status", json()), now_rfc3339()));
  } catch (const std::exception& e) {
    return {false, std::nullopt, "status: " + describe(e)};
  }
  if (retry)
    return {false, std::nullopt,
            !o.topics_error.empty()     ? o.topics_error
            : !o.children_error.empty() ? o.children_error
                                        : "a topic is not ready yet"};
  if (conflict) return {true, kConflictRecheck, {}};
  if (lag_) return {true, lag_->interval(), {}};  // the next lag sample
  return {};
}

std::set<std::string> legacy_topics(const json& status, const api::Pipeline& p) {
  std::set<std::string> out;
  if (!status.is_object() || status.contains("createdTopics")) return out;
  std::set<std::string> defaults;
  for (auto t : p.topics) {
    t.topic_name.clear();
    defaults.insert(plan::topic_name(p, t));
    defaults.insert(plan::dead_letter_topic(plan::topic_name(p, t)));
  }
  for (const auto& line : status.value("topics", json::array())) {
    if (!line.is_object() || !line.value("ready", false)) continue;
    if (const auto name = line.value("topicName", ""); defaults.contains(name)) out.insert(name);
  }
  return out;
}

std::set<std::string> PipelineReconciler::created_topics(const json& pipeline,
                                                         const api::Pipeline* parsed) const {
  auto out = recorded_topics(pipeline);
  const auto& md = pipeline["metadata"];
  if (parsed != nullptr) {
    const auto adopted = legacy_topics(pipeline.value("status", json()), *parsed);
    out.insert(adopted.begin(), adopted.end());
  }
  // Until the cached object shows them: a reconcile that reads an object from before the status
  // write (the cache lags it) would otherwise find the topics unrecorded, take them for someone
  // else's, and write that record back.
  const std::lock_guard lock(unrecorded_mu_);
  const auto it = unrecorded_.find(md.value("namespace", "") + "/" + md.value("name", ""));
  if (it == unrecorded_.end()) return out;
  const auto& [uid, pending] = it->second;
  if (uid != md.value("uid", "") ||
      std::includes(out.begin(), out.end(), pending.begin(), pending.end())) {
    unrecorded_.erase(it);  // recorded, or a Pipeline of that name made anew
    return out;
  }
  out.insert(pending.begin(), pending.end());
  return out;
}

// A topic belongs to one Pipeline: the one that created it (the oldest, should records ever
// disagree), else the oldest that names it. The others are refused it. Every Pipeline reads the
// same records, so all agree on the holder; a Pipeline's claims are what its status says.
std::map<std::string, std::string> PipelineReconciler::topics_taken(
    const json& pipeline, const std::set<std::string>& created,
    const std::vector<plan::TopicPlan>& topics) const {
  struct Holder {
    bool creator = false;
    std::string seniority;  // "" (nobody yet): any claimant beats it
    std::string who;
  };
  const std::string self = seniority(pipeline);
  const std::string uid = pipeline["metadata"].value("uid", "");
  std::map<std::string, Holder> best;
  for (const auto& t : topics)
    best[t.name] = {created.contains(t.name), self, {}};
  std::set<std::string> their_created, their_declared;
  children_.cache().each(kube::resources::pipelines, "", [&](const json& other) {
    const auto& md = other["metadata"];
    if (md.value("uid", "") == uid) return;
    held_topics(other, their_created, their_declared);
    const std::string rank = seniority(other);
    for (auto& [name, h] : best) {
      const bool creator = their_created.contains(name);
      if (!creator && !their_declared.contains(name)) continue;
      if ((creator && !h.creator) || (creator == h.creator && rank < h.seniority)) {
        h = {creator, rank, "Pipeline " + md.value("namespace", "") + "/" + md.value("name", "")};
      }
    }
  });
  std::map<std::string, std::string> taken;
  for (const auto& [name, h] : best) {
    if (!h.who.empty()) taken[name] = h.who;
  }
  return taken;
}
}  // namespace pipewright::controller
