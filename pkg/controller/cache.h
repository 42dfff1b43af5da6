#pragma once
// What the reconcilers read instead of asking the API server: the informers' caches (the
// Manager implements it; unit tests substitute a double).

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "pkg/kube/client.h"

namespace pipewright::controller {

class Cache {
 public:
  virtual ~Cache() = default;
  virtual std::optional<nlohmann::json> get(const kube::Resource& r, const std::string& ns,
                                            const std::string& name) const = 0;
  virtual std::vector<nlohmann::json> list(const kube::Resource& r,
                                           const std::string& ns) const = 0;
  // The objects of `ns` labelled `key=value` (an owner's children), without copying the rest.
  virtual std::vector<nlohmann::json> list_labeled(const kube::Resource& r, const std::string& ns,
                                                   const std::string& key,
                                                   const std::string& value) const = 0;
  // Calls `each` on every object of `ns` (all when empty) without copying them; `each` must not
  // call back into the cache.
  virtual void each(const kube::Resource& r, const std::string& ns,
                    const std::function<void(const nlohmann::json&)>& each) const = 0;
};

}  // namespace pipewright::controller
