#pragma once
// A local cache of one resource kind kept current the way client-go's reflector does it: list
// (paged), then watch from the list's resourceVersion with bookmarks; on 410 Gone (at the start
// or inside the stream) relist and report as deleted what vanished meanwhile; on a broken
// connection reconnect with jittered exponential backoff. Handlers see every change once.

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "pkg/kube/client.h"

namespace pipewright::kube {

enum class Change { added, modified, deleted };

class Informer {
 public:
  using Handler = std::function<void(Change, const nlohmann::json& object)>;

  // `ns` empty: every namespace; `label_selector` empty: every object. The handler runs on the
  // informer's thread.
  Informer(Client& client, Resource resource, std::string ns, Handler handler,
           std::string label_selector = {});
  ~Informer();
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  // Starts the list-and-watch loop on a thread of its own; stop() ends it.
  void start();
  void stop();

  // True once the first list has been delivered to the handler.
  bool synced() const;
  // From the cache (copies).
  std::optional<nlohmann::json> get(const std::string& ns, const std::string& name) const;
  std::vector<nlohmann::json> list(const std::string& ns = {}) const;
  // Only the objects of `ns` whose label `key` is `value` (filtered before copying).
  std::vector<nlohmann::json> list_labeled(const std::string& ns, const std::string& key,
                                           const std::string& value) const;
  // Calls `each` on every cached object of `ns` (all when empty), under the cache's lock and
  // without copying: `each` must be quick and must not call back into this informer.
  void each(const std::string& ns, const std::function<void(const nlohmann::json&)>& each) const;
  // How many times the loop listed from scratch (1 after a clean start); for tests and metrics.
  int relists() const;

  const Resource& resource() const { return resource_; }

 private:
  void run();
  struct State;
  Client& client_;
  Resource resource_;
  std::string ns_;
  Handler handler_;
  std::string label_selector_;
  std::unique_ptr<State> state_;
};

}  // namespace pipewright::kube
