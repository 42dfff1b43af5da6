#pragma once
// A gmock double of controller::Cache (pkg/controller/cache.h), the informers' caches. By
// default it answers from `objects` (by kind), so a test puts what the informers would hold and
// may still expect or refuse particular reads.

#include <gmock/gmock.h>

#include <map>
#include <string>
#include <vector>

#include "pkg/controller/cache.h"

namespace pipewright::controller {

class MockCache : public Cache {
 public:
  MockCache() {
    using ::testing::Invoke;
    ON_CALL(*this, get)
        .WillByDefault(Invoke([this](const kube::Resource& r, const std::string& ns,
                                     const std::string& name) -> std::optional<nlohmann::json> {
          for (const auto& o : of(r)) {
            if (o["metadata"].value("namespace", "") == ns &&
                o["metadata"].value("name", "") == name)
              return o;
          }
          return std::nullopt;
        }));
    ON_CALL(*this, list)
        .WillByDefault(Invoke([this](const kube::Resource& r, const std::string& ns) {
          std::vector<nlohmann::json> out;
          for (const auto& o : of(r)) {
            if (ns.empty() || o["metadata"].value("namespace", "") == ns) out.push_back(o);
          }
          return out;
        }));
    ON_CALL(*this, list_labeled)
        .WillByDefault(Invoke([this](const kube::Resource& r, const std::string& ns,
                                     const std::string& key, const std::string& value) {
          std::vector<nlohmann::json> out;
          for (const auto& o : of(r)) {
            const auto labels = o["metadata"].value("labels", nlohmann::json::object());
            if (o["metadata"].value("namespace", "") == ns && labels.value(key, "") == value)
              out.push_back(o);
          }
          return out;
        }));
    ON_CALL(*this, each)
        .WillByDefault(Invoke([this](const kube::Resource& r, const std::string& ns,
                                     const std::function<void(const nlohmann::json&)>& each) {
          for (const auto& o : of(r)) {
            if (ns.empty() || o["metadata"].value("namespace", "") == ns) each(o);
          }
        }));
  }

  MOCK_METHOD(std::optional<nlohmann::json>, get,
              (const kube::Resource& r, const std::string& ns, const std::string& name),
              (const, override));
  MOCK_METHOD(std::vector<nlohmann::json>, list, (const kube::Resource& r, const std::string& ns),
              (const, override));
  MOCK_METHOD(std::vector<nlohmann::json>, list_labeled,
              (const kube::Resource& r, const std::string& ns, const std::string& key,
               const std::string& value),
              (const, override));
  MOCK_METHOD(void, each,
              (const kube::Resource& r, const std::string& ns,
               const std::function<void(const nlohmann::json&)>& each),
              (const, override));

  // Replaces the object of its kind, namespace and name, or adds it.
  void put(const kube::Resource& r, const nlohmann::json& object) {
    auto& all = objects[r.kind];
    for (auto& o : all) {
      if (o["metadata"]["namespace"] == object["metadata"]["namespace"] &&
          o["metadata"]["name"] == object["metadata"]["name"]) {
        o = object;
        return;
      }
    }
    all.push_back(object);
  }

  std::map<std::string, std::vector<nlohmann::json>> objects;  // by kind

 private:
  std::vector<nlohmann::json> of(const kube::Resource& r) const {
    const auto it = objects.find(r.kind);
    return it == objects.end() ? std::vector<nlohmann::json>{} : it->second;
  }
};

}  // namespace pipewright::controller
