#include "pkg/api/manifest.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>
#include <yaml-cpp/yaml.h>
#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "pkg/api/validation.h"
#include "pkg/contract/names.h"
#include "pkg/contract/spec.h"
#include "pkg/contract/workers.h"

namespace pipewright::api {

std::string FieldError::to_string() const {
  std::string out = source.file;
  if (source.line > 0) out += ":" + std::to_string(source.line);
  out += ": ";
  if (!path.empty()) out += path + ": ";
  return out + message;
}

namespace {

std::string join_messages(const std::vector<FieldError>& errors) {
  std::string out;
  for (const auto& e : errors)
    out += (out.empty() ? "" : "\n") + e.to_string();
  return out;
}

// yaml-cpp throws on Type() of a missing key's node; these ask IsDefined() first.
bool is_seq(const YAML::Node& n) {
  return n.IsDefined() && n.IsSequence();
}
bool is_map(const YAML::Node& n) {
  return n.IsDefined() && n.IsMap();
}
bool is_scalar(const YAML::Node& n) {
  return n.IsDefined() && n.IsScalar();
}
bool is_null(const YAML::Node& n) {
  return n.IsDefined() && n.IsNull();
}

// A mapping key as text. YAML allows any node as a key (`? [a, b] : 1`); we accept plain strings
// only, so anything else is shown as YAML and refused as an unknown field (as<std::string>()
// would throw out of the parser).
std::string key_text(const YAML::Node& key) {
  return key.IsScalar() ? key.Scalar() : YAML::Dump(key);
}

// Walks one document, collecting every problem instead of stopping at the first.
class Reader {
 public:
  Reader(std::string file, std::vector<FieldError>& errors)
      : file_(std::move(file)), errors_(errors) {}

  void error(const YAML::Node& at, const std::string& path, const std::string& message) {
    errors_.push_back({{file_, line(at)}, path, message});
  }
  // A semantic check's verdict (validation.h): its problem, if any, filed at the field.
  void check(const YAML::Node& at, const std::string& path, const std::string& problem) {
    if (!problem.empty()) error(at, path, problem);
  }
  int line(const YAML::Node& n) const {
    return n.IsDefined() && n.Mark().line >= 0 ? n.Mark().line + 1 : doc_line_;
  }
  Source source(const YAML::Node& n) const { return {file_, line(n)}; }
  void set_doc_line(int l) { doc_line_ = l; }

  // A mapping whose keys must all be in `allowed`.
  bool map(const YAML::Node& n, const std::string& path, const std::set<std::string>& allowed) {
    if (!is_map(n)) {
      error(n, path, "must be a mapping");
      return false;
    }
    for (const auto& kv : n) {
      const auto key = key_text(kv.first);
      if (!allowed.contains(key)) {
        error(kv.first, path.empty() ? key : path + "." + key, "unknown field");
      }
    }
    return true;
  }

  std::string str(const YAML::Node& n, const std::string& path, bool required = false) {
    if (!n.IsDefined() || is_null(n)) {
      if (required) error(n, path, "is required");
      return {};
    }
    if (!is_scalar(n)) {
      error(n, path, "must be a string");
      return {};
    }
    // kubectl sends a plain 123 or true as a number or boolean, which the API server refuses
    // for a string field: refused here alike (quote it).
    if (n.Tag() != "!" && typed_scalar(n)) {
      error(n, path, "must be a string (quote it: \"" + n.Scalar() + "\")");
      return {};
    }
    return n.as<std::string>();
  }

  // A string of at most `max` characters.
  std::string text(const YAML::Node& n, const std::string& path, std::size_t max,
                   bool required = false) {
    auto v = str(n, path, required);
    if (v.size() > max) {
      error(n, path, validation::at_most(max));
      return {};
    }
    return v;
  }

  // Kubernetes' int-or-string (quantities): a plain number is fine.
  std::string int_or_string(const YAML::Node& n, const std::string& path, bool required = false) {
    if (is_scalar(n) && n.Tag() != "!" && typed_scalar(n)) return n.Scalar();
    return str(n, path, required);
  }

  static bool typed_scalar(const YAML::Node& n) {
    long l = 0;
    double d = 0;
    bool b = false;
    return YAML::convert<long>::decode(n, l) || YAML::convert<double>::decode(n, d) ||
           YAML::convert<bool>::decode(n, b);
  }

  int integer(const YAML::Node& n, const std::string& path, int fallback, int min, int max) {
    if (!n.IsDefined() || is_null(n)) return fallback;
    try {
      if (!is_scalar(n) || n.Tag() == "!") throw YAML::BadConversion(n.Mark());
      const long v = n.as<long>();
      if (v < min || v > max) {
        error(n, path, "must be between " + std::to_string(min) + " and " + std::to_string(max));
        return fallback;
      }
      return static_cast<int>(v);
    } catch (const YAML::Exception&) {
      error(n, path, "must be an integer");
      return fallback;
    }
  }

  int integer(const YAML::Node& n, const std::string& path, const contract::IntRule& rule) {
    return integer(n, path, rule.fallback, rule.min, rule.max);
  }

  bool boolean(const YAML::Node& n, const std::string& path, bool fallback) {
    if (!n.IsDefined() || is_null(n)) return fallback;
    try {
      if (n.Tag() == "!") throw YAML::BadConversion(n.Mark());
      return n.as<bool>();
    } catch (const YAML::Exception&) {
      error(n, path, "must be true or false");
      return fallback;
    }
  }

  // `max_items` and `max_length` (of each item) are the CRD's.
  std::vector<std::string> strings(const YAML::Node& n, const std::string& path,
                                   std::size_t max_items = 0, std::size_t max_length = 0) {
    std::vector<std::string> out;
    if (!n.IsDefined() || is_null(n)) return out;
    if (!is_seq(n)) {
      error(n, path, "must be a list of strings");
      return out;
    }
    if (max_items > 0 && n.size() > max_items) {
      error(n, path, "must list at most " + std::to_string(max_items));
      return out;
    }
    for (std::size_t i = 0; i < n.size(); ++i) {
      const auto at = path + "[" + std::to_string(i) + "]";
      out.push_back(max_length > 0 ? text(n[i], at, max_length, true) : str(n[i], at, true));
    }
    return out;
  }

  // A list of at most `max` items; false (and an error) when it is longer.
  bool within(const YAML::Node& n, const std::string& path, std::size_t max) {
    if (!is_seq(n) || n.size() <= max) return true;
    error(n, path, "must list at most " + std::to_string(max));
    return false;
  }

  // A built-in worker's config, checked against the catalogue.
  void worker_config(const YAML::Node& n, const std::string& path,
                     const contract::WorkerTraits& worker, const nlohmann::json& config) {
    for (const auto& p : validation::worker_config(worker, config)) {
      // A nested key ("smtp.port"): the deepest node of its path that exists, for the line.
      YAML::Node at(n);
      for (std::size_t from = 0; from < p.field.size();) {
        const auto dot = std::min(p.field.find('.', from), p.field.size());
        const YAML::Node& cur = at;
        if (!is_map(cur) || !cur[p.field.substr(from, dot - from)]) break;
        at.reset(cur[p.field.substr(from, dot - from)]);
        from = dot + 1;
      }
      error(at, path + "." + p.field, p.message);
    }
  }

  std::string duration(const YAML::Node& n, const std::string& path) {
    auto v = str(n, path);
    check(n, path, validation::duration(v));
    return v;
  }

  // `resources: {requests: {cpu: 100m, memory: 64Mi}, limits: {memory: 256Mi}}`.
  std::optional<Resources> resources(const YAML::Node& n, const std::string& path) {
    if (!n.IsDefined() || is_null(n)) return std::nullopt;
    if (!map(n, path, {"requests", "limits"})) return std::nullopt;
    Resources r;
    for (const auto* section : {"requests", "limits"}) {
      const auto list = n[section];
      const auto at = path + "." + section;
      if (!list.IsDefined() || is_null(list) || !map(list, at, {"cpu", "memory"})) continue;
      auto& out = std::string(section) == "requests" ? r.requests : r.limits;
      for (const auto& kv : list) {
        const auto key = key_text(kv.first);
        const auto value = int_or_string(kv.second, at + "." + key, true);
        if (const auto problem = validation::resource_quantity(value); !problem.empty()) {
          error(kv.second, at + "." + key, problem);
          continue;
        }
        if (!value.empty()) out[key] = value;
      }
    }
    for (const auto& p : validation::requests_within_limits(r))
      error(n["requests"][p.field], path + ".requests." + p.field, p.message);
    return r;
  }

  // Free-form config becomes JSON; quoted scalars stay strings, plain ones are typed.
  nlohmann::json to_json(const YAML::Node& n) {
    switch (n.Type()) {
      case YAML::NodeType::Map: {
        nlohmann::json out = nlohmann::json::object();
        for (const auto& kv : n)
          out[key_text(kv.first)] = to_json(kv.second);
        return out;
      }
      case YAML::NodeType::Sequence: {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& item : n)
          out.push_back(to_json(item));
        return out;
      }
      case YAML::NodeType::Scalar: {
        const auto s = n.as<std::string>();
        if (n.Tag() == "!") return s;
        long l = 0;
        double d = 0;
        bool b = false;
        if (YAML::convert<long>::decode(n, l)) return l;
        if (YAML::convert<double>::decode(n, d)) return d;
        if (YAML::convert<bool>::decode(n, b)) return b;
        return s;
      }
      default:
        return nullptr;
    }
  }

  Meta meta(const YAML::Node& doc) {
    Meta m;
    m.source = source(doc["metadata"].IsDefined() ? doc["metadata"] : doc);
    const auto md = doc["metadata"];
    if (!md.IsDefined()) {
      error(doc, "metadata", "is required");
      return m;
    }
    // Other metadata (uid, labels, managedFields...) is the API server's to validate.
    if (!is_map(md)) {
      error(md, "metadata", "must be a mapping");
      return m;
    }
    m.uid = str(md["uid"], "metadata.uid");
    m.generation = integer(md["generation"], "metadata.generation", 0, 0, 2147483647);
    m.deleting = md["deletionTimestamp"].IsDefined() && !is_null(md["deletionTimestamp"]);
    m.finalizers = strings(md["finalizers"], "metadata.finalizers");
    m.name = str(md["name"], "metadata.name", true);
    check(md["name"], "metadata.name", validation::object_name(m.name));
    if (md["namespace"].IsDefined()) {
      m.namespace_ = str(md["namespace"], "metadata.namespace");
      check(md["namespace"], "metadata.namespace", validation::namespace_name(m.namespace_));
    }
    return m;
  }

  std::optional<Ingress> ingress(const YAML::Node& n, const std::string& path) {
    if (!n.IsDefined() || is_null(n) || !map(n, path, {"className", "host", "tlsSecretName"})) {
      return std::nullopt;
    }
    return Ingress{text(n["className"], path + ".className", contract::kMaxObjectRef),
                   text(n["host"], path + ".host", contract::kMaxObjectRef),
                   text(n["tlsSecretName"], path + ".tlsSecretName", contract::kMaxObjectRef)};
  }

  // Fields left out keep the values of `base` (a step's override starts from the pipeline's).
  Delivery delivery(const YAML::Node& d, const std::string& path, Delivery base) {
    if (!map(d, path, {"maxAttempts", "backoff", "deadLetter"})) return base;
    base.max_attempts = integer(d["maxAttempts"], path + ".maxAttempts", base.max_attempts,
                                contract::kMaxAttempts.min, contract::kMaxAttempts.max);
    base.dead_letter = boolean(d["deadLetter"], path + ".deadLetter", base.dead_letter);
    if (const auto b = d["backoff"];
        b.IsDefined() && map(b, path + ".backoff", {"initial", "max"})) {
      if (b["initial"].IsDefined())
        base.backoff_initial = duration(b["initial"], path + ".backoff.initial");
      if (b["max"].IsDefined()) base.backoff_max = duration(b["max"], path + ".backoff.max");
    }
    return base;
  }

  // Children are named "<resource>-<part>".
  void child_name(const YAML::Node& at, const std::string& path, const std::string& owner,
                  const std::string& part, bool service) {
    for (const auto& problem : validation::child_name(owner, part, service))
      error(at, path, problem);
  }

  std::string expose(const YAML::Node& n, const std::string& path) {
    if (!n.IsDefined() || is_null(n)) return {};
    if (!map(n, path, {"path"})) return {};
    auto p = str(n["path"], path + ".path", true);
    check(n["path"], path + ".path", validation::expose_path(p));
    return p;
  }

  Pipeline pipeline(const YAML::Node& doc);
  WeightedService weighted_service(const YAML::Node& doc);

 private:
  std::string file_;
  std::vector<FieldError>& errors_;
  int doc_line_ = 0;
};

Pipeline Reader::pipeline(const YAML::Node& doc) {
  Pipeline p;
  p.meta = meta(doc);
  const auto spec = doc["spec"];
  if (!spec.IsDefined()) {
    error(doc, "spec", "is required");
    return p;
  }
  if (!map(spec, "spec",
           {"kafka", "topics", "ingress", "storage", "steps", "delivery", "networkPolicy"}))
    return p;
  if (const auto k = spec["kafka"];
      k.IsDefined() && map(k, "spec.kafka", {"bootstrapServers", "secretRef"})) {
    p.bootstrap_servers =
        text(k["bootstrapServers"], "spec.kafka.bootstrapServers", contract::kMaxBootstrap);
    if (k["secretRef"].IsDefined() && map(k["secretRef"], "spec.kafka.secretRef", {"name"})) {
      p.kafka_secret =
          text(k["secretRef"]["name"], "spec.kafka.secretRef.name", contract::kMaxObjectRef, true);
    }
  }
  p.ingress = ingress(spec["ingress"], "spec.ingress");
  if (const auto st = spec["storage"];
      st.IsDefined() && map(st, "spec.storage", {"size", "storageClassName", "accessMode"})) {
    p.storage.size = int_or_string(st["size"], "spec.storage.size", true);
    check(st["size"], "spec.storage.size", validation::storage_size(p.storage.size));
    p.storage.storage_class_name =
        text(st["storageClassName"], "spec.storage.storageClassName", contract::kMaxObjectRef);
    if (st["accessMode"].IsDefined()) {
      p.storage.access_mode = str(st["accessMode"], "spec.storage.accessMode");
      check(st["accessMode"], "spec.storage.accessMode",
            validation::access_mode(p.storage.access_mode));
    }
  }
  if (const auto d = spec["delivery"]; d.IsDefined())
    p.delivery = delivery(d, "spec.delivery", p.delivery);
  if (const auto np = spec["networkPolicy"];
      np.IsDefined() &&
      map(np, "spec.networkPolicy", {"enabled", "kafkaCIDRs", "ingressNamespace"}) &&
      boolean(np["enabled"], "spec.networkPolicy.enabled", false)) {
    p.network_policy =
        NetworkPolicy{strings(np["kafkaCIDRs"], "spec.networkPolicy.kafkaCIDRs",
                              contract::kMaxKafkaCidrs, contract::kMaxCidr),
                      text(np["ingressNamespace"], "spec.networkPolicy.ingressNamespace",
                           contract::kMaxNamespace)};
    for (std::size_t i = 0; i < p.network_policy->kafka_cidrs.size(); ++i) {
      check(np["kafkaCIDRs"][i], "spec.networkPolicy.kafkaCIDRs[" + std::to_string(i) + "]",
            validation::cidr(p.network_policy->kafka_cidrs[i]));
    }
    check(np["ingressNamespace"], "spec.networkPolicy.ingressNamespace",
          validation::ingress_namespace(p.network_policy->ingress_namespace));
  }

  std::set<std::string> topic_names;
  const auto topics = spec["topics"];
  if (topics.IsDefined() && !is_seq(topics)) error(topics, "spec.topics", "must be a list");
  const bool topics_fit = within(topics, "spec.topics", contract::kMaxTopics);
  for (std::size_t i = 0; topics_fit && is_seq(topics) && i < topics.size(); ++i) {
    const auto n = topics[i];
    const std::string path = "spec.topics[" + std::to_string(i) + "]";
    if (!map(n, path,
             {"name", "topicName", "partitions", "replicationFactor", "config", "deletionPolicy"}))
      continue;
    Topic t;
    t.name = text(n["name"], path + ".name", contract::kMaxTopicLogical, true);
    check(n["name"], path + ".name", validation::logical_topic(t.name));
    if (!t.name.empty() && !topic_names.insert(t.name).second)
      error(n["name"], path + ".name", validation::duplicate("topic", t.name));
    t.topic_name = str(n["topicName"], path + ".topicName");
    check(n["topicName"], path + ".topicName", validation::kafka_topic(t.topic_name));
    t.partitions = integer(n["partitions"], path + ".partitions", contract::kPartitions);
    t.replication_factor =
        integer(n["replicationFactor"], path + ".replicationFactor", contract::kReplicationFactor);
    if (const auto c = n["config"]; c.IsDefined()) {
      if (!is_map(c)) {
        error(c, path + ".config", "must be a mapping of Kafka topic settings");
      } else if (c.size() > contract::kMaxTopicSettings) {
        error(c, path + ".config",
              "must have at most " + std::to_string(contract::kMaxTopicSettings) + " settings");
      } else {
        for (const auto& kv : c) {
          const auto key = key_text(kv.first);
          t.config[key] = text(kv.second, path + ".config." + key, contract::kMaxTopicSetting);
        }
      }
    }
    if (n["deletionPolicy"].IsDefined()) {
      t.deletion_policy = str(n["deletionPolicy"], path + ".deletionPolicy");
      check(n["deletionPolicy"], path + ".deletionPolicy",
            validation::deletion_policy(t.deletion_policy));
    }
    p.topics.push_back(std::move(t));
  }

  std::set<std::string> step_names;
  const auto steps = spec["steps"];
  if (!steps.IsDefined() || !is_seq(steps) || steps.size() == 0) {
    error(steps.IsDefined() ? steps : spec, "spec.steps", "must be a list of at least one step");
  }
  const bool steps_fit = within(steps, "spec.steps", contract::kMaxSteps);
  for (std::size_t i = 0; steps_fit && is_seq(steps) && i < steps.size(); ++i) {
    const auto n = steps[i];
    const std::string path = "spec.steps[" + std::to_string(i) + "]";
    if (!map(n, path,
             {"name", "worker", "image", "replicas", "inputs", "outputs", "expose", "storage",
              "config", "delivery", "resources"}))
      continue;
    Step s;
    s.name = text(n["name"], path + ".name", contract::kMaxPartName, true);
    check(n["name"], path + ".name", validation::part_name(s.name));
    if (!s.name.empty() && !step_names.insert(s.name).second)
      error(n["name"], path + ".name", validation::duplicate("step", s.name));
    s.worker = str(n["worker"], path + ".worker");
    s.image = text(n["image"], path + ".image", contract::kMaxImage);
    const contract::WorkerTraits* traits = nullptr;
    if (const auto problem = validation::worker_or_image(s.worker, s.image); !problem.empty()) {
      error(n, path, problem);
    } else if (const auto unknown = validation::known_worker(s.worker); !unknown.empty()) {
      error(n["worker"], path + ".worker", unknown);
    } else {
      traits = contract::find_worker(s.worker);
    }
    s.replicas = integer(n["replicas"], path + ".replicas", contract::kStepReplicas);
    s.inputs =
        strings(n["inputs"], path + ".inputs", contract::kMaxTopicRefs, contract::kMaxTopicLogical);
    s.outputs = strings(n["outputs"], path + ".outputs", contract::kMaxTopicRefs,
                        contract::kMaxTopicLogical);
    if (traits != nullptr) {
      check(n["inputs"].IsDefined() ? n["inputs"] : n, path + ".inputs",
            validation::step_inputs(*traits, s));
      check(n["outputs"].IsDefined() ? n["outputs"] : n, path + ".outputs",
            validation::step_outputs(*traits, s));
    }
    for (const auto* list : {&s.inputs, &s.outputs}) {
      const char* field = list == &s.inputs ? ".inputs" : ".outputs";
      for (std::size_t j = 0; j < list->size(); ++j) {
        if (!(*list)[j].empty() && !topic_names.contains((*list)[j])) {
          error(n[field + 1], path + field + "[" + std::to_string(j) + "]",
                validation::undeclared_topic((*list)[j]));
        }
      }
    }
    s.expose_path = expose(n["expose"], path + ".expose");
    s.storage = boolean(n["storage"], path + ".storage", false);
    if (traits != nullptr) check(n, path + ".storage", validation::step_storage(*traits, s));
    if (const auto c = n["config"]; c.IsDefined()) {
      if (is_map(c)) {
        s.config = to_json(c);
        if (traits != nullptr) worker_config(c, path + ".config", *traits, s.config);
      } else {
        error(c, path + ".config", "must be a mapping");
      }
    }
    if (const auto d = n["delivery"]; d.IsDefined()) {
      s.delivery = delivery(d, path + ".delivery", p.delivery);
    }
    s.resources = resources(n["resources"], path + ".resources");
    p.steps.push_back(std::move(s));
  }

  for (std::size_t i = 0; i < p.steps.size(); ++i) {
    const std::string path = "spec.steps[" + std::to_string(i) + "]";
    if (p.steps[i].storage && p.storage.size.empty()) {
      error(steps[i], path + ".storage", validation::storage_without_volume());
    }
    child_name(steps[i], path + ".name", p.meta.name, p.steps[i].name,
               !p.steps[i].expose_path.empty());
  }

  if (const auto cycle = validation::topic_cycle(p))
    error(steps[cycle->first], "spec.steps", cycle->second);
  return p;
}

WeightedService Reader::weighted_service(const YAML::Node& doc) {
  WeightedService w;
  w.meta = meta(doc);
  // Only with a name: `doc["metadata"]["name"]` throws when there is no metadata mapping, which
  // meta() has already reported.
  if (const auto problem = validation::router_service_name(w.meta.name); !problem.empty())
    error(doc["metadata"]["name"], "metadata.name", problem);
  const auto spec = doc["spec"];
  if (!spec.IsDefined()) {
    error(doc, "spec", "is required");
    return w;
  }
  if (!map(spec, "spec",
           {"worker", "image", "port", "backends", "healthCheck", "expose", "ingress", "gatewayRef",
            "config"}))
    return w;
  w.worker = str(spec["worker"], "spec.worker");
  w.image = text(spec["image"], "spec.image", contract::kMaxImage);
  const contract::WorkerTraits* traits = nullptr;
  if (const auto problem = validation::worker_or_image(w.worker, w.image); !problem.empty()) {
    error(spec, "spec", problem);
  } else if (const auto unknown = validation::known_worker(w.worker); !unknown.empty()) {
    error(spec["worker"], "spec.worker", unknown);
  } else if ((traits = contract::find_worker(w.worker)) != nullptr) {
    // A backend gets no topics and no volume (plan::service_backend_env).
    if (const auto weighted = validation::weighted_worker(*traits); !weighted.empty()) {
      error(spec["worker"], "spec.worker", weighted);
      traits = nullptr;
    }
  }
  w.port = integer(spec["port"], "spec.port", contract::kServicePort);
  const auto backends = spec["backends"];
  if (!backends.IsDefined() || !is_seq(backends) || backends.size() == 0) {
    error(backends.IsDefined() ? backends : spec, "spec.backends",
          "must be a list of at least one backend");
  }
  std::set<std::string> names;
  const bool backends_fit = within(backends, "spec.backends", contract::kMaxBackends);
  for (std::size_t i = 0; backends_fit && is_seq(backends) && i < backends.size(); ++i) {
    const auto n = backends[i];
    const std::string path = "spec.backends[" + std::to_string(i) + "]";
    if (!map(n, path, {"name", "weight", "backup", "replicas", "resources"})) continue;
    Backend b;
    b.name = text(n["name"], path + ".name", contract::kMaxPartName, true);
    check(n["name"], path + ".name", validation::part_name(b.name));
    if (!b.name.empty() && !names.insert(b.name).second)
      error(n["name"], path + ".name", validation::duplicate("backend", b.name));
    b.weight = integer(n["weight"], path + ".weight", contract::kBackendWeight);
    b.backup = boolean(n["backup"], path + ".backup", false);
    b.replicas = integer(n["replicas"], path + ".replicas", contract::kBackendReplicas);
    b.resources = resources(n["resources"], path + ".resources");
    check(n["name"], path + ".name", validation::reserved_backend(b.name));
    child_name(n["name"], path + ".name", w.meta.name, b.name, true);
    if (b.backup && n["weight"].IsDefined())
      error(n["weight"], path + ".weight", validation::backup_weight());
    w.backends.push_back(b);
  }
  check(backends, "spec.backends", validation::all_backups(w.backends));
  if (const auto hc = spec["healthCheck"];
      hc.IsDefined() &&
      map(hc, "spec.healthCheck", {"maxFails", "failTimeout", "connectTimeout", "readTimeout"})) {
    w.health.max_fails = integer(hc["maxFails"], "spec.healthCheck.maxFails", contract::kMaxFails);
    if (hc["failTimeout"].IsDefined())
      w.health.fail_timeout = duration(hc["failTimeout"], "spec.healthCheck.failTimeout");
    if (hc["connectTimeout"].IsDefined())
      w.health.connect_timeout = duration(hc["connectTimeout"], "spec.healthCheck.connectTimeout");
    if (hc["readTimeout"].IsDefined())
      w.health.read_timeout = duration(hc["readTimeout"], "spec.healthCheck.readTimeout");
  }
  w.expose_path = expose(spec["expose"], "spec.expose");
  w.ingress = ingress(spec["ingress"], "spec.ingress");
  if (const auto g = spec["gatewayRef"];
      g.IsDefined() && map(g, "spec.gatewayRef", {"name", "namespace"})) {
    w.gateway =
        GatewayRef{text(g["name"], "spec.gatewayRef.name", contract::kMaxObjectRef, true),
                   text(g["namespace"], "spec.gatewayRef.namespace", contract::kMaxNamespace)};
  }
  if (const auto c = spec["config"]; c.IsDefined()) {
    if (is_map(c)) {
      w.config = to_json(c);
      if (traits != nullptr) worker_config(c, "spec.config", *traits, w.config);
    } else {
      error(c, "spec.config", "must be a mapping");
    }
  }
  return w;
}

}  // namespace

ManifestError::ManifestError(std::vector<FieldError> errors)
    : std::runtime_error(join_messages(errors)), errors_(std::move(errors)) {}

namespace {

// yaml-cpp 0.7 returns empty documents for ever, reading nothing more, on some malformed input
// (e.g. "---\n,-\n--# x\n---\n"; jbeder/yaml-cpp#1040, fixed in 0.8), and LoadAll keeps them
// all: a first pass that builds nothing counts the documents, with a bound.
class DocumentCounter : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};
constexpr std::size_t kMaxDocuments = 10000;

bool too_many_documents(const std::string& yaml) {
  std::istringstream in(yaml);
  YAML::Parser parser(in);
  DocumentCounter counter;
  for (std::size_t n = 0; parser.HandleNextDocument(counter); ++n)
    if (n >= kMaxDocuments) return true;
  return false;
}

void parse_into(const std::string& yaml, const std::string& file, Manifests& out,
                std::vector<FieldError>& errors) {
  // Every string of a manifest ends up in JSON (objects, their hashes): text that is not UTF-8
  // is refused here, naming the file, not thrown from deep in the renderer (a fuzz finding; files
  // read by load() too, which `pipewright render -f` aborted on).
  try {
    (void)nlohmann::json(yaml).dump();
  } catch (const nlohmann::json::type_error&) {
    errors.push_back({{file, 0}, "", "is not UTF-8 text"});
    return;
  }
  std::vector<YAML::Node> docs;
  try {
    if (too_many_documents(yaml)) {
      errors.push_back({{file, 0},
                        "",
                        "invalid YAML: more than " + std::to_string(kMaxDocuments) +
                            " documents (or input yaml-cpp cannot read to its end)"});
      return;
    }
    docs = YAML::LoadAll(yaml);
  } catch (const YAML::Exception& e) {
    errors.push_back(
        {{file, e.mark.line >= 0 ? e.mark.line + 1 : 0}, "", "invalid YAML: " + e.msg});
    return;
  }
  Reader r(file, errors);
  for (const auto& doc : docs) {
    if (is_null(doc)) continue;
    r.set_doc_line(doc.Mark().line + 1);
    if (!is_map(doc)) {
      r.error(doc, "", "a manifest document must be a mapping");
      continue;
    }
    const auto api_version = r.str(doc["apiVersion"], "apiVersion", true);
    const auto kind = r.str(doc["kind"], "kind", true);
    if (!r.map(doc, "", {"apiVersion", "kind", "metadata", "spec", "status"})) continue;
    if (kind.empty() || api_version.empty()) continue;
    if (api_version != kGroupVersion) {
      r.error(doc["apiVersion"], "apiVersion",
              "must be " + std::string(kGroupVersion) + ", not '" + api_version + "'");
      continue;
    }
    if (kind == "Pipeline") {
      out.pipelines.push_back(r.pipeline(doc));
    } else if (kind == "WeightedService") {
      out.weighted_services.push_back(r.weighted_service(doc));
    } else {
      r.error(doc["kind"], "kind", "unknown kind '" + kind + "' (Pipeline or WeightedService)");
    }
  }
}

}  // namespace

Manifests parse(const std::string& yaml, const std::string& file) {
  Manifests out;
  std::vector<FieldError> errors;
  parse_into(yaml, file, out, errors);
  if (!errors.empty()) throw ManifestError(std::move(errors));
  return out;
}

namespace {

// JSON is YAML: one validator serves manifests and objects read from the API server. Lines mean
// nothing there, so messages carry only the field path.
Manifests parse_object(const nlohmann::json& object) {
  const std::string where = object.value("kind", std::string("object")) + " " +
                            object["metadata"].value("namespace", std::string()) + "/" +
                            object["metadata"].value("name", std::string());
  try {
    return parse(object.dump(), where);
  } catch (ManifestError& e) {
    auto errors = e.errors();
    for (auto& err : errors)
      err.source.line = 0;
    throw ManifestError(std::move(errors));
  }
}

}  // namespace

Pipeline pipeline_from_json(const nlohmann::json& object) {
  auto m = parse_object(object);
  if (m.pipelines.size() != 1) throw ManifestError({{{"object", 0}, "kind", "is not a Pipeline"}});
  return std::move(m.pipelines[0]);
}

WeightedService weighted_service_from_json(const nlohmann::json& object) {
  auto m = parse_object(object);
  if (m.weighted_services.size() != 1) {
    throw ManifestError({{{"object", 0}, "kind", "is not a WeightedService"}});
  }
  return std::move(m.weighted_services[0]);
}

Manifests load(const std::vector<std::filesystem::path>& paths) {
  std::vector<std::filesystem::path> files;
  std::vector<FieldError> errors;
  for (const auto& p : paths) {
    std::error_code ec;
    if (std::filesystem::is_directory(p, ec)) {
      std::vector<std::filesystem::path> in_dir;
      for (const auto& e : std::filesystem::directory_iterator(p)) {
        const auto ext = e.path().extension();
        if (e.is_regular_file() && (ext == ".yaml" || ext == ".yml")) in_dir.push_back(e.path());
      }
      std::sort(in_dir.begin(), in_dir.end());
      if (in_dir.empty()) errors.push_back({{p.string(), 0}, "", "no .yaml files in this folder"});
      files.insert(files.end(), in_dir.begin(), in_dir.end());
    } else if (std::filesystem::is_regular_file(p, ec)) {
      files.push_back(p);
    } else {
      errors.push_back({{p.string(), 0}, "", "no such file or folder"});
    }
  }
  Manifests out;
  constexpr std::uintmax_t kMaxBytes = std::uintmax_t{4} * 1024 * 1024;
  for (const auto& f : files) {
    if (std::filesystem::file_size(f) > kMaxBytes) {
      errors.push_back({{f.string(), 0}, "", "larger than 4 MiB; not a manifest"});
      continue;
    }
    std::ifstream in(f, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    parse_into(ss.str(), f.string(), out, errors);
  }
  // The same resource twice (kind, namespace, name) is a mistake, not an update.
  std::set<std::string> keys;
  for (const auto& p : out.pipelines) {
    if (!keys.insert("Pipeline/" + p.meta.namespace_ + "/" + p.meta.name).second) {
      errors.push_back(
          {p.meta.source, "metadata.name",
           "Pipeline " + p.meta.namespace_ + "/" + p.meta.name + " is declared twice"});
    }
  }
  for (const auto& w : out.weighted_services) {
    if (!keys.insert("WeightedService/" + w.meta.namespace_ + "/" + w.meta.name).second) {
      errors.push_back(
          {w.meta.source, "metadata.name",
           "WeightedService " + w.meta.namespace_ + "/" + w.meta.name + " is declared twice"});
    }
  }
  if (!errors.empty()) throw ManifestError(std::move(errors));
  return out;
}

}  // namespace pipewright::api
