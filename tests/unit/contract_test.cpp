// The contract (pkg/contract) against the copies that must agree with it: the CRDs' schemas
// (every enum, default, pattern and limit, both ways), the workers this build runs, and the
// PIPEWRIGHT_* variables as the plan writes them and the worker reads them.

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "pkg/api/manifest.h"
#include "pkg/contract/duration.h"
#include "pkg/contract/env.h"
#include "pkg/contract/names.h"
#include "pkg/contract/spec.h"
#include "pkg/contract/workers.h"
#include "pkg/notify/settings.h"
#include "pkg/notify/template.h"
#include "pkg/plan/env.h"
#include "pkg/runtime/wiring.h"
#include "pkg/workers/workers.h"

namespace pipewright {
namespace {

namespace fs = std::filesystem;

fs::path source_root() {
  const char* dir = std::getenv("PIPEWRIGHT_SOURCE_DIR");
  return dir != nullptr ? fs::path(dir) : fs::current_path();
}

const std::map<std::string, std::string> kCrds = {
    {"Pipeline", "crds/pipewright.io_pipelines.yaml"},
    {"WeightedService", "crds/pipewright.io_weightedservices.yaml"}};

YAML::Node schema_of(const std::string& kind) {
  const auto doc = YAML::LoadFile((source_root() / kCrds.at(kind)).string());
  return doc["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
}

// Every constrained property below `spec` of a CRD, as a FieldRule, keyed by path.
std::map<std::string, contract::FieldRule> crd_rules(const std::string& kind,
                                                     std::vector<contract::CelRule>* cel) {
  std::map<std::string, contract::FieldRule> out;
  std::function<void(const YAML::Node&, const std::string&)> walk = [&](const YAML::Node& n,
                                                                        const std::string& path) {
    contract::FieldRule f;
    f.kind = kind == "Pipeline" ? "Pipeline" : "WeightedService";
    f.path = path;
    bool any = false;
    const auto num = [&](const char* key, auto& member) {
      if (!n[key]) return;
      member = n[key].as<long long>();
      any = true;
    };
    num("minimum", f.minimum);
    num("maximum", f.maximum);
    num("minLength", f.min_length);
    num("maxLength", f.max_length);
    num("minItems", f.min_items);
    num("maxItems", f.max_items);
    num("maxProperties", f.max_properties);
    if (n["pattern"]) f.pattern = n["pattern"].as<std::string>(), any = true;
    if (n["enum"]) f.enum_values = n["enum"].as<std::vector<std::string>>(), any = true;
    if (n["default"]) f.default_value = n["default"].as<std::string>(), any = true;
    if (any) out[path] = f;
    if (cel != nullptr && n["x-kubernetes-validations"]) {
      for (const auto& v : n["x-kubernetes-validations"]) {
        cel->push_back({f.kind, path, v["rule"].as<std::string>(),
                        v["message"] ? v["message"].as<std::string>() : ""});
      }
    }
    if (n["properties"]) {
      for (const auto& kv : n["properties"])
        walk(kv.second, path + "." + kv.first.as<std::string>());
    }
    if (n["items"]) walk(n["items"], path + "[]");
    if (n["additionalProperties"] && n["additionalProperties"].IsMap())
      walk(n["additionalProperties"], path + ".*");
  };
  walk(schema_of(kind)["properties"]["spec"], "spec");
  return out;
}

std::string describe(const contract::FieldRule& f) {
  std::string out;
  const auto add = [&](const char* name, const auto& v) {
    if (v) out += std::string(" ") + name + "=" + std::to_string(*v);
  };
  add("minimum", f.minimum);
  add("maximum", f.maximum);
  add("minLength", f.min_length);
  add("maxLength", f.max_length);
  add("minItems", f.min_items);
  add("maxItems", f.max_items);
  add("maxProperties", f.max_properties);
  if (!f.pattern.empty()) out += " pattern=" + f.pattern;
  if (!f.enum_values.empty()) out += " enum=" + ::testing::PrintToString(f.enum_values);
  if (f.default_value) out += " default=" + *f.default_value;
  return out.empty() ? " (nothing)" : out;
}

TEST(CrdContract, EveryLimitEnumDefaultAndPatternMatchesTheContract) {
  for (const auto& [kind, file] : kCrds) {
    auto in_crd = crd_rules(kind, nullptr);
    ASSERT_GT(in_crd.size(), 10U) << file;
    for (const auto& rule : contract::field_rules()) {
      if (rule.kind != kind) continue;
      const auto it = in_crd.find(rule.path);
      if (it == in_crd.end()) {
        ADD_FAILURE() << file << ": " << rule.path << " has no constraints; the contract says"
                      << describe(rule);
        continue;
      }
      EXPECT_EQ(describe(it->second), describe(rule)) << file << ": " << rule.path;
      in_crd.erase(it);
    }
    for (const auto& [path, rule] : in_crd) {
      ADD_FAILURE() << file << ": " << path << describe(rule)
                    << " is not in pkg/contract/spec.cpp (field_rules)";
    }
  }
}

TEST(CrdContract, CarriesTheCataloguesCelRules) {
  std::vector<contract::CelRule> in_crd;
  for (const auto& [kind, file] : kCrds)
    crd_rules(kind, &in_crd);
  for (const auto& rule : contract::cel_rules()) {
    const bool found = std::any_of(in_crd.begin(), in_crd.end(), [&](const auto& c) {
      return c.kind == rule.kind && c.path == rule.path && c.rule == rule.rule &&
             c.message == rule.message;
    });
    EXPECT_TRUE(found) << rule.kind << " " << rule.path << " lacks\n  - rule: \"" << rule.rule
                       << "\"\n    message: \"" << rule.message << "\"";
  }
  // A rule about built-in workers that the catalogue no longer says is stale.
  for (const auto& c : in_crd) {
    if (c.rule.find("self.worker in") == std::string::npos) continue;
    const auto all = contract::cel_rules();
    EXPECT_TRUE(
        std::any_of(all.begin(), all.end(), [&](const auto& r) { return r.rule == c.rule; }))
        << c.kind << " " << c.path << ": " << c.rule << " is not generated by the catalogue";
  }
}

TEST(Catalogue, EveryWorkerIsBuiltAndNothingElse) {
  for (const auto& name : contract::worker_names())
    EXPECT_TRUE(workers::implemented(name)) << name;
  EXPECT_FALSE(workers::implemented("no-such-worker"));
  EXPECT_EQ(contract::weighted_worker_names(), (std::vector<std::string>{"mult", "calc"}));
}

TEST(Catalogue, OneCountRuleForEveryWorker) {
  const auto* upload = contract::find_worker("upload");
  const auto* rotate = contract::find_worker("rotate");
  const auto* enrich = contract::find_worker("enrich");
  ASSERT_TRUE(upload && rotate && enrich);
  EXPECT_EQ(contract::check_outputs(*upload, 0), "the upload step takes one output, not 0");
  EXPECT_EQ(contract::check_outputs(*upload, 1), "");
  EXPECT_EQ(contract::check_outputs(*rotate, 0), "");  // files are still written
  EXPECT_EQ(contract::check_outputs(*rotate, 2), "the rotate step takes 0 to 1 outputs, not 2");
  EXPECT_EQ(contract::check_outputs(*enrich, 2), "the enrich step takes one output, not 2");
}

// --- The PIPEWRIGHT_* variables: what the plan writes is what the worker reads.

api::Pipeline pipeline_of(const std::string& yaml) {
  auto m = api::parse(yaml, "test.yaml");
  EXPECT_EQ(m.pipelines.size(), 1U);
  return m.pipelines.at(0);
}

const char* kPipeline = R"(apiVersion: pipewright.io/v1alpha1
kind: Pipeline
metadata: {name: shop, namespace: ns}
spec:
  kafka: {bootstrapServers: "k1:9092", secretRef: {name: kafka-creds}}
  storage: {size: 1Gi}
  topics:
    - {name: a}
    - {name: b, topicName: custom.b}
  delivery: {maxAttempts: 7, backoff: {initial: 999999999ms, max: 2h}, deadLetter: false}
  steps:
    - {name: s, worker: enrich, inputs: [a], outputs: [b], expose: {path: /s}, storage: true}
)";

TEST(EnvContract, WhatThePlanWritesTheWorkerReadsBack) {
  const auto p = pipeline_of(kPipeline);
  const auto env = plan::step_env(p, p.steps[0], {}, "/etc/c.json");
  std::set<std::string> read;
  const auto spy = [&](const std::string& name) {
    read.insert(name);
    return contract::lookup(env)(name);
  };
  const auto w = runtime::wiring_from_env(spy);
  EXPECT_EQ(w.namespace_, "ns");
  EXPECT_EQ(w.pipeline, "shop");
  EXPECT_EQ(w.step, "s");
  EXPECT_EQ(w.worker, "enrich");
  EXPECT_EQ(w.bootstrap, "k1:9092");
  EXPECT_EQ(w.inputs, (std::vector<std::string>{contract::topic_name("ns", "shop", "a")}));
  EXPECT_EQ(w.input_topics,
            (std::map<std::string, std::string>{{"a", contract::topic_name("ns", "shop", "a")}}));
  EXPECT_EQ(w.outputs, (std::map<std::string, std::string>{{"b", "custom.b"}}));
  EXPECT_EQ(w.group, contract::consumer_group("ns", "shop", "s"));
  EXPECT_EQ(w.max_attempts, 7);
  EXPECT_EQ(w.backoff_initial, std::chrono::milliseconds(999'999'999));
  EXPECT_EQ(w.backoff_max, std::chrono::hours(2));
  EXPECT_FALSE(w.dead_letter);
  EXPECT_EQ(w.config_path, "/etc/c.json");
  EXPECT_EQ(w.data_dir, "/data");
  EXPECT_EQ(w.kafka_secret_dir, "/etc/pipewright/kafka");
  EXPECT_EQ(w.base_path, "/s");
  EXPECT_EQ(w.http_port, 8080);
  EXPECT_EQ(w.metrics_port, 9090);
  // Nothing written goes unread.
  for (const auto& [name, value] : env)
    EXPECT_TRUE(read.contains(name)) << name << " is never read";
}

TEST(EnvContract, ABackendsVariablesToo) {
  const auto m = api::parse(R"(apiVersion: pipewright.io/v1alpha1
kind: WeightedService
metadata: {name: mult, namespace: ns}
spec:
  worker: mult
  port: 8181
  backends: [{name: primary}]
  expose: {path: /mult}
)",
                            "ws.yaml");
  const auto& ws = m.weighted_services.at(0);
  const auto env = plan::service_backend_env(ws, ws.backends[0], "/c.json");
  std::set<std::string> read;
  const auto w = runtime::wiring_from_env([&](const std::string& name) {
    read.insert(name);
    return contract::lookup(env)(name);
  });
  EXPECT_EQ(w.service, "mult");
  EXPECT_EQ(w.backend, "primary");
  EXPECT_EQ(w.worker, "mult");
  EXPECT_EQ(w.http_port, 8181);
  EXPECT_EQ(w.base_path, "/mult");
  EXPECT_EQ(w.config_path, "/c.json");
  for (const auto& [name, value] : env)
    EXPECT_TRUE(read.contains(name)) << name << " is never read";
}

TEST(EnvContract, LocalModesPatchesKeepTheOrderAndType) {
  contract::EnvVars env;
  contract::set(env, contract::env::kHttpPort, 8080);
  contract::set(env, contract::env::kBindHost, "127.0.0.1");
  contract::set(env, contract::env::kHttpPort, 18080);
  EXPECT_EQ(env, (contract::EnvVars{{"PIPEWRIGHT_HTTP_PORT", "18080"},
                                    {"PIPEWRIGHT_BIND_HOST", "127.0.0.1"}}));
  EXPECT_EQ(contract::get(contract::lookup(env), contract::env::kHttpPort), 18080);
}

TEST(EnvContract, ABadValueNamesItsVariable) {
  const auto bad = [](const char* name, const char* value) {
    contract::EnvVars env = {{name, value}};
    try {
      (void)runtime::wiring_from_env(contract::lookup(env));
    } catch (const runtime::ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_EQ(bad("PIPEWRIGHT_MAX_ATTEMPTS", "0"),
            "PIPEWRIGHT_MAX_ATTEMPTS=0: must be a whole number from 1 to 1000");
  EXPECT_EQ(bad("PIPEWRIGHT_DEAD_LETTER", "yes"), "PIPEWRIGHT_DEAD_LETTER must be true or false");
  EXPECT_EQ(
      bad("PIPEWRIGHT_BACKOFF_MAX", "10000000000ms"),
      "PIPEWRIGHT_BACKOFF_MAX: '10000000000ms' is not " + std::string(contract::kDurationRule));
  EXPECT_EQ(bad("PIPEWRIGHT_OUTPUTS", "nope"), "PIPEWRIGHT_OUTPUTS: 'nope' is not logical=topic");
}

// --- Durations: one rule for validate and the worker (it once was two: validate took
// 10000000000ms, the worker exited 2 on it).

bool validate_accepts(const std::string& yaml) {
  try {
    (void)api::parse(yaml, "t.yaml");
    return true;
  } catch (const api::ManifestError&) {
    return false;
  }
}

bool worker_accepts_backoff(const std::string& text) {
  contract::EnvVars env = {{"PIPEWRIGHT_BACKOFF_INITIAL", text}};
  try {
    (void)runtime::wiring_from_env(contract::lookup(env));
    return true;
  } catch (const runtime::ConfigError&) {
    return false;
  }
}

TEST(DurationContract, ValidateAndTheWorkerAgreeAtTheEdges) {
  for (const std::string d : {"999999999ms", "10000000000ms", "1000000000ms", "0ms", "1s", "5m",
                              "2h", "1d", "1.5s", "-1s", "s", "1 s", "01s"}) {
    const std::string yaml =
        "apiVersion: pipewright.io/v1alpha1\nkind: Pipeline\n"
        "metadata: {name: p}\nspec:\n  topics: [{name: a}]\n"
        "  delivery: {backoff: {initial: \"" +
        d + "\"}}\n  steps: [{name: s, image: x, inputs: [a]}]\n";
    EXPECT_EQ(validate_accepts(yaml), worker_accepts_backoff(d)) << d;
    EXPECT_EQ(validate_accepts(yaml), contract::parse_duration(d).has_value()) << d;
  }
}

// --- The disagreements the issue listed, now settled.

std::string step_yaml(const std::string& step, const std::string& extra = "") {
  return "apiVersion: pipewright.io/v1alpha1\nkind: Pipeline\nmetadata: {name: p}\nspec:\n"
         "  storage: {size: 1Gi}\n  topics: [{name: a}, {name: b}, {name: c}]\n" +
         extra + "  steps:\n    - " + step + "\n";
}

TEST(Settled, AWeightedServiceRunsOnlyTheWorkersThatNeedNoTopics) {
  const auto ws = [](const std::string& worker) {
    return "apiVersion: pipewright.io/v1alpha1\nkind: WeightedService\nmetadata: {name: w}\n"
           "spec:\n  worker: " +
           worker + "\n  backends: [{name: a}]\n";
  };
  EXPECT_TRUE(validate_accepts(ws("mult")));
  EXPECT_TRUE(validate_accepts(ws("calc")));
  for (const auto& name : contract::worker_names()) {
    EXPECT_EQ(validate_accepts(ws(name)), contract::find_worker(name)->weighted) << name;
  }
}

TEST(Settled, OutputCountsAreTheWorkers) {
  EXPECT_FALSE(validate_accepts(step_yaml("{name: u, worker: upload, storage: true}")));
  EXPECT_TRUE(
      validate_accepts(step_yaml("{name: u, worker: upload, storage: true, outputs: [a]}")));
  EXPECT_TRUE(validate_accepts(step_yaml("{name: r, worker: rotate, storage: true, inputs: [a]}")));
  EXPECT_FALSE(validate_accepts(
      step_yaml("{name: r, worker: rotate, storage: true, inputs: [a], outputs: [b, c]}")));
  EXPECT_FALSE(
      validate_accepts(step_yaml("{name: e, worker: enrich, inputs: [a], outputs: [b, c]}")));
  EXPECT_FALSE(validate_accepts(step_yaml("{name: f, worker: fraud, outputs: [b]}")));
}

TEST(Settled, AWorkerThatKeepsFilesNeedsStorage) {
  EXPECT_FALSE(validate_accepts(step_yaml("{name: g, worker: grayscale, inputs: [a]}")));
  EXPECT_TRUE(
      validate_accepts(step_yaml("{name: g, worker: grayscale, inputs: [a], storage: true}")));
}

TEST(Settled, ConfigKeysAreTheWorkers) {
  EXPECT_FALSE(validate_accepts(
      step_yaml("{name: r, worker: rotate, storage: true, inputs: [a], config: {note: x}}")));
  EXPECT_FALSE(validate_accepts(
      step_yaml("{name: r, worker: rotate, storage: true, inputs: [a], config: {angle: 45}}")));
  EXPECT_TRUE(validate_accepts(
      step_yaml("{name: r, worker: rotate, storage: true, inputs: [a], config: {angle: 270}}")));
  EXPECT_FALSE(validate_accepts(step_yaml(
      "{name: e, worker: events-api, inputs: [a], outputs: [b], config: {maxWait: 0s}}")));
  EXPECT_FALSE(validate_accepts(step_yaml(
      "{name: e, worker: events-api, inputs: [a], outputs: [b], config: {maxBodyBytes: 0}}")));
  // A custom image's config is its own.
  EXPECT_TRUE(validate_accepts(step_yaml("{name: c, image: x, config: {anything: 1}}")));
}

// The notify worker's nested config (smtp, telegram, webhook, templates): validate refuses, at
// the key's own path, what parse_settings refuses at start, and accepts what it accepts. Before
// the contract described nested keys, validate took every refused case below.
std::vector<std::string> error_paths(const std::string& yaml) {
  std::vector<std::string> out;
  try {
    (void)api::parse(yaml, "t.yaml");
  } catch (const api::ManifestError& e) {
    for (const auto& err : e.errors())
      out.push_back(err.path);
  }
  return out;
}

std::optional<std::string> worker_refuses(const nlohmann::json& config) {
  try {
    (void)notify::parse_settings(config);
    return std::nullopt;
  } catch (const notify::ConfigError& e) {
    return e.path();
  }
}

std::string notify_step(const nlohmann::json& config) {
  return step_yaml("{name: notify, worker: notify, inputs: [a], config: " + config.dump() + "}");
}

TEST(Settled, NotifysNestedConfigIsJudgedAsTheWorkerJudgesIt) {
  using nlohmann::json;
  // config, then the path (below spec.steps[0].config) both name.
  const std::vector<std::pair<json, std::string>> refused = {
      {{{"smtp", {{"hots", "mail"}}}}, "smtp.hots"},
      {{{"smtp", {{"password", "x"}}}}, "smtp.password"},
      {{{"smtp", {{"port", "x"}}}}, "smtp.port"},
      {{{"smtp", {{"port", 0}}}}, "smtp.port"},
      {{{"smtp", {{"port", 65536}}}}, "smtp.port"},
      {{{"smtp", {{"port", 25.5}}}}, "smtp.port"},
      {{{"smtp", {{"starttls", "yes"}}}}, "smtp.starttls"},
      {{{"smtp", {{"host", "mail:25"}}}}, "smtp.host"},
      {{{"smtp", {{"from", "nobody"}}}}, "smtp.from"},
      {{{"smtp", {{"secretRef", 1}}}}, "smtp.secretRef"},
      {{{"smtp", "mail.example.com"}}, "smtp"},
      {{{"telegram", {{"chat", "1"}}}}, "telegram.chat"},
      {{{"telegram", {{"baseUrl", "ftp://x"}}}}, "telegram.baseUrl"},
      {{{"telegram", {{"chatId", true}}}}, "telegram.chatId"},
      {{{"webhook", {{"uri", "http://x"}}}}, "webhook.uri"},
      {{{"webhook", {{"url", "hooks.example.com"}}}}, "webhook.url"},
      {{{"channels", {"webhook"}}}, "webhook.url"},
      {{{"channels", {"webhook"}}, {"webhook", {{"url", nullptr}}}}, "webhook.url"},
      {{{"channels", {"log", "sms"}}}, "channels"},
      {{{"channels", {"log", "log"}}}, "channels"},
      {{{"channels", json::array()}}, "channels"},
      {{{"locale", "fr"}}, "locale"},
      {{{"to", "a@b.c, d@e.f"}}, "to"},
      {{{"templates", {{"rotate", 1}}}}, "templates.rotate"},
      {{{"templates", {{"rotate", ""}}}}, "templates.rotate"},
      {{{"templates", "x"}}, "templates"},
  };
  // A credential gets the worker's hint, from validate too.
  {
    const auto yaml = notify_step({{"smtp", {{"password", "hunter2"}}}});
    std::string what;
    try {
      (void)api::parse(yaml, "t.yaml");
    } catch (const api::ManifestError& e) {
      what = e.what();
    }
    EXPECT_NE(what.find("config.smtp.password: credentials are not accepted"), std::string::npos)
        << what;
    EXPECT_EQ(what.find("hunter2"), std::string::npos) << what;
  }
  for (const auto& [config, path] : refused) {
    SCOPED_TRACE(config.dump());
    const auto worker = worker_refuses(config);
    ASSERT_TRUE(worker.has_value()) << "the worker starts with it";
    // The worker's path starts at "config." or names a channel's index ("config.channels[1]").
    EXPECT_EQ(worker->substr(0, 7 + path.size()), "config." + path);
    EXPECT_EQ(error_paths(notify_step(config)),
              std::vector<std::string>{"spec.steps[0].config." + path});
  }
  const std::vector<json> accepted = {
      json::object(),
      {{"smtp", {{"port", 1}}}},
      {{"smtp", {{"port", 65535}, {"host", "mail.example.com"}, {"starttls", false}}}},
      {{"smtp", {{"host", ""}, {"from", "bot@example.com"}, {"secretRef", "mail"}}}},
      {{"smtp", nullptr}, {"channels", nullptr}, {"locale", nullptr}},
      {{"telegram", {{"chatId", 12345}, {"baseUrl", "http://127.0.0.1:9/"}}}},
      {{"telegram", {{"chatId", "@ops"}, {"secretRef", "tg"}}}},
      {{"channels", {"webhook", "log"}}, {"webhook", {{"url", "https://hooks.example.com/x"}}}},
      {{"channels", {"smtp", "log"}}, {"locale", "en"}, {"to", "ops@example.com"}},
      {{"locale", "pt-BR"}, {"templates", {{"rotate", "{file} girou"}}}},
  };
  for (const auto& config : accepted) {
    SCOPED_TRACE(config.dump());
    EXPECT_FALSE(worker_refuses(config).has_value());
    EXPECT_EQ(error_paths(notify_step(config)), std::vector<std::string>{});
  }
}

TEST(Settled, ANestedConfigProblemPointsAtItsLine) {
  const std::string yaml =
      "apiVersion: pipewright.io/v1alpha1\nkind: Pipeline\nmetadata: {name: p}\nspec:\n"
      "  topics: [{name: a}]\n  steps:\n    - name: tell\n      worker: notify\n"
      "      inputs: [a]\n      config:\n        smtp:\n          host: mail\n"
      "          port: 70000\n";
  std::vector<api::FieldError> errors;
  try {
    (void)api::parse(yaml, "t.yaml");
  } catch (const api::ManifestError& e) {
    errors = e.errors();
  }
  ASSERT_EQ(errors.size(), 1U);
  EXPECT_EQ(errors[0].path, "spec.steps[0].config.smtp.port");
  EXPECT_EQ(errors[0].source.line, 13);
}

// The contract said notify's locale falls back to "en"; the worker and SPEC section 3 say pt-BR,
// and they win. The worker now reads its default, channels and locales from the contract.
TEST(Settled, NotifysDefaultsAndChoicesAreTheContracts) {
  const auto& notify_traits = *contract::find_worker("notify");
  const auto* locale = contract::find_config_key(notify_traits, "locale");
  const auto* channels = contract::find_config_key(notify_traits, "channels");
  ASSERT_NE(locale, nullptr);
  ASSERT_NE(channels, nullptr);
  EXPECT_EQ(locale->fallback, "pt-BR");
  const auto defaults = notify::parse_settings(nlohmann::json());
  EXPECT_EQ(defaults.locale, locale->fallback);
  EXPECT_EQ(notify::Settings().locale, locale->fallback);
  EXPECT_EQ(defaults.channels, std::vector<std::string>{"log"});
  EXPECT_EQ(channels->fallback, "[log]");
  // Every locale the contract offers has texts, and the first (the default) is pt-BR.
  EXPECT_EQ(std::vector<std::string>(locale->choices.begin(), locale->choices.end()),
            notify::locales());
  EXPECT_EQ(std::vector<std::string>(channels->choices.begin(), channels->choices.end()),
            notify::channel_names());
  EXPECT_EQ(contract::find_config_key(notify_traits, "smtp.port")->max, 65535);
  EXPECT_EQ(contract::find_config_key(notify_traits, "smtp.nope"), nullptr);
}

TEST(Settled, StringsAndSizesAsTheApiServerTakesThem) {
  EXPECT_FALSE(validate_accepts(
      step_yaml("{name: c, image: x}")
          .replace(step_yaml("{name: c, image: x}").find("size: 1Gi"), 9, "size: lots")));
  EXPECT_FALSE(validate_accepts(step_yaml("{name: c, image: x, expose: {path: /a//b}}")));
  EXPECT_FALSE(validate_accepts(step_yaml("{name: c, image: x, expose: {path: '/a%20b'}}")));
  EXPECT_FALSE(validate_accepts(step_yaml("{name: " + std::string(41, 'a') + ", image: x}")));
  EXPECT_TRUE(validate_accepts(step_yaml("{name: " + std::string(40, 'a') + ", image: x}")));
  // kubectl sends a plain number as a number: the API server refuses it for a string field.
  EXPECT_FALSE(validate_accepts(step_yaml("{name: c, image: 123}")));
  EXPECT_TRUE(validate_accepts(step_yaml("{name: c, image: \"123\"}")));
}

}  // namespace
}  // namespace pipewright

// spec.networkPolicy.kafkaCIDRs: validate refuses what the API server's isCIDR() refuses (an
// octet over 255 or a prefix over the family's bits passed the first, regex-shaped check).
TEST(SpecContract, CidrsAreCheckedAsTheApiServerChecksThem) {
  for (const auto* good : {"10.0.0.0/8", "198.18.0.0/24", "0.0.0.0/0", "fd00::/8", "::1/128"})
    EXPECT_TRUE(pipewright::contract::is_cidr(good)) << good;
  for (const auto* bad : {"10.0.0.0", "999.0.0.0/8", "10.0.0.0/33", "fd00::/129", "10.0.0.0/", "/8",
                          "10.0.0.0/8x", "example.com/8", "10.0.0.0/0008"})
    EXPECT_FALSE(pipewright::contract::is_cidr(bad)) << bad;
}
