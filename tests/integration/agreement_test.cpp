// One manifest, three judges: `pipewright validate` (pkg/api), the real API server with the
// CRDs of crds/ (`kubectl apply --dry-run=server`) and `pipewright-worker` at start (the plan's
// environment and config, as the operator and local mode give them). Over every shipped example,
// every fixture under tests/fixtures/manifests/, and generated edge values: each limit of
// pkg/contract/spec.h at its bounds and one past them, every enum value and one that is not, every
// built-in worker with its input/output counts and config bounds.
//
// Where the API server cannot judge (a step's free-form `config`, a cycle through topics) the
// case says so: validate and the worker must still agree, and the server accepts.

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "pkg/api/manifest.h"
#include "pkg/contract/env.h"
#include "pkg/contract/spec.h"
#include "pkg/contract/workers.h"
#include "pkg/plan/env.h"
#include "pkg/proc/process.h"
#include "tests/support/crd_suite.h"
#include "tests/support/suite_logs.h"
#include "tests/support/workers.h"

namespace pipewright {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

enum class Server { judges, accepts };  // accepts: the schema does not look (config, cycles)

// When the worker is started: never; only when validate accepts (it must then start: a fixture
// refused for another reason says nothing about the worker); or always (it must agree).
enum class Worker { no, when_valid, judges };

struct Case {
  std::string label;
  json manifest;  // one resource; metadata.name is set per case
  Server server = Server::judges;
  Worker worker = Worker::no;  // every built-in step (or the backend) is started
};

// A minimal valid step for each built-in worker (its counts and storage as the catalogue says).
json step_for(const contract::WorkerTraits& w) {
  json s = {{"name", "s"}, {"worker", std::string(w.name)}};
  if (w.inputs.max > 0) s["inputs"] = json::array({"a"});
  if (w.outputs.max > 0) s["outputs"] = json::array({"b"});
  if (!w.required_outputs.empty()) {
    s["outputs"] = json::array();
    for (const auto& name : w.required_outputs)
      s["outputs"].push_back(std::string(name));
  }
  if (w.needs_storage) s["storage"] = true;
  if (w.name == "notify") s["config"] = {{"channels", json::array({"log"})}};
  if (w.name == "audit") s["storage"] = true;  // its log goes to the step's data folder
  return s;
}

json pipeline(const json& step) {
  return {{"apiVersion", contract::kGroupVersion},
          {"kind", "Pipeline"},
          {"metadata", {{"name", "x"}, {"namespace", "demo"}}},
          {"spec",
           {{"storage", {{"size", "1Gi"}}},
            {"topics", json::array({{{"name", "a"}},
                                    {{"name", "b"}},
                                    {{"name", "c"}},
                                    {{"name", "orders"}},
                                    {{"name", "orders-valid"}},
                                    {{"name", "orders-rejected"}}})},
            {"steps", json::array({step})}}}};
}

json enrich_pipeline() {
  return pipeline(step_for(*contract::find_worker("enrich")));
}

json weighted(const std::string& worker = "mult") {
  return {{"apiVersion", contract::kGroupVersion},
          {"kind", "WeightedService"},
          {"metadata", {{"name", "x"}, {"namespace", "demo"}}},
          {"spec", {{"worker", worker}, {"backends", json::array({{{"name", "a"}}})}}}};
}

json with(json doc, const std::string& pointer, const json& value) {
  doc[json::json_pointer(pointer)] = value;
  return doc;
}

std::vector<Case> generated() {
  std::vector<Case> out;
  const auto add = [&](std::string label, json doc, bool start = false,
                       Server server = Server::judges) {
    out.push_back({std::move(label), std::move(doc), server, start ? Worker::judges : Worker::no});
  };
  const auto bounds = [&](const std::string& label, const json& base, const std::string& pointer,
                          const contract::IntRule& r, bool start = false) {
    for (const long v : {long{r.min} - 1, long{r.min}, long{r.max}, long{r.max} + 1})
      add(label + "=" + std::to_string(v), with(base, pointer, v), start);
  };
  const auto p = enrich_pipeline();
  bounds("partitions", p, "/spec/topics/0/partitions", contract::kPartitions);
  bounds("replicationFactor", p, "/spec/topics/0/replicationFactor", contract::kReplicationFactor);
  bounds("replicas", p, "/spec/steps/0/replicas", contract::kStepReplicas);
  bounds("delivery.maxAttempts", p, "/spec/delivery/maxAttempts", contract::kMaxAttempts, true);
  bounds("step.delivery.maxAttempts", p, "/spec/steps/0/delivery/maxAttempts",
         contract::kMaxAttempts, true);
  for (const std::string d :
       {"999999999ms", "1000000000ms", "10000000000ms", "0ms", "2h", "1d", "1.5s", "ms"}) {
    add("backoff.initial=" + d, with(p, "/spec/delivery/backoff/initial", d), true);
    add("step.backoff.max=" + d, with(p, "/spec/steps/0/delivery/backoff/max", d), true);
  }
  for (const auto& v : contract::kDeletionPolicies)
    add("deletionPolicy=" + std::string(v), with(p, "/spec/topics/0/deletionPolicy", v));
  add("deletionPolicy=Never", with(p, "/spec/topics/0/deletionPolicy", "Never"));
  for (const auto& v : contract::kAccessModes)
    add("accessMode=" + std::string(v), with(p, "/spec/storage/accessMode", v));
  add("accessMode=ReadOnlyMany", with(p, "/spec/storage/accessMode", "ReadOnlyMany"));
  for (const json& size : {json("1Gi"), json("500Mi"), json(1), json("lots"), json("1.5Gi")})
    add("storage.size=" + size.dump(), with(p, "/spec/storage/size", size));
  // Lengths at the limit and one past it.
  const auto lengths = [&](const std::string& label, const json& base, const std::string& pointer,
                           std::size_t max, char fill, const std::string& prefix = "") {
    for (const auto n : {max, max + 1})
      add(label + " of " + std::to_string(n),
          with(base, pointer, prefix + std::string(n - prefix.size(), fill)));
  };
  lengths("step name", p, "/spec/steps/0/name", contract::kMaxPartName, 's');
  lengths("image", with(p, "/spec/steps/0", {{"name", "s"}}), "/spec/steps/0/image",
          contract::kMaxImage, 'i');
  lengths("expose.path", p, "/spec/steps/0/expose/path", contract::kMaxExposePath, 'e', "/");
  lengths("bootstrapServers", p, "/spec/kafka/bootstrapServers", contract::kMaxBootstrap, 'k');
  lengths("topic setting", p, "/spec/topics/0/config/retention.ms", contract::kMaxTopicSetting,
          '1');
  for (const std::string path : {"/a//b", "/a/../b", "/a b", "/a%20b", "a", "/ok/path-1.2~x"})
    add("expose.path=" + path, with(p, "/spec/steps/0/expose/path", path));
  // Topic names: the logical name (longest the CRD takes) and Kafka's rule.
  {
    json doc = p;
    doc["spec"]["topics"][2]["name"] = std::string(contract::kMaxTopicLogical, 't');
    add("topic name of 200", doc);
    doc["spec"]["topics"][2]["name"] = std::string(contract::kMaxTopicLogical + 1, 't');
    add("topic name of 201", doc);
  }
  add("topicName=__x", with(p, "/spec/topics/0/topicName", "__x"));
  add("topicName=a/b", with(p, "/spec/topics/0/topicName", "a/b"));
  // List sizes at the limit and one past it.
  {
    for (const auto n : {contract::kMaxTopics, contract::kMaxTopics + 1}) {
      json doc = p;
      for (std::size_t i = doc["spec"]["topics"].size(); i < n; ++i)
        doc["spec"]["topics"].push_back({{"name", "t" + std::to_string(i)}});
      add(std::to_string(n) + " topics", doc);
    }
    for (const auto n : {contract::kMaxSteps, contract::kMaxSteps + 1}) {
      json doc = p;
      doc["spec"]["steps"] = json::array();
      for (std::size_t i = 0; i < n; ++i)
        doc["spec"]["steps"].push_back({{"name", "s" + std::to_string(i)}, {"image", "x"}});
      add(std::to_string(n) + " steps", doc);
    }
    for (const auto n : {contract::kMaxTopicRefs, contract::kMaxTopicRefs + 1}) {
      json doc = with(p, "/spec/steps/0", {{"name", "s"}, {"image", "x"}});
      for (std::size_t i = 0; i < n; ++i) {
        doc["spec"]["topics"].push_back({{"name", "in" + std::to_string(i)}});
        doc["spec"]["steps"][0]["inputs"].push_back("in" + std::to_string(i));
      }
      add(std::to_string(n) + " inputs", doc);
    }
  }
  add("step without spec.storage", [&] {
    json doc = pipeline(step_for(*contract::find_worker("upload")));
    doc["spec"].erase("storage");
    return doc;
  }());
  add("image: 123 (a number)", with(p, "/spec/steps/0", {{"name", "s"}, {"image", 123}}));
  add("resources cpu=100m", with(p, "/spec/steps/0/resources/requests/cpu", "100m"));
  add("resources cpu=1.5.5", with(p, "/spec/steps/0/resources/requests/cpu", "1.5.5"));
  add("unknown field", with(p, "/spec/steps/0/replica", 2));

  // Every built-in worker: its minimal step starts; each count one past what it takes is
  // refused by all three; its config bounds by validate and the worker (the server does not look
  // inside config).
  for (const auto& w : contract::workers()) {
    const std::string name(w.name);
    const auto base = pipeline(step_for(w));
    add(name + " as a step", base, true);
    if (w.outputs.max < contract::kAnyCount)
      add(
          name + " with outputs max+1",
          [&] {
            json doc = base;
            auto& outs = doc["spec"]["steps"][0]["outputs"];
            outs = json::array();
            for (std::size_t i = 0; i <= w.outputs.max; ++i)
              outs.push_back(i % 2 == 0 ? "b" : "c");
            if (w.outputs.max + 1 > 2) outs.push_back("a");
            return doc;
          }(),
          true);
    if (w.outputs.min > 0) {
      json doc = base;
      doc["spec"]["steps"][0].erase("outputs");
      add(name + " without outputs", doc, true);
    }
    if (!w.required_outputs.empty())
      add(name + " without its named outputs",
          with(base, "/spec/steps/0/outputs", json::array({"b"})), true);
    if (w.inputs.min > 0) {
      json doc = base;
      doc["spec"]["steps"][0].erase("inputs");
      add(name + " without inputs", doc, true);
    }
    if (w.needs_storage) {
      add(name + " without storage: true", with(base, "/spec/steps/0/storage", false), true);
    }
    add(name + " with an unknown config key", with(base, "/spec/steps/0/config/noSuchKey", 1), true,
        Server::accepts);
    // Each key as deep as the contract describes it (notify's smtp.port, ...).
    const auto config_cases = [&](const auto& self, const std::vector<contract::ConfigKey>& keys,
                                  const std::string& pointer, const std::string& path) -> void {
      for (const auto& key : keys) {
        const std::string ptr = pointer + "/" + std::string(key.name);
        const std::string label = name + " config." + path + std::string(key.name);
        const auto at = [&](const std::string& what, const json& v) {
          add(label + "=" + what, with(base, ptr, v), true, Server::accepts);
        };
        using T = contract::ConfigKey::Type;
        switch (key.type) {
          case T::integer: {
            std::vector<long long> values = key.allowed;
            if (values.empty())
              values = {key.min - 1, key.min, key.max, key.max + 1};
            else
              values.push_back(key.allowed.front() + 1);
            for (const auto v : values)
              at(std::to_string(v), v);
            at("\"text\"", "text");
            break;
          }
          case T::duration:
            for (const std::string d : {"1ms", "0s", "10000000000ms", "soon"})
              at(d, d);
            break;
          case T::strings:
            at("[1]", json::array({1}));
            for (const auto& c : key.choices)
              at("[" + std::string(c) + "]", json::array({std::string(c)}));
            if (!key.choices.empty()) {
              at("[no-such-choice]", json::array({"no-such-choice"}));
              if (key.unique)
                at("a choice twice", json::array({key.choices.back(), key.choices.back()}));
            }
            if (key.min > 0) at("[]", json::array());
            break;
          case T::number:
            for (const double v : {-1.0, 0.0, 12.5})
              at(std::to_string(v), v);
            break;
          case T::string:
            if (path.empty() && key.choices.empty() && key.form == contract::TextForm::any)
              break;  // a top-level free text: nothing to push at
            at("1", 1);
            for (const auto& c : key.choices)
              at(std::string(c), std::string(c));
            if (!key.choices.empty()) at("no-such-choice", "no-such-choice");
            for (const std::string v :
                 {"", "a b", "h:1", "ftp://x", "http://127.0.0.1:9/", "a@b.c"})
              if (key.form != contract::TextForm::any) at("\"" + v + "\"", v);
            break;
          case T::boolean:
            at("true", true);
            at("\"yes\"", "yes");
            break;
          case T::id:
            at("7", 7);
            at("\"@ops\"", "@ops");
            at("true", true);
            break;
          case T::string_map:
            at("{rotate: x}", {{"rotate", "{file} x"}});
            at("{rotate: 1}", {{"rotate", 1}});
            at("{rotate: \"\"}", {{"rotate", ""}});
            at("\"text\"", "text");
            break;
          case T::object:
            if (key.fields.empty()) break;
            at("\"text\"", "text");
            at("{noSuchKey: 1}", {{"noSuchKey", 1}});
            self(self, key.fields, ptr, path + std::string(key.name) + ".");
            break;
        }
      }
    };
    config_cases(config_cases, w.config, "/spec/steps/0/config", "");
    // The rules across keys: the list naming the value, without the key it needs and with it.
    for (const auto& rule : w.config_requires) {
      const std::string list = "/spec/steps/0/config/" + std::string(rule.list);
      std::string needed = "/spec/steps/0/config/" + std::string(rule.path);
      std::replace(needed.begin(), needed.end(), '.', '/');
      const auto doc = with(base, list, json::array({std::string(rule.value)}));
      add(name + " " + std::string(rule.list) + "=[" + std::string(rule.value) + "] without " +
              std::string(rule.path),
          doc, true, Server::accepts);
      add(name + " " + std::string(rule.list) + "=[" + std::string(rule.value) + "] with " +
              std::string(rule.path),
          with(doc, needed, "http://127.0.0.1:9/hook"), true, Server::accepts);
    }
    // As a WeightedService backend: only what needs no topics and no volume.
    add(name + " behind a WeightedService", weighted(name), w.weighted);
  }
  const auto ws = weighted();
  bounds("port", ws, "/spec/port", contract::kServicePort);
  bounds("weight", ws, "/spec/backends/0/weight", contract::kBackendWeight);
  bounds("backend replicas", ws, "/spec/backends/0/replicas", contract::kBackendReplicas);
  bounds("maxFails", ws, "/spec/healthCheck/maxFails", contract::kMaxFails);
  for (const std::string d : {"999999999ms", "10000000000ms", "1d"})
    add("failTimeout=" + d, with(ws, "/spec/healthCheck/failTimeout", d));
  add("backend named router", with(ws, "/spec/backends/0/name", "router"));
  add("backup only", with(ws, "/spec/backends/0/backup", true));
  lengths("backend name", ws, "/spec/backends/0/name", contract::kMaxPartName, 'b');
  lengths("gatewayRef.namespace", with(ws, "/spec/gatewayRef/name", "g"),
          "/spec/gatewayRef/namespace", contract::kMaxNamespace, 'n');
  // A cycle through topics: validate refuses it, the schema cannot see it.
  add(
      "a cycle",
      [] {
        json doc = enrich_pipeline();
        doc["spec"]["steps"].push_back(
            {{"name", "back"}, {"worker", "enrich"}, {"inputs", {"b"}}, {"outputs", {"a"}}});
        return doc;
      }(),
      false, Server::accepts);
  return out;
}

// Every document of the examples and of the fixtures, as JSON.
std::vector<Case> from_files() {
  std::vector<Case> out;
  std::vector<fs::path> files;
  for (const auto& dir :
       {testing::source_dir() / "examples", testing::source_dir() / "tests/fixtures/manifests"}) {
    if (!fs::is_directory(dir)) continue;
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
      if (e.path().extension() == ".yaml") files.push_back(e.path());
    }
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    int i = 0;
    for (const auto& doc : YAML::LoadAllFromFile(f.string())) {
      if (!doc.IsMap()) continue;
      // YAML -> JSON as kubectl does it: through the manifest reader's own typed conversion
      // would judge by one of the judges, so scalars keep YAML's core typing here.
      std::function<json(const YAML::Node&)> to_json = [&](const YAML::Node& n) -> json {
        if (n.IsMap()) {
          json o = json::object();
          for (const auto& kv : n)
            o[kv.first.as<std::string>()] = to_json(kv.second);
          return o;
        }
        if (n.IsSequence()) {
          json a = json::array();
          for (const auto& item : n)
            a.push_back(to_json(item));
          return a;
        }
        if (n.IsNull()) return nullptr;
        const auto& s = n.Scalar();
        if (n.Tag() == "!") return s;
        long l = 0;
        double d = 0;
        bool b = false;
        if (YAML::convert<long>::decode(n, l)) return l;
        if (YAML::convert<double>::decode(n, d)) return d;
        if (YAML::convert<bool>::decode(n, b)) return b;
        return s;
      };
      const auto rel = fs::relative(f, testing::source_dir()).string();
      const bool fixture_says_config = rel.find("/server-accepts/") != std::string::npos;
      out.push_back({rel + "#" + std::to_string(i++), to_json(doc),
                     fixture_says_config ? Server::accepts : Server::judges,
                     fixture_says_config ? Worker::judges : Worker::when_valid});
    }
  }
  return out;
}

class Agreement : public testing::CrdSuite {
 protected:
  // One `kubectl apply --dry-run=server` for all cases: each has its own name.
  static std::vector<bool> server_verdicts(std::vector<Case>& cases) {
    std::string stream;
    for (std::size_t i = 0; i < cases.size(); ++i) {
      cases[i].manifest["metadata"]["name"] = "c" + std::to_string(i);
      cases[i].manifest["metadata"]["namespace"] = "demo";
      stream += "---\n" + cases[i].manifest.dump() + "\n";
    }
    const auto file = testing::suite_dir() / "agreement.yaml";
    std::ofstream(file) << stream;
    const auto r = plane->kubectl({"apply", "--dry-run=server", "-f", file.string()});
    std::vector<bool> out;
    std::size_t accepted = 0;
    for (std::size_t i = 0; i < cases.size(); ++i) {
      const auto kind = cases[i].manifest.value("kind", std::string());
      const std::string ok = (kind == "Pipeline" ? "pipeline" : "weightedservice") +
                             std::string(".pipewright.io/c") + std::to_string(i) + " created";
      out.push_back(r.output.find(ok) != std::string::npos);
      accepted += out.back() ? 1 : 0;
    }
    // Every case has a verdict: one line when created, one error when not.
    std::size_t errors = 0;
    for (auto at = r.output.find("Error from server"); at != std::string::npos;
         at = r.output.find("Error from server", at + 1))
      ++errors;
    EXPECT_EQ(accepted + errors, cases.size()) << r.output;
    return out;
  }

  static std::optional<std::string> validate(const Case& c) {
    try {
      (void)api::parse(c.manifest.dump(), c.label);
      return std::nullopt;
    } catch (const api::ManifestError& e) {
      return std::string(e.what());
    }
  }

  // Starts the worker as the plan would (local mode's patches: ports, data folder, a Kafka that
  // is not there); "" once it logs "worker started", else what it said when it exited.
  static std::optional<std::string> worker_refuses(const Case& c, std::size_t index,
                                                   const fs::path& dir) {
    // Validation is not the judge here: the resource is read without it, as a worker gets it.
    api::Pipeline p;
    api::WeightedService ws;
    std::string type;
    contract::EnvVars env;
    json config = json::object();
    const auto& spec = c.manifest["spec"];
    if (c.manifest["kind"] == "Pipeline") {
      p.meta.name = "x";
      p.meta.namespace_ = "demo";
      for (const auto& t : spec.value("topics", json::array())) {
        api::Topic topic;
        topic.name = t.value("name", std::string());
        p.topics.push_back(topic);
      }
      const auto delivery = [](const json& d, api::Delivery base) {
        if (d.contains("maxAttempts") && d["maxAttempts"].is_number_integer())
          base.max_attempts = d["maxAttempts"].get<int>();
        if (d.contains("backoff")) {
          base.backoff_initial = d["backoff"].value("initial", base.backoff_initial);
          base.backoff_max = d["backoff"].value("max", base.backoff_max);
        }
        return base;
      };
      if (spec.contains("delivery")) p.delivery = delivery(spec["delivery"], p.delivery);
      const auto& s = spec["steps"][index];
      api::Step step;
      step.name = s.value("name", std::string("s"));
      step.worker = s.value("worker", std::string());
      if (step.worker.empty()) return std::nullopt;  // custom images: not ours to start
      step.inputs = s.value("inputs", std::vector<std::string>{});
      step.outputs = s.value("outputs", std::vector<std::string>{});
      step.storage = s.value("storage", false);
      if (s.contains("delivery")) step.delivery = delivery(s["delivery"], p.delivery);
      config = s.value("config", json::object());
      p.steps.push_back(step);
      env = plan::step_env(p, p.steps[0], {}, (dir / "config.json").string());
      // A notify step's credentials come from the Secrets its secretRefs name (the Deployment's
      // secretKeyRef); none exist here, so the channels that need one are given one.
      if (step.worker == "notify" && config.is_object()) {
        const auto channels = config.value("channels", json::array());
        if (channels.is_array() &&
            std::find(channels.begin(), channels.end(), "telegram") != channels.end())
          contract::set(env, contract::env::kTelegramToken, "123:abc");
      }
      contract::set(env, contract::env::kKafkaBootstrap, "127.0.0.1:1");
      if (step.storage) contract::set(env, contract::env::kDataDir, (dir / "data").string());
      type = step.worker;
    } else {
      ws.meta.name = "x";
      ws.worker = spec.value("worker", std::string());
      if (ws.worker.empty()) return std::nullopt;
      api::Backend b;
      b.name = "a";
      config = spec.value("config", json::object());
      env = plan::service_backend_env(ws, b, (dir / "config.json").string());
      type = ws.worker;
    }
    fs::create_directories(dir / "data");
    std::ofstream(dir / "config.json") << config.dump();
    contract::set(env, contract::env::kHttpPort, 0);
    contract::set(env, contract::env::kMetricsPort, 0);
    contract::set(env, contract::env::kBindHost, "127.0.0.1");
    proc::Spec spec_;
    spec_.argv = {testing::worker_binary().string(), type};
    for (const auto& [k, v] : env)
      spec_.env[k] = v;
    spec_.log_file = dir / "worker.log";
    auto process = proc::Process::start(spec_);
    const auto log = [&] {
      std::ifstream in(spec_.log_file);
      return std::string(std::istreambuf_iterator<char>(in), {});
    };
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      if (log().find("\"worker started\"") != std::string::npos) {
        // Started is all this judge asks. No graceful stop: with no Kafka there, the worker's
        // shutdown waits out its readiness check's metadata timeout, two seconds a case.
        process.kill(SIGKILL);
        process.stop(std::chrono::seconds(5));
        return std::nullopt;
      }
      if (!process.running()) return "exit " + std::to_string(process.exit_code()) + ": " + log();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling, with a deadline
    }
    process.stop(std::chrono::seconds(2));
    return "neither started nor exited within 20 s: " + log();
  }
};

TEST_F(Agreement, ValidateTheApiServerAndTheWorkerJudgeAlike) {
  auto cases = from_files();
  const auto files = cases.size();
  auto more = generated();
  cases.insert(cases.end(), more.begin(), more.end());
  ASSERT_GT(files, 5U) << "examples and fixtures not found";
  const auto server = server_verdicts(cases);
  int started = 0, compared = 0;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(cases[i].label);
    const auto& c = cases[i];
    const auto refused = validate(c);
    if (c.server == Server::judges) {
      EXPECT_EQ(!refused.has_value(), server[i])
          << c.label << ": validate " << (refused ? "refuses: " + *refused : "accepts")
          << ", the API server " << (server[i] ? "accepts" : "refuses") << "\n"
          << c.manifest.dump();
    } else {
      EXPECT_TRUE(server[i]) << c.label << ": the API server was expected not to look";
    }
    if (c.worker == Worker::no || (c.worker == Worker::when_valid && refused)) continue;
    const bool is_pipeline = c.manifest["kind"] == "Pipeline";
    const std::size_t units = is_pipeline ? c.manifest["spec"]["steps"].size() : 1;
    // The worker refuses when any of its steps does (one is enough to fail the manifest).
    std::optional<std::string> worker;
    bool any = false;
    for (std::size_t u = 0; u < units; ++u) {
      if (is_pipeline && c.manifest["spec"]["steps"][u].value("worker", std::string()).empty())
        continue;
      any = true;
      const auto dir =
          testing::suite_dir() / ("case-" + std::to_string(i) + "-" + std::to_string(u));
      if (auto r = worker_refuses(c, u, dir); r && !worker)
        worker = std::move(r);
      else if (!r)
        ++started;
    }
    if (!any) continue;
    ++compared;
    EXPECT_EQ(!refused.has_value(), !worker.has_value())
        << c.label << ": validate " << (refused ? "refuses: " + *refused : "accepts")
        << ", the worker " << (worker ? "refuses: " + *worker : "starts") << "\n"
        << c.manifest.dump();
  }
  EXPECT_GT(started, 10);
  std::cout << cases.size() << " manifests judged, " << compared << " also by the worker ("
            << started << " started)\n";
}

}  // namespace
}  // namespace pipewright
