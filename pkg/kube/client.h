#pragma once
// The operator's only door to Kubernetes: typed by Resource (group, version, plural), untyped in
// the objects (nlohmann::json). Every outside call goes through this small interface so tests
// and decorators (write counting for the zero-writes metric) substitute it at the seam.

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "pkg/kube/config.h"

namespace pipewright::kube {

struct Resource {
  std::string group;    // "" for the core group
  std::string version;  // "v1"
  std::string plural;   // "deployments"
  std::string kind;     // "Deployment"
  bool namespaced = true;

  std::string api_version() const { return group.empty() ? version : group + "/" + version; }
  // "/api/v1/namespaces/<ns>/configmaps[/<name>]" or "/apis/<group>/<version>/..."; an empty
  // namespace of a namespaced resource means all namespaces (list and watch only).
  std::string path(const std::string& ns = {}, const std::string& name = {}) const;
};

namespace resources {
extern const Resource pipelines, weighted_services;
extern const Resource deployments, services, config_maps, ingresses, persistent_volume_claims;
extern const Resource http_routes, leases, events, namespaces, replica_sets, network_policies;
}  // namespace resources

// The API server answered with a non-2xx status (a metav1.Status body when it has one).
class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string reason, const std::string& message)
      : std::runtime_error(message), status_(status), reason_(std::move(reason)) {}
  int status() const { return status_; }
  const std::string& reason() const { return reason_; }  // e.g. "NotFound", "Conflict", "Expired"
  bool not_found() const { return status_ == 404; }
  bool conflict() const { return status_ == 409; }
  bool gone() const { return status_ == 410; }

 private:
  int status_;
  std::string reason_;
};

struct ListResult {
  std::vector<nlohmann::json> items;  // each with apiVersion and kind filled in
  std::string resource_version;       // of the list, to watch from
};

struct WatchEvent {
  std::string type;  // ADDED, MODIFIED, DELETED, BOOKMARK, ERROR
  nlohmann::json object;
};

class Client {
 public:
  virtual ~Client() = default;

  // Every page (limit / continue) of a list. Throws ApiError (410 when a continue token expired).
  virtual ListResult list(const Resource& r, const std::string& ns = {},
                          const std::string& label_selector = {}, int page_size = 500) = 0;
  // std::nullopt when it does not exist.
  virtual std::optional<nlohmann::json> get(const Resource& r, const std::string& ns,
                                            const std::string& name) = 0;
  virtual nlohmann::json create(const Resource& r, const nlohmann::json& object) = 0;
  // PUT with the object's resourceVersion (409 Conflict when it is stale).
  virtual nlohmann::json update(const Resource& r, const nlohmann::json& object) = 0;
  virtual nlohmann::json update_status(const Resource& r, const nlohmann::json& object) = 0;
  // Server-side apply (application/apply-patch+yaml) with field manager "pipewright".
  virtual nlohmann::json apply(const Resource& r, const nlohmann::json& object,
                               bool force = true) = 0;
  // JSON merge patch, optionally of a subresource ("status").
  virtual nlohmann::json merge_patch(const Resource& r, const std::string& ns,
                                     const std::string& name, const nlohmann::json& patch,
                                     const std::string& subresource = {}) = 0;
  // false when it was already gone.
  virtual bool remove(const Resource& r, const std::string& ns, const std::string& name,
                      const std::string& propagation = "Background") = 0;
  // Watches from `resource_version` with bookmarks, calling `on_event` for each event until it
  // returns false, the server ends the stream (its timeout), or `stop` becomes true. A 410 Gone
  // (as a status or as an ERROR event) throws ApiError with status 410. `label_selector`
  // narrows the watch as it narrows a list.
  virtual void watch(const Resource& r, const std::string& ns, const std::string& resource_version,
                     const std::function<bool(const WatchEvent&)>& on_event,
                     const std::atomic<bool>& stop, const std::string& label_selector = {}) = 0;
};

// The cpprestsdk implementation over kube::Rest.
// `timeout` bounds each request (watches have their own idle timeout).
std::unique_ptr<Client> make_client(const Config& config,
                                    std::chrono::seconds timeout = std::chrono::seconds(30));

}  // namespace pipewright::kube
