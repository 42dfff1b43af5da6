#pragma once
// What the reconciler tests share: the three doubles wired into a Reconciler, and the objects
// the informers would hold. Nothing is started: every outside call is a mock's.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "pkg/controller/reconciler.h"
#include "tests/unit/controller/mock_cache.h"
#include "tests/unit/kafka/mock_topic_admin.h"
#include "tests/unit/kube/mock_client.h"

namespace pipewright::controller::testing_support {

using nlohmann::json;
using ::testing::_;
using ::testing::NiceMock;

inline json metadata(const std::string& ns, const std::string& name, const std::string& uid) {
  return {
      {"namespace", ns}, {"name", name},           {"uid", uid},
      {"generation", 1}, {"resourceVersion", "1"}, {"creationTimestamp", "2026-01-01T00:00:00Z"}};
}

// "kind/name" of an object: what a test compares.
inline std::string id(const json& object) {
  return object.value("kind", "") + "/" + object["metadata"].value("name", "");
}

struct ReconcilerTest : ::testing::Test {
  NiceMock<kube::MockClient> client;
  NiceMock<MockCache> cache;
  std::shared_ptr<NiceMock<kafka::MockTopicAdmin>> admin =
      std::make_shared<NiceMock<kafka::MockTopicAdmin>>();
  std::vector<std::string> admins_asked;  // bootstrap servers the reconciler asked a client for
  Reconciler reconciler{client,
                        cache,
                        [this](const std::string& bootstrap, const std::string&,
                               const std::string&) -> std::shared_ptr<kafka::TopicAdmin> {
                          admins_asked.push_back(bootstrap);
                          return admin;
                        },
                        {}};

  // The status a reconcile wrote for `kind ns/name` (last one), or null.
  json written_status;
  std::vector<std::string> applied;  // "kind/name" in order
  std::vector<std::string> removed;  // "kind/name"

  // Records writes; applied children and status patches also land in the cache, as the
  // informers would deliver them.
  void record_writes() {
    using ::testing::Invoke;
    ON_CALL(client, apply)
        .WillByDefault(Invoke([this](const kube::Resource& r, const json& o, bool) {
          applied.push_back(id(o));
          cache.put(r, o);
          return o;
        }));
    ON_CALL(client, remove)
        .WillByDefault(Invoke([this](const kube::Resource& r, const std::string&,
                                     const std::string& name, const std::string&) {
          removed.push_back(r.kind + "/" + name);
          return true;
        }));
    ON_CALL(client, merge_patch)
        .WillByDefault(
            Invoke([this](const kube::Resource& r, const std::string& ns, const std::string& name,
                          const json& patch, const std::string& sub) {
              auto object = cache.get(r, ns, name);
              if (!object) throw kube::ApiError(404, "NotFound", name + " not found");
              object->merge_patch(patch);
              cache.put(r, *object);
              if (sub == "status") written_status = (*object)["status"];
              return patch;
            }));
  }

  // Refuses every write from here on: the zero-writes-at-steady-state rule.
  void expect_no_writes() {
    EXPECT_CALL(client, apply).Times(0);
    EXPECT_CALL(client, create).Times(0);
    EXPECT_CALL(client, update).Times(0);
    EXPECT_CALL(client, update_status).Times(0);
    EXPECT_CALL(client, merge_patch).Times(0);
    EXPECT_CALL(client, remove).Times(0);
    EXPECT_CALL(*admin, create).Times(0);
    EXPECT_CALL(*admin, grow_partitions).Times(0);
    EXPECT_CALL(*admin, set_config).Times(0);
    EXPECT_CALL(*admin, remove).Times(0);
  }
};

// A condition of `status` by type (null when absent).
inline json condition(const json& status, const std::string& type) {
  for (const auto& c : status.value("conditions", json::array())) {
    if (c.value("type", "") == type) return c;
  }
  return nullptr;
}

}  // namespace pipewright::controller::testing_support
