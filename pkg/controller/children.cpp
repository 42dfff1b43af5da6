#include "pkg/controller/children.h"

#include <set>
#include <stdexcept>

#include "pkg/api/manifest.h"
#include "pkg/controller/status.h"
#include "pkg/log/log.h"
#include "pkg/plan/render.h"

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

std::string describe(const std::exception& e) {
  if (const auto* api = dynamic_cast<const kube::ApiError*>(&e)) {
    return std::to_string(api->status()) + " " + api->reason() + ": " + api->what();
  }
  return e.what();
}

// "spec.steps[1].worker: unknown worker 'x'": what status shows of a refused spec.
std::string first_problem(const api::ManifestError& e) {
  return e.errors().empty() ? e.what() : e.errors()[0].path + ": " + e.errors()[0].message;
}

namespace {

const kube::Resource& resource_of(const json& object) {
  const std::string kind = object.value("kind", "");
  for (const auto* r : Children::child_kinds()) {
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

bool owned_by(const json& object, const std::string& uid) {
  for (const auto& ref : object["metadata"].value("ownerReferences", json::array())) {
    if (ref.value("uid", "") == uid) return true;
  }
  return false;
}

}  // namespace

const std::vector<const kube::Resource*>& Children::child_kinds() {
  static const std::vector<const kube::Resource*> kinds = {
      &kube::resources::config_maps, &kube::resources::persistent_volume_claims,
      &kube::resources::deployments, &kube::resources::services,
      &kube::resources::ingresses,   &kube::resources::network_policies};
  return kinds;
}

void Children::event(const json& owner, const std::string& type, const std::string& reason,
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

Children::Result Children::sync(const std::vector<json>& desired, const json& owner,
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

void Children::write_status(const kube::Resource& r, const json& object, const json& status) {
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

void Children::forget(const kube::Resource& r, const std::string& ns, const std::string& name) {
  if (status_sink_) status_sink_(r, ns, name, nullptr);
}

int Children::ready_replicas(const std::string& ns, const std::string& deployment) const {
  const auto d = cache_.get(kube::resources::deployments, ns, deployment);
  if (!d) return 0;
  // Status that describes an older spec does not count.
  const auto status = d->value("status", json::object());
  if (status.value("observedGeneration", 0L) < (*d)["metadata"].value("generation", 0L)) return 0;
  return status.value("readyReplicas", 0);
}

}  // namespace pipewright::controller
