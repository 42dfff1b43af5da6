#include "pkg/plan/render.h"

#include "pkg/contract/names.h"
#include "pkg/contract/quantity.h"
#include "pkg/plan/network_policy.h"

#include <map>
#include <optional>
#include <utility>

namespace pipewright::plan {
namespace {

using contract::canonical_quantity;
using contract::child_name;
using nlohmann::json;

constexpr const char* kConfigKey = "config.json";
constexpr const char* kNginxKey = "nginx.conf";
constexpr int kRouterPort = 8080;

std::string router_name(const std::string& owner) {
  return child_name(owner, std::string(contract::kRouterPart));
}

std::string data_claim(const std::string& owner) {
  return child_name(owner, std::string(contract::kDataPart));
}

// The resource whose children are rendered.
struct Owner {
  std::string kind;  // Pipeline | WeightedService
  api::Meta meta;
  std::string label;  // kPipelineLabel | kWeightedServiceLabel
};

// Labels a Deployment selects its pods by (and a Service its endpoints by).
json selector(const Owner& owner, const std::string& component) {
  return {{owner.label, owner.meta.name}, {"app.kubernetes.io/component", component}};
}

json labels(const Owner& owner, const std::string& app, const std::string& component) {
  json l = selector(owner, component);
  l["app.kubernetes.io/name"] = app;
  l["app.kubernetes.io/instance"] = owner.meta.name;
  l[kManagedBy] = "pipewright";
  return l;
}

// The app name of a worker's children; custom images have no worker name.
std::string app_name(const std::string& worker) {
  return worker.empty() ? "custom" : worker;
}

json object(const Owner& owner, const std::string& api_version, const std::string& kind,
            const std::string& name, const json& object_labels) {
  json metadata = {{"name", name}, {"namespace", owner.meta.namespace_}, {"labels", object_labels}};
  if (!owner.meta.uid.empty()) {
    const json ref = {{"apiVersion", api::kGroupVersion},
                      {"kind", owner.kind},
                      {"name", owner.meta.name},
                      {"uid", owner.meta.uid},
                      {"controller", true},
                      {"blockOwnerDeletion", true}};
    metadata["ownerReferences"] = json::array({ref});
  }
  return {{"apiVersion", api_version}, {"kind", kind}, {"metadata", metadata}};
}

json config_map(const Owner& owner, const std::string& name, const json& object_labels,
                const json& data) {
  json cm = object(owner, "v1", "ConfigMap", name, object_labels);
  cm["data"] = data;
  return stamped(cm);
}

json env_list(const EnvVars& env) {
  json out = json::array();
  // The API server drops an empty value (it means the same): leave it out to match what it keeps.
  for (const auto& [name, value] : env)
    out.push_back(value.empty() ? json{{"name", name}} : json{{"name", name}, {"value", value}});
  return out;
}

json container_port(const std::string& name, int port) {
  return {{"name", name}, {"containerPort", port}};
}

json service_port(const std::string& name, int port, const std::string& target) {
  return {{"name", name}, {"port", port}, {"targetPort", target}};
}

json http_probe(const std::string& path) {
  return {{"httpGet", {{"path", path}, {"port", "http"}}}};
}

json mount(const std::string& name, const std::string& path, bool read_only) {
  json m = {{"name", name}, {"mountPath", path}};
  if (read_only) m["readOnly"] = true;
  return m;
}

// The uid and gid of the images' user (the Dockerfile's 65532), set explicitly so a restricted
// namespace admits custom images whose USER is a name.
constexpr int kRunAs = 65532;
constexpr const char* kTmpDir = "/tmp";

// What a `restricted` namespace requires of every container, plus a read-only root: what must
// be written goes to /tmp (an emptyDir) or the step's /data.
json container_security() {
  return {{"allowPrivilegeEscalation", false},
          {"readOnlyRootFilesystem", true},
          {"runAsNonRoot", true},
          {"capabilities", {{"drop", json::array({"ALL"})}}}};
}

// The pod-level half, and no API token: no worker or router talks to the API server.
json pod_spec(const json& container, json volumes) {
  volumes.push_back({{"name", "tmp"}, {"emptyDir", json::object()}});
  return {{"automountServiceAccountToken", false},
          {"enableServiceLinks", false},
          {"securityContext",
           {{"runAsNonRoot", true},
            {"runAsUser", kRunAs},
            {"runAsGroup", kRunAs},
            {"fsGroup", kRunAs},
            {"seccompProfile", {{"type", "RuntimeDefault"}}}}},
          {"containers", json::array({container})},
          {"volumes", volumes}};
}

json resource_list(const std::map<std::string, std::string>& list) {
  json out = json::object();
  for (const auto& [name, quantity] : list)
    out[name] = name == "memory" ? canonical_quantity(quantity) : quantity;
  return out;
}

json resources(const std::optional<api::Resources>& own, const api::Resources& fallback) {
  const auto& r = own ? *own : fallback;
  json out = json::object();
  if (!r.requests.empty()) out["requests"] = resource_list(r.requests);
  if (!r.limits.empty()) out["limits"] = resource_list(r.limits);
  return out;
}

// The container fields every Deployment of ours shares.
void harden(json& container, const RenderOptions& options, const json& container_resources) {
  container["imagePullPolicy"] = options.image_pull_policy;
  container["securityContext"] = container_security();
  container["resources"] = container_resources;
  container["volumeMounts"].push_back(mount("tmp", kTmpDir, false));
}

// A `pipewright-worker` container (or a custom image): the worker name as its only argument.
json worker_container(const std::string& image, const std::string& worker, const EnvVars& env,
                      int http_port, const json& mounts) {
  json c = {{"name", "worker"},
            {"image", image},
            {"env", env_list(env)},
            {"ports", json::array({container_port("http", http_port),
                                   container_port("metrics", kMetricsPort)})},
            {"readinessProbe", http_probe("/readyz")},
            {"livenessProbe", http_probe("/healthz")},
            {"volumeMounts", mounts}};
  if (!worker.empty()) c["args"] = json::array({worker});
  return c;
}

json deployment(const Owner& owner, const std::string& name, const json& pod_labels,
                const std::string& component, int replicas, const json& pod_annotations,
                const json& pod_spec) {
  json d = object(owner, "apps/v1", "Deployment", name, pod_labels);
  d["spec"] = {{"replicas", replicas},
               {"selector", {{"matchLabels", selector(owner, component)}}},
               {"template",
                {{"metadata", {{"labels", pod_labels}, {"annotations", pod_annotations}}},
                 {"spec", pod_spec}}}};
  return stamped(d);
}

json worker_annotations(const json& config_data) {
  return {{kConfigHash, config_hash(config_data.dump())},
          {"prometheus.io/scrape", "true"},
          {"prometheus.io/port", std::to_string(kMetricsPort)}};
}

json service_object(const Owner& owner, const std::string& name, const json& object_labels,
                    const std::string& component, const json& ports) {
  json s = object(owner, "v1", "Service", name, object_labels);
  s["spec"] = {{"selector", selector(owner, component)}, {"ports", ports}};
  return stamped(s);
}

// One Prefix path per route, each to the named Service's `http` port.
json ingress(const Owner& owner, const std::optional<api::Ingress>& settings,
             const std::vector<std::pair<std::string, std::string>>& routes) {
  json paths = json::array();
  for (const auto& [path, service_name] : routes) {
    paths.push_back(
        {{"path", path},
         {"pathType", "Prefix"},
         {"backend", {{"service", {{"name", service_name}, {"port", {{"name", "http"}}}}}}}});
  }
  json rule = {{"http", {{"paths", paths}}}};
  json spec = json::object();
  if (settings && !settings->class_name.empty()) spec["ingressClassName"] = settings->class_name;
  if (settings && !settings->host.empty()) rule["host"] = settings->host;
  if (settings && !settings->tls_secret_name.empty()) {
    json tls = {{"secretName", settings->tls_secret_name}};
    if (!settings->host.empty()) tls["hosts"] = json::array({settings->host});
    spec["tls"] = json::array({tls});
  }
  spec["rules"] = json::array({rule});
  json i = object(owner, "networking.k8s.io/v1", "Ingress", owner.meta.name,
                  labels(owner, "pipewright", "ingress"));
  i["spec"] = spec;
  return stamped(i);
}

// --- Pipeline ---

// A notify step's credentials: config.smtp.secretRef (keys `username`, `password`) and
// config.telegram.secretRef (key `token`) become environment variables from those Secrets, so no
// credential is ever in a ConfigMap or the Deployment itself.
json notify_secret_env(const api::Step& step) {
  json out = json::array();
  if (step.worker != "notify" || !step.config.is_object()) return out;
  const auto ref = [&](const char* channel) -> std::string {
    const auto c = step.config.find(channel);
    if (c == step.config.end() || !c->is_object()) return {};
    const auto r = c->find("secretRef");
    return r != c->end() && r->is_string() ? r->get<std::string>() : std::string();
  };
  const auto from = [&](std::string_view name, const std::string& secret, const char* key) {
    out.push_back({{"name", std::string(name)},
                   {"valueFrom", {{"secretKeyRef", {{"name", secret}, {"key", key}}}}}});
  };
  if (const auto smtp = ref("smtp"); !smtp.empty()) {
    from(contract::env::kSmtpUsername.name, smtp, "username");
    from(contract::env::kSmtpPassword.name, smtp, "password");
  }
  if (const auto telegram = ref("telegram"); !telegram.empty())
    from(contract::env::kTelegramToken.name, telegram, "token");
  return out;
}

json step_deployment(const api::Pipeline& p, const api::Step& step, const RenderOptions& options,
                     const Owner& owner, const json& config_data) {
  const auto name = child_name(p.meta.name, step.name);
  json mounts = json::array({mount("config", kConfigDir, true)});
  json volumes = json::array({{{"name", "config"}, {"configMap", {{"name", name}}}}});
  if (step.storage) {
    mounts.push_back(mount("data", kDataDir, false));
    volumes.push_back(
        {{"name", "data"}, {"persistentVolumeClaim", {{"claimName", data_claim(p.meta.name)}}}});
  }
  if (!p.kafka_secret.empty()) {
    mounts.push_back(mount("kafka", kKafkaSecretDir, true));
    volumes.push_back({{"name", "kafka"}, {"secret", {{"secretName", p.kafka_secret}}}});
  }
  const auto image = step.image.empty() ? options.worker_image : step.image;
  auto container =
      worker_container(image, step.worker, step_env(p, step, options), kHttpPort, mounts);
  for (const auto& env : notify_secret_env(step))
    container["env"].push_back(env);
  harden(container, options, resources(step.resources, options.worker_resources));
  return deployment(owner, name, labels(owner, app_name(step.worker), step.name), step.name,
                    step.replicas, worker_annotations(config_data), pod_spec(container, volumes));
}

json storage_claim(const Owner& owner, const api::Storage& storage) {
  json c = object(owner, "v1", "PersistentVolumeClaim", data_claim(owner.meta.name),
                  labels(owner, "pipewright", "storage"));
  c["spec"] = {{"accessModes", json::array({storage.access_mode})},
               {"resources", {{"requests", {{"storage", canonical_quantity(storage.size)}}}}}};
  if (!storage.storage_class_name.empty())
    c["spec"]["storageClassName"] = storage.storage_class_name;
  return stamped(c);
}

// The config file a worker reads: pretty, so `kubectl get configmap` shows it readably.
json config_data(const json& config) {
  const json& c = config.is_null() ? json::object() : config;
  return {{kConfigKey, c.dump(2) + "\n"}};
}

// --- WeightedService ---

std::string backend_name(const api::WeightedService& ws, const api::Backend& b) {
  return child_name(ws.meta.name, b.name);
}

json backend_deployment(const api::WeightedService& ws, const api::Backend& b,
                        const RenderOptions& options, const Owner& owner, const json& config) {
  const auto router = router_name(ws.meta.name);
  // Only config.json of the shared ConfigMap: the backends never read nginx.conf.
  const json volume = {
      {"name", "config"},
      {"configMap",
       {{"name", router}, {"items", json::array({{{"key", kConfigKey}, {"path", kConfigKey}}})}}}};
  const auto image = ws.image.empty() ? options.worker_image : ws.image;
  auto container = worker_container(image, ws.worker, service_backend_env(ws, b), ws.port,
                                    json::array({mount("config", kConfigDir, true)}));
  harden(container, options, resources(b.resources, options.worker_resources));
  return deployment(owner, backend_name(ws, b), labels(owner, app_name(ws.worker), b.name), b.name,
                    b.replicas, worker_annotations(config),
                    pod_spec(container, json::array({volume})));
}

json router_deployment(const Owner& owner, const RenderOptions& options,
                       const std::string& nginx_conf) {
  const auto name = router_name(owner.meta.name);
  json nginx_mount = mount("config", "/etc/nginx/nginx.conf", true);
  nginx_mount["subPath"] = kNginxKey;
  json container = {
      {"name", "router"},
      {"image", options.router_image},
      {"ports", json::array({container_port("http", kRouterPort)})},
      {"readinessProbe", http_probe("/healthz")},
      {"livenessProbe", http_probe("/healthz")},
      {"volumeMounts", json::array({nginx_mount})},
      // Endpoints are removed while the old pod still serves; nginx then
      // stops gracefully (the image's STOPSIGNAL is SIGQUIT).
      {"lifecycle", {{"preStop", {{"exec", {{"command", json::array({"sleep", "5"})}}}}}}}};
  const json volume = {
      {"name", "config"},
      {"configMap",
       {{"name", name}, {"items", json::array({{{"key", kNginxKey}, {"path", kNginxKey}}})}}}};
  harden(container, options, resources(std::nullopt, options.router_resources));
  // A subPath mount never sees ConfigMap updates: the hash rolls the router instead.
  const json annotations = {{kConfigHash, config_hash(nginx_conf)}};
  auto d = deployment(owner, name, labels(owner, "router", "router"), "router", 1, annotations,
                      pod_spec(container, json::array({volume})));
  // A weight change rolls the router: the new pod is ready before the old one leaves, so no
  // request finds the Service without a router.
  d["spec"]["strategy"] = {{"type", "RollingUpdate"},
                           {"rollingUpdate", {{"maxUnavailable", 0}, {"maxSurge", 1}}}};
  return stamped(d);
}

// Gateway API cannot express a backup: only the weighted backends are routed.
json http_route(const api::WeightedService& ws, const Owner& owner) {
  json parent = {{"name", ws.gateway->name}};
  if (!ws.gateway->namespace_.empty()) parent["namespace"] = ws.gateway->namespace_;
  json backends = json::array();
  for (const auto& b : ws.backends) {
    if (b.backup) continue;
    backends.push_back({{"name", backend_name(ws, b)}, {"port", ws.port}, {"weight", b.weight}});
  }
  json rule = {{"backendRefs", backends}};
  if (!ws.expose_path.empty()) {
    rule["matches"] =
        json::array({{{"path", {{"type", "PathPrefix"}, {"value", ws.expose_path}}}}});
  }
  json spec = {{"parentRefs", json::array({parent})}, {"rules", json::array({rule})}};
  if (ws.ingress && !ws.ingress->host.empty()) spec["hostnames"] = json::array({ws.ingress->host});
  json r = object(owner, "gateway.networking.k8s.io/v1", "HTTPRoute", ws.meta.name,
                  labels(owner, "pipewright", "httproute"));
  r["spec"] = spec;
  return stamped(r);
}

}  // namespace

std::vector<json> render(const api::Pipeline& pipeline, const RenderOptions& options) {
  const Owner owner{"Pipeline", pipeline.meta, kPipelineLabel};
  std::vector<json> out;
  std::vector<std::pair<std::string, std::string>> routes;
  for (const auto& step : pipeline.steps) {
    const auto name = child_name(pipeline.meta.name, step.name);
    const auto step_labels = labels(owner, app_name(step.worker), step.name);
    const auto data = config_data(step.config);
    out.push_back(config_map(owner, name, step_labels, data));
    out.push_back(step_deployment(pipeline, step, options, owner, data));
    if (step.expose_path.empty()) continue;
    out.push_back(service_object(owner, name, step_labels, step.name,
                                 json::array({service_port("http", 80, "http"),
                                              service_port("metrics", kMetricsPort, "metrics")})));
    routes.emplace_back(step.expose_path, name);
  }
  if (!routes.empty()) out.push_back(ingress(owner, pipeline.ingress, routes));
  if (!pipeline.storage.size.empty()) out.push_back(storage_claim(owner, pipeline.storage));
  for (const auto& [name, spec] : network_policies(pipeline, options))  // network_policy.h
    out.push_back(stamped(with_spec(object(owner, "networking.k8s.io/v1", "NetworkPolicy", name,
                                           labels(owner, "pipewright", "network-policy")),
                                    spec)));
  return out;
}

std::vector<json> render(const api::WeightedService& ws, const RenderOptions& options) {
  const Owner owner{"WeightedService", ws.meta, kWeightedServiceLabel};
  // The router reaches each backend by its Service's cluster DNS name.
  const auto backend_address = [&](const api::Backend& b) {
    return backend_name(ws, b) + "." + ws.meta.namespace_ +
           ".svc.cluster.local:" + std::to_string(ws.port);
  };
  std::vector<json> out;
  const auto config = config_data(ws.config);
  for (const auto& b : ws.backends) {
    out.push_back(backend_deployment(ws, b, options, owner, config));
    out.push_back(service_object(owner, backend_name(ws, b),
                                 labels(owner, app_name(ws.worker), b.name), b.name,
                                 json::array({service_port("http", ws.port, "http"),
                                              service_port("metrics", kMetricsPort, "metrics")})));
  }
  const auto router_labels = labels(owner, "router", "router");
  const auto conf = router_nginx_conf(ws, backend_address, std::to_string(kRouterPort));
  json data = config;
  data[kNginxKey] = conf;
  out.push_back(config_map(owner, router_name(ws.meta.name), router_labels, data));
  out.push_back(router_deployment(owner, options, conf));
  out.push_back(service_object(owner, ws.meta.name, router_labels, "router",
                               json::array({service_port("http", 80, "http")})));
  if (!ws.expose_path.empty())
    out.push_back(ingress(owner, ws.ingress, {{ws.expose_path, ws.meta.name}}));
  if (ws.gateway) out.push_back(http_route(ws, owner));
  return out;
}

}  // namespace pipewright::plan
