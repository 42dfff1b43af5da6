#pragma once
// A gmock double of kafka::TopicAdmin (pkg/kafka/admin.h). By default it acts on `topics`, a
// cluster in memory (create adds, describe reads, grow and set_config change), so a test only
// states the calls it expects or refuses.

#include <gmock/gmock.h>

#include <map>
#include <string>
#include <vector>

#include "pkg/kafka/admin.h"

namespace pipewright::kafka {

class MockTopicAdmin : public TopicAdmin {
 public:
  MockTopicAdmin() {
    using ::testing::_;
    using ::testing::Invoke;
    ON_CALL(*this, create).WillByDefault(Invoke([this](const std::vector<TopicSpec>& specs) {
      std::vector<TopicResult> out;
      for (const auto& t : specs) {
        const bool exists = topics.contains(t.name);
        if (!exists) topics[t.name] = {t.name, t.partitions, t.config, false};
        out.push_back({t.name, exists ? TopicOutcome::exists : TopicOutcome::created, {}});
      }
      return out;
    }));
    ON_CALL(*this, describe).WillByDefault(Invoke([this](const std::vector<std::string>& names) {
      std::vector<TopicState> out;
      for (const auto& n : names) {
        const auto it = topics.find(n);
        out.push_back(it == topics.end() ? TopicState{n, 0, {}, false} : it->second);
      }
      return out;
    }));
    ON_CALL(*this, grow_partitions)
        .WillByDefault(Invoke([this](const std::string& name, int total) {
          topics.at(name).partitions = total;
          return std::string();
        }));
    ON_CALL(*this, set_config)
        .WillByDefault(
            Invoke([this](const std::string& name, const std::map<std::string, std::string>& c) {
              topics.at(name).config = c;  // replaces, as AlterConfigs does
              return std::string();
            }));
    ON_CALL(*this, remove).WillByDefault(Invoke([this](const std::string& name) {
      topics.erase(name);
      return std::string();
    }));
  }

  MOCK_METHOD(std::vector<TopicResult>, create, (const std::vector<TopicSpec>& topics), (override));
  MOCK_METHOD(std::vector<TopicState>, describe, (const std::vector<std::string>& names),
              (override));
  MOCK_METHOD(std::string, grow_partitions, (const std::string& name, int total), (override));
  MOCK_METHOD(std::string, set_config,
              (const std::string& name, (const std::map<std::string, std::string>& config)),
              (override));
  MOCK_METHOD(std::string, remove, (const std::string& name), (override));

  std::map<std::string, TopicState> topics;  // the cluster the defaults act on
};

}  // namespace pipewright::kafka
