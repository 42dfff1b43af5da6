#pragma once
// A gmock double of kube::Client (pkg/kube/client.h): tests say which writes they expect; by
// default reads find nothing and writes echo their object.

#include <gmock/gmock.h>

#include "pkg/kube/client.h"

namespace pipewright::kube {

class MockClient : public Client {
 public:
  MockClient() {
    using ::testing::_;
    using ::testing::Return;
    using ::testing::ReturnArg;
    ON_CALL(*this, list).WillByDefault(Return(ListResult{}));
    ON_CALL(*this, get).WillByDefault(Return(std::nullopt));
    ON_CALL(*this, create).WillByDefault(ReturnArg<1>());
    ON_CALL(*this, update).WillByDefault(ReturnArg<1>());
    ON_CALL(*this, update_status).WillByDefault(ReturnArg<1>());
    ON_CALL(*this, apply).WillByDefault(ReturnArg<1>());
    ON_CALL(*this, merge_patch).WillByDefault(ReturnArg<3>());
    ON_CALL(*this, remove).WillByDefault(Return(true));
  }

  MOCK_METHOD(ListResult, list,
              (const Resource& r, const std::string& ns, const std::string& label_selector,
               int page_size),
              (override));
  MOCK_METHOD(std::optional<nlohmann::json>, get,
              (const Resource& r, const std::string& ns, const std::string& name), (override));
  MOCK_METHOD(nlohmann::json, create, (const Resource& r, const nlohmann::json& object),
              (override));
  MOCK_METHOD(nlohmann::json, update, (const Resource& r, const nlohmann::json& object),
              (override));
  MOCK_METHOD(nlohmann::json, update_status, (const Resource& r, const nlohmann::json& object),
              (override));
  MOCK_METHOD(nlohmann::json, apply, (const Resource& r, const nlohmann::json& object, bool force),
              (override));
  MOCK_METHOD(nlohmann::json, merge_patch,
              (const Resource& r, const std::string& ns, const std::string& name,
               const nlohmann::json& patch, const std::string& subresource),
              (override));
  MOCK_METHOD(bool, remove,
              (const Resource& r, const std::string& ns, const std::string& name,
               const std::string& propagation),
              (override));
  MOCK_METHOD(void, watch,
              (const Resource& r, const std::string& ns, const std::string& resource_version,
               const std::function<bool(const WatchEvent&)>& on_event,
               const std::atomic<bool>& stop, const std::string& label_selector),
              (override));
};

}  // namespace pipewright::kube
