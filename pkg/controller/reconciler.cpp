#include "pkg/controller/reconciler.h"

#include <algorithm>
#include <set>

#include "pkg/api/manifest.h"
#include "pkg/controller/status.h"
#include "pkg/log/log.h"
#include "pkg/plan/topics.h"

namespace pipewright::controller {

using nlohmann::json;

bool contains(const json& live, const json& desired) {
  if (desired.is_object()) {
    if (!live.is_object()) return false;
    for (const auto& [key, value] : desired.items()) {
      const auto it = live.find(key);
      if (it == live.end() || !contains(*it, value)) return false;
    }
    return true;
  }
  if (desired.is_array()) {
    if (!live.is_array() || live.size() != desired.size()) return false;
    for (std::size_t i = 0; i < desired.size(); ++i) {
      if (!contains(live[i], desired[i])) return false;
    }
    return true;
  }
  return live == desired;  // numbers compare by value whatever their stored type
}

namespace {

const kube::Resource& resource_of(const json& object) {
  const std::string kind = object.value("kind", "");
  for (const auto* r : Reconciler::child_kinds()) {
    if (r->kind == kind) return *r;
  }
  if (kind == kube::resources::http_routes.kind) return kube::resources::http_routes;
  throw std::logic_error("no resource for kind " + kind);
}

// True when the owner `uid` controls the object, or nobody does and it is labelled as this
// owner's child (one we created whose owner reference someone removed). Anything else is not
// ours: a user's object of that name, or another Pipeline's or WeightedService's child.
bool controlled_by(const json& object, const std::string& uid, const std::string& owner_label,
                   const std::string& owner_name) {
  const auto& md = object["metadata"];
  for (const auto& ref : md.value("ownerReferences", json::array())) {
    if (ref.value("controller", false)) return ref.value("uid", "") == uid;
  }
  const auto labels = md.value("labels", json::object());
  return labels.value(plan::kManagedBy, "") == "pipewright" &&
         labels.value(owner_label, "") == owner_name;
}

// "controlled by Pipeline other", "not made by Pipewright": who holds an object, for people.
std::string holder(const json& object) {
  for (const auto& ref : object["metadata"].value("ownerReferences", json::array())) {
    if (ref.value("controller", false))
      return "controlled by " + ref.value("kind", "") + " " + ref.value("name", "");
  }
  return "not created by this resource";
}

// True when `status` already has a condition with this reason and message (its Event was sent).
bool reported(const json& status, const std::string& reason, const std::string& message) {
  if (!status.is_object()) return false;
  for (const auto& c : status.value("conditions", json::array())) {
    if (c.value("reason", "") == reason && c.value("message", "") == message) return true;
  }
  return false;
}

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

// "spec.steps[1].worker: unknown worker 'x'": what status shows of a refused spec.
std::string first_problem(const api::ManifestError& e) {
  return e.errors().empty() ? e.what() : e.errors()[0].path + ": " + e.errors()[0].message;
}

bool owned_by(const json& object, const std::string& uid) {
  for (const auto& ref : object["metadata"].value("ownerReferences", json::array())) {
    if (ref.value("uid", "") == uid) return true;
  }
  return false;
}

std::string describe(const std::exception& e) {
  if (const auto* api = dynamic_cast<const kube::ApiError*>(&e)) {
    return std::to_string(api->status()) + " " + api->reason() + ": " + api->what();
  }
  return e.what();
}

}  // namespace

std::string Reconciler::bootstrap_of(const std::string& declared) const {
  return declared.empty() ? options_.default_bootstrap_servers : declared;
}

Outcome Reconciler::delete_pipeline(const json& object) {
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
      set_finalizer(kube::resources::pipelines, object, false);
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
    write_status(kube::resources::pipelines, object, status);
  } catch (const std::exception&) {
    // The retry below reports again.
  }
  return {false, std::nullopt, error};
}

const std::vector<const kube::Resource*>& Reconciler::child_kinds() {
  static const std::vector<const kube::Resource*> kinds = {
      &kube::resources::config_maps, &kube::resources::persistent_volume_claims,
      &kube::resources::deployments, &kube::resources::services,
      &kube::resources::ingresses,   &kube::resources::network_policies};
  return kinds;
}

Reconciler::Reconciler(kube::Client& client, const Cache& cache, AdminFor admin,
                       plan::RenderOptions options)
    : client_(client), cache_(cache), admin_(std::move(admin)), options_(std::move(options)) {}

void Reconciler::event(const json& owner, const std::string& type, const std::string& reason,
                       const std::string& message) {
  const auto& md = owner["metadata"];
  const std::string now = now_rfc3339();
  const json e = {
      {"apiVersion", "v1"},
      {"kind", "Event"},
      {"metadata",
       {{"generateName", md.value("name", "") + "."}, {"namespace", md.value("namespace", "")}}},
      {"involvedObject",
       {{"apiVersion", owner.value("apiVersion", "")},
        {"kind", owner.value("kind", "")},
        {"name", md.value("name", "")},
        {"namespace", md.value("namespace", "")},
        {"uid", md.value("uid", "")}}},
      {"type", type},
      {"reason", reason},
      {"message", message.substr(0, 1024)},
      {"firstTimestamp", now},
      {"lastTimestamp", now},
      {"count", 1},
      {"source", {{"component", "pipewright-operator"}}},
      {"reportingComponent", "pipewright-operator"}};
  try {
    client_.create(kube::resources::events, e);
  } catch (const std::exception& err) {
    log::debug("event not recorded", {{"reason", reason}, {"error", err.what()}});
  }
}

Reconciler::Children Reconciler::sync_children(const std::vector<json>& desired, const json& owner,
                                               const std::string& owner_label) {
  const std::string ns = owner["metadata"].value("namespace", "");
  const std::string owner_name = owner["metadata"].value("name", "");
  const std::string owner_uid = owner["metadata"].value("uid", "");
  std::string first_error;
  std::string conflict;
  std::set<std::pair<std::string, std::string>> wanted;  // (kind, name)
  // First every child's live object, then the writes: a step's Deployment would mount a
  // foreign ConfigMap or PVC of its name, so one conflict holds back every write.
  std::vector<std::pair<const json*, bool>> writes;  // (desired, exists)
  for (const auto& object : desired) {
    const auto& r = resource_of(object);
    const std::string name = object["metadata"]["name"];
    wanted.emplace(r.kind, name);
    try {
      // HTTPRoutes are optional (Gateway API may be absent), so no informer caches them. The
      // informers hold only objects labelled as ours: one they lack may still exist unlabelled
      // (a user's), so the server is asked before anything is created.
      auto live = &r == &kube::resources::http_routes ? std::nullopt : cache_.get(r, ns, name);
      if (!live) live = client_.get(r, ns, name);
      // Never take over what this owner did not create (a user's object, another resource's
      // child with the same name): apply would force our fields and ownerReference onto it, and
      // the garbage collector would then delete it with us. Report it and touch nothing.
      if (live && !controlled_by(*live, owner_uid, owner_label, owner_name)) {
        if (conflict.empty())
          conflict = r.kind + " " + name + " exists and is " + holder(*live) +
                     ": left untouched; rename the step or remove the object";
        continue;
      }
      if (!live || !contains(*live, object)) writes.emplace_back(&object, live.has_value());
    } catch (const std::exception& e) {
      if (first_error.empty()) first_error = r.kind + " " + name + ": " + describe(e);
    }
  }
  for (const auto& [object, exists] : conflict.empty() ? writes : decltype(writes){}) {
    const auto& r = resource_of(*object);
    const std::string name = (*object)["metadata"]["name"];
    try {
      client_.apply(r, *object);
      log::info(exists ? "child brought to its plan" : "child created",
                {{"kind", r.kind}, {"namespace", ns}, {"name", name}, {"owner", owner_name}});
      event(owner, "Normal", exists ? "Updated" : "Created", r.kind + " " + name);
    } catch (const std::exception& e) {
      if (first_error.empty()) first_error = r.kind + " " + name + ": " + describe(e);
    }
  }
  for (const auto* r : child_kinds()) {
    for (const auto& live : cache_.list_labeled(*r, ns, owner_label, owner_name)) {
      const auto& md = live["metadata"];
      if (!owned_by(live, owner_uid)) continue;
      const std::string name = md["name"];
      if (wanted.contains({r->kind, name})) continue;
      try {
        client_.remove(*r, ns, name);
        log::info("stale child deleted", {{"kind", r->kind}, {"namespace", ns}, {"name", name}});
        event(owner, "Normal", "Deleted", r->kind + " " + name + " is no longer in the spec");
      } catch (const std::exception& e) {
        if (first_error.empty()) first_error = r->kind + " " + name + ": " + describe(e);
      }
    }
  }
  // HTTPRoutes have no informer (Gateway API may be absent): ask the server, and take its 404
  // for "no Gateway API here".
  if (owner_label == plan::kWeightedServiceLabel) {
    try {
      const auto& r = kube::resources::http_routes;
      for (const auto& live : client_.list(r, ns, owner_label + "=" + owner_name).items) {
        const std::string name = live["metadata"]["name"];
        if (owned_by(live, owner_uid) && !wanted.contains({r.kind, name}))
          client_.remove(r, ns, name);
      }
    } catch (const kube::ApiError& e) {
      if (!e.not_found() && first_error.empty())
        first_error = std::string("HTTPRoute: ") + e.what();
    } catch (const std::exception& e) {
      if (first_error.empty()) first_error = std::string("HTTPRoute: ") + e.what();
    }
  }
  // Once per conflict, not on every retry: the status already showing it means it was told.
  if (!conflict.empty() && !reported(owner.value("status", json()), "ForeignObject", conflict))
    event(owner, "Warning", "ForeignObject", conflict);
  return {first_error, conflict};
}

void Reconciler::write_status(const kube::Resource& r, const json& object, const json& status) {
  const json previous = object.value("status", json());
  if (status_sink_)
    status_sink_(r, object["metadata"]["namespace"], object["metadata"]["name"], &status);
  if (previous == status) return;  // steady state: no write
  // People follow readiness in `kubectl describe`: one Event when its reason changes.
  const auto ready_reason = [](const json& s) {
    for (const auto& c : s.is_object() ? s.value("conditions", json::array()) : json::array()) {
      if (c.value("type", "") == "Ready")
        return c.value("status", "") + "/" + c.value("reason", "");
    }
    return std::string();
  };
  if (const auto now = ready_reason(status); now != ready_reason(previous) && !now.empty()) {
    for (const auto& c : status["conditions"]) {
      if (c.value("type", "") != "Ready") continue;
      event(object, c.value("status", "") == "True" ? "Normal" : "Warning", c.value("reason", ""),
            c.value("message", ""));
    }
  }
  // A merge patch keeps keys it does not name: remove the ones the new status no longer has.
  json patch = status;
  if (previous.is_object()) {
    for (const auto& [key, value] : previous.items()) {
      if (!patch.contains(key)) patch[key] = nullptr;
    }
  }
  client_.merge_patch(r, object["metadata"]["namespace"], object["metadata"]["name"],
                      {{"status", patch}}, "status");
}

bool Reconciler::set_finalizer(const kube::Resource& r, const json& object, bool wanted) {
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
  client_.merge_patch(
      r, object["metadata"]["namespace"], object["metadata"]["name"],
      {{"metadata",
        {{"finalizers", finalizers}, {"resourceVersion", object["metadata"]["resourceVersion"]}}}});
  return true;
}

int Reconciler::ready_replicas(const std::string& ns, const std::string& deployment) const {
  const auto d = cache_.get(kube::resources::deployments, ns, deployment);
  if (!d) return 0;
  // Status that describes an older spec does not count.
  const auto status = d->value("status", json::object());
  if (status.value("observedGeneration", 0L) < (*d)["metadata"].value("generation", 0L)) return 0;
  return status.value("readyReplicas", 0);
}

Outcome Reconciler::pipeline(const std::string& ns, const std::string& name) {
  const auto& kind = kube::resources::pipelines;
  const auto object = cache_.get(kind, ns, name);
  if (!object) {  // deleted: the garbage collector takes the children
    if (lag_) lag_->forget(ns, name);
    if (status_sink_) status_sink_(kind, ns, name, nullptr);
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
    write_status(kind, *object, pipeline_status(o, object->value("status", json()), now_rfc3339()));
    return {};  // nothing to retry until the spec changes
  }

  const auto topics = plan::topics(p);
  const std::string bootstrap = bootstrap_of(p.bootstrap_servers);
  const bool delete_topics = std::any_of(topics.begin(), topics.end(),
                                         [](const auto& t) { return t.delete_with_pipeline; });

  try {
    if (set_finalizer(kind, *object, delete_topics)) return {};  // the update brings us back
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

  const auto children = sync_children(plan::render(p, options_), *object, plan::kPipelineLabel);
  o.children_error = children.error;
  o.children_conflict = children.conflict;
  retry = retry || !o.children_error.empty();
  conflict = conflict || !o.children_conflict.empty();
  for (const auto& s : p.steps) {
    o.steps.push_back({s.name, s.replicas, ready_replicas(ns, name + "-" + s.name)});
  }
  if (lag_ && !bootstrap.empty()) observe_lag(*lag_, p, bootstrap, o);
  try {
    write_status(kind, *object, pipeline_status(o, object->value("status", json()), now_rfc3339()));
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

std::set<std::string> Reconciler::created_topics(const json& pipeline,
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
std::map<std::string, std::string> Reconciler::topics_taken(
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
  cache_.each(kube::resources::pipelines, "", [&](const json& other) {
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

Outcome Reconciler::weighted_service(const std::string& ns, const std::string& name) {
  const auto& kind = kube::resources::weighted_services;
  const auto object = cache_.get(kind, ns, name);
  if (!object) {
    if (status_sink_) status_sink_(kind, ns, name, nullptr);
    return {};
  }
  ServiceObservation o;
  o.generation = (*object)["metadata"].value("generation", 0L);
  api::WeightedService w;
  try {
    w = api::weighted_service_from_json(*object);
  } catch (const api::ManifestError& e) {
    o.invalid_spec = first_problem(e);
    write_status(kind, *object, service_status(o, object->value("status", json()), now_rfc3339()));
    return {};
  }
  if (w.meta.deleting) return {};
  const auto children =
      sync_children(plan::render(w, options_), *object, plan::kWeightedServiceLabel);
  o.children_error = children.error;
  o.children_conflict = children.conflict;
  for (const auto& b : w.backends) {
    o.backends.push_back(
        {b.name, b.weight, b.backup, b.replicas, ready_replicas(ns, name + "-" + b.name)});
  }
  o.router_ready = ready_replicas(ns, name + "-router");
  if (w.gateway &&
      std::any_of(w.backends.begin(), w.backends.end(), [](const auto& b) { return b.backup; })) {
    o.warning =
        "the HTTPRoute carries the weights but cannot express a backup backend; "
        "backups serve only through the nginx router";
  }
  try {
    write_status(kind, *object, service_status(o, object->value("status", json()), now_rfc3339()));
  } catch (const std::exception& e) {
    return {false, std::nullopt, "status: " + describe(e)};
  }
  if (!o.children_error.empty()) return {false, std::nullopt, o.children_error};
  if (!o.children_conflict.empty()) return {true, kConflictRecheck, {}};
  return {};
}

}  // namespace pipewright::controller
