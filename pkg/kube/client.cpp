#include "pkg/kube/client.h"

#include <cpprest/uri.h>
#include <random>

#include "pkg/kube/rest.h"

namespace pipewright::kube {
namespace {

using nlohmann::json;

constexpr const char* kFieldManager = "pipewright";
// A healthy watch hears at least a bookmark about once a minute; this much silence means the
// connection died without a word (the server's end of a watch is 300-360 s).
constexpr std::chrono::seconds kWatchIdleTimeout{150};

std::string encode(const std::string& value) {
  return web::uri::encode_data_string(value);
}

// Like client-go: spread the servers' ends of watches so that reconnections do not come in herds.
int watch_timeout_seconds() {
  thread_local std::mt19937 rng{std::random_device{}()};
  return 300 + std::uniform_int_distribution<int>(0, 59)(rng);
}

std::string string_at(const json& object, const char* pointer) {
  const json::json_pointer p(pointer);
  if (!object.contains(p)) return {};
  const json& v = object.at(p);
  return v.is_string() ? v.get<std::string>() : std::string();
}

void fill_type(json& object, const Resource& r) {
  if (!object.is_object()) return;
  if (!object.contains("apiVersion")) object["apiVersion"] = r.api_version();
  if (!object.contains("kind")) object["kind"] = r.kind;
}

// A metav1.Status (a response body or an ERROR event's object) as an ApiError. `context` says
// which request it answered.
ApiError status_error(int status, const json& body, const std::string& context) {
  std::string reason;
  std::string message;
  if (body.is_object()) {
    reason = string_at(body, "/reason");
    message = string_at(body, "/message");
    if (status == 0 && body.contains("code") && body["code"].is_number_integer()) {
      status = body["code"].get<int>();
    }
    // "Invalid" lists each field at fault; keep those the message does not already name.
    const json::json_pointer causes_at("/details/causes");
    if (body.contains(causes_at) && body.at(causes_at).is_array()) {
      for (const auto& cause : body.at(causes_at)) {
        const std::string field = string_at(cause, "/field");
        const std::string text = string_at(cause, "/message");
        if (text.empty() || message.find(field + ": ") != std::string::npos) continue;
        message += "; " + (field.empty() ? text : field + ": " + text);
      }
    }
  }
  if (status == 0) status = 500;  // an ERROR event without a code: the server failed somehow
  return ApiError(status, reason,
                  context + ": " + std::to_string(status) + (reason.empty() ? "" : " " + reason) +
                      (message.empty() ? "" : ": " + message));
}

ApiError response_error(const std::string& method, const std::string& path, const Response& resp) {
  json body;
  try {
    body = resp.json();
  } catch (const json::exception&) {
    body = {{"message", resp.body.substr(0, 1000)}};
  }
  return status_error(resp.status, body, method + " " + path);
}

class RestClient final : public Client {
 public:
  RestClient(const Config& config, std::chrono::seconds timeout)
      : default_namespace_(config.namespace_.empty() ? "default" : config.namespace_),
        rest_(config, timeout),
        watch_rest_(config, kWatchIdleTimeout) {}

  ListResult list(const Resource& r, const std::string& ns, const std::string& label_selector,
                  int page_size) override {
    ListResult out;
    std::string next;  // the continue token of the page to fetch
    do {
      std::string path = r.path(ns) + "?limit=" + std::to_string(page_size > 0 ? page_size : 500);
      if (!label_selector.empty()) path += "&labelSelector=" + encode(label_selector);
      if (!next.empty()) path += "&continue=" + encode(next);
      const Response resp = rest_.request("GET", path);
      if (!resp.ok()) throw response_error("GET", path, resp);
      json page = resp.json();
      // Every page comes from the snapshot of the first, so any page's version is the list's.
      out.resource_version = string_at(page, "/metadata/resourceVersion");
      next = string_at(page, "/metadata/continue");
      json& items = page["items"];
      if (!items.is_array()) continue;
      for (auto& item : items) {
        fill_type(item, r);  // the server names the type once for the list, not per item
        out.items.push_back(std::move(item));
      }
    } while (!next.empty());
    return out;
  }

  std::optional<json> get(const Resource& r, const std::string& ns,
                          const std::string& name) override {
    const std::string path = r.path(ns, name);
    const Response resp = rest_.request("GET", path);
    if (resp.status == 404) return std::nullopt;
    if (!resp.ok()) throw response_error("GET", path, resp);
    json object = resp.json();
    fill_type(object, r);
    return object;
  }

  json create(const Resource& r, const json& object) override {
    json body = object;
    fill_type(body, r);
    return send("POST", r.path(namespace_of(r, body)), body);
  }

  json update(const Resource& r, const json& object) override {
    json body = object;
    fill_type(body, r);
    return send("PUT", object_path(r, body), body);
  }

  json update_status(const Resource& r, const json& object) override {
    json body = object;
    fill_type(body, r);
    return send("PUT", object_path(r, body) + "/status", body);
  }

  json apply(const Resource& r, const json& object, bool force) override {
    json body = object;
    fill_type(body, r);  // server-side apply needs both in the body
    std::string path = object_path(r, body) + "?fieldManager=" + kFieldManager;
    if (force) path += "&force=true";
    // JSON is YAML, so the body needs no conversion.
    return send("PATCH", path, body, "application/apply-patch+yaml");
  }

  json merge_patch(const Resource& r, const std::string& ns, const std::string& name,
                   const json& patch, const std::string& subresource) override {
    std::string path = r.path(ns, name);
    if (!subresource.empty()) path += "/" + subresource;
    return send("PATCH", path, patch, "application/merge-patch+json");
  }

  bool remove(const Resource& r, const std::string& ns, const std::string& name,
              const std::string& propagation) override {
    std::string path = r.path(ns, name);
    if (!propagation.empty()) path += "?propagationPolicy=" + encode(propagation);
    const Response resp = rest_.request("DELETE", path);
    if (resp.status == 404) return false;
    if (!resp.ok()) throw response_error("DELETE", path, resp);
    return true;
  }

  void watch(const Resource& r, const std::string& ns, const std::string& resource_version,
             const std::function<bool(const WatchEvent&)>& on_event, const std::atomic<bool>& stop,
             const std::string& label_selector = {}) override {
    std::string path = r.path(ns) + "?watch=1&allowWatchBookmarks=true";
    if (!label_selector.empty()) path += "&labelSelector=" + encode(label_selector);
    if (!resource_version.empty()) path += "&resourceVersion=" + encode(resource_version);
    path += "&timeoutSeconds=" + std::to_string(watch_timeout_seconds());
    const Response resp = watch_rest_.watch(
        path,
        [&](const json& line) {
          WatchEvent event{string_at(line, "/type"), line.value("object", json::object())};
          // 410 Gone arrives here when the watch was accepted before the server found the
          // version too old.
          if (event.type == "ERROR") throw status_error(0, event.object, "watch " + path);
          if (event.type != "BOOKMARK") fill_type(event.object, r);
          return on_event(event);
        },
        stop);
    if (resp.status != 0 && resp.status != 200) throw response_error("GET", path, resp);
  }

 private:
  std::string namespace_of(const Resource& r, const json& object) const {
    if (!r.namespaced) return {};
    const std::string ns = string_at(object, "/metadata/namespace");
    return ns.empty() ? default_namespace_ : ns;
  }

  std::string object_path(const Resource& r, const json& object) const {
    const std::string name = string_at(object, "/metadata/name");
    if (name.empty()) {
      throw std::invalid_argument(r.kind +
                                  " without metadata.name: " + object.dump().substr(0, 200));
    }
    return r.path(namespace_of(r, object), name);
  }

  json send(const std::string& method, const std::string& path, const json& body,
            const std::string& content_type = "application/json") {
    const Response resp = rest_.request(method, path, body.dump(), content_type);
    if (!resp.ok()) throw response_error(method, path, resp);
    return resp.json();
  }

  std::string default_namespace_;  // for objects that do not name theirs, as kubectl does
  Rest rest_;
  Rest
      watch_rest_;  // its timeout is an idle timeout, which a request's 30 s would be too short for
};

}  // namespace

std::unique_ptr<Client> make_client(const Config& config, std::chrono::seconds timeout) {
  return std::make_unique<RestClient>(config, timeout);
}

}  // namespace pipewright::kube
