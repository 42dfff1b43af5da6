#include "pkg/kube/informer.h"

#include <algorithm>
#include <condition_variable>
#include <random>
#include <thread>

#include "pkg/log/log.h"
#include "pkg/units/backoff.h"

namespace pipewright::kube {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

std::string string_at(const json& object, const char* pointer) {
  const json::json_pointer p(pointer);
  if (!object.contains(p)) return {};
  const json& v = object.at(p);
  return v.is_string() ? v.get<std::string>() : std::string();
}

std::string key_of(const std::string& ns, const std::string& name) {
  return ns.empty() ? name : ns + "/" + name;
}

std::string key_of(const json& object) {
  return key_of(string_at(object, "/metadata/namespace"), string_at(object, "/metadata/name"));
}

std::string version_of(const json& object) {
  return string_at(object, "/metadata/resourceVersion");
}

// 200 ms doubling to 10 s, each wait ±20% so that informers of many operators do not reconnect
// in step after an API server restart.
units::Backoff reconnect_backoff() {
  return units::Backoff(milliseconds(200), milliseconds(10000), 0.2);
}

}  // namespace

struct Informer::State {
  State(Client& c, const Resource& r, const std::string& n, const Handler& h,
        const std::string& selector)
      : client(c), resource(r), ns(n), handler(h), label_selector(selector) {}

  // Lists from scratch, makes the cache the list and tells the handler the difference: what
  // vanished is deleted, what is new is added, what has another resourceVersion is modified.
  // Returns the list's resourceVersion, to watch from.
  std::string relist();
  // One watch event into the cache and to the handler; moves `rv` forward.
  void apply(const WatchEvent& event, std::string& rv);
  void deliver(Change change, const json& object);
  // Waits `d` or until stop(); false when stopped.
  bool sleep(milliseconds d);
  json log_fields(const std::string& error) const {
    return {{"resource", resource.plural}, {"namespace", ns}, {"error", error}};
  }

  Client& client;
  const Resource& resource;
  const std::string& ns;
  const Handler& handler;
  const std::string& label_selector;

  std::mutex mu;                      // guards cache
  std::map<std::string, json> cache;  // by "namespace/name" ("name" when cluster-scoped)
  std::atomic<bool> stop{false};
  std::atomic<bool> synced{false};
  std::atomic<int> relists{0};
  std::mutex wake_mu;
  std::condition_variable wake;  // ends a backoff wait at stop()
  std::thread thread;
};

std::string Informer::State::relist() {
  ListResult fresh = client.list(resource, ns, label_selector);
  std::map<std::string, json> next;
  for (auto& item : fresh.items) {
    std::string key = key_of(item);
    next.emplace(std::move(key), std::move(item));
  }
  std::vector<std::pair<Change, json>> changes;
  {
    const std::lock_guard lock(mu);
    for (const auto& [key, old] : cache) {
      if (next.count(key) == 0) changes.emplace_back(Change::deleted, old);
    }
    for (const auto& [key, object] : next) {
      const auto it = cache.find(key);
      if (it == cache.end()) {
        changes.emplace_back(Change::added, object);
      } else if (string_at(it->second, "/metadata/uid") != string_at(object, "/metadata/uid")) {
        // Deleted and created again while we were not watching: two changes, not one.
        changes.emplace_back(Change::deleted, it->second);
        changes.emplace_back(Change::added, object);
      } else if (version_of(it->second) != version_of(object)) {
        changes.emplace_back(Change::modified, object);
      }
    }
    cache = std::move(next);
  }
  for (const auto& [change, object] : changes)
    deliver(change, object);
  ++relists;
  synced = true;
  return fresh.resource_version;
}

void Informer::State::apply(const WatchEvent& event, std::string& rv) {
  const std::string version = version_of(event.object);
  if (event.type == "BOOKMARK") {
    if (!version.empty()) rv = version;
    return;
  }
  std::optional<Change> change;
  {
    const std::lock_guard lock(mu);
    const std::string key = key_of(event.object);
    const auto it = cache.find(key);
    if (event.type == "DELETED") {
      // A deletion of something the handler never saw is nothing to report.
      if (it != cache.end()) {
        cache.erase(it);
        change = Change::deleted;
      }
    } else if (event.type == "ADDED" || event.type == "MODIFIED") {
      if (it == cache.end()) {
        cache.emplace(key, event.object);
        change = Change::added;
      } else if (version_of(it->second) != version) {
        it->second = event.object;
        change = Change::modified;
      }  // the same version again is not a change
    } else {
      log::warn("informer: unknown watch event type", log_fields(event.type));
    }
  }
  if (!version.empty()) rv = version;
  if (change) deliver(*change, event.object);
}

void Informer::State::deliver(Change change, const json& object) {
  try {
    handler(change, object);
  } catch (const std::exception& e) {
    // The handler's failure must not stop the cache for everyone else.
    log::error("informer: handler failed", log_fields(e.what()));
  } catch (...) {
    log::error("informer: handler failed", log_fields("a non-standard exception"));
  }
}

bool Informer::State::sleep(milliseconds d) {
  std::unique_lock lock(wake_mu);
  return !wake.wait_for(lock, d, [this] { return stop.load(); });
}

Informer::Informer(Client& client, Resource resource, std::string ns, Handler handler,
                   std::string label_selector)
    : client_(client),
      resource_(std::move(resource)),
      ns_(std::move(ns)),
      handler_(std::move(handler)),
      label_selector_(std::move(label_selector)),
      state_(std::make_unique<State>(client_, resource_, ns_, handler_, label_selector_)) {}

Informer::~Informer() {
  stop();
}

void Informer::start() {
  if (state_->thread.joinable()) return;
  state_->stop = false;
  state_->thread = std::thread([this] { run(); });
}

void Informer::stop() {
  {
    const std::lock_guard lock(state_->wake_mu);
    state_->stop = true;
  }
  state_->wake.notify_all();
  if (state_->thread.joinable()) state_->thread.join();
}

bool Informer::synced() const {
  return state_->synced;
}

std::optional<nlohmann::json> Informer::get(const std::string& ns, const std::string& name) const {
  const std::lock_guard lock(state_->mu);
  const auto it = state_->cache.find(key_of(ns, name));
  if (it == state_->cache.end()) return std::nullopt;
  return it->second;
}

std::vector<nlohmann::json> Informer::list(const std::string& ns) const {
  const std::lock_guard lock(state_->mu);
  std::vector<nlohmann::json> out;
  for (const auto& [key, object] : state_->cache) {
    if (ns.empty() || string_at(object, "/metadata/namespace") == ns) out.push_back(object);
  }
  return out;
}

std::vector<nlohmann::json> Informer::list_labeled(const std::string& ns, const std::string& key,
                                                   const std::string& value) const {
  const std::lock_guard lock(state_->mu);
  std::vector<nlohmann::json> out;
  for (const auto& [k, object] : state_->cache) {
    const auto& md = object["metadata"];
    if (!ns.empty() && md.value("namespace", "") != ns) continue;
    const auto labels = md.find("labels");
    if (labels == md.end() || !labels->is_object()) continue;
    const auto label = labels->find(key);
    if (label != labels->end() && label->is_string() && label->get<std::string>() == value) {
      out.push_back(object);
    }
  }
  return out;
}

void Informer::each(const std::string& ns,
                    const std::function<void(const nlohmann::json&)>& each) const {
  const std::lock_guard lock(state_->mu);
  for (const auto& [key, object] : state_->cache) {
    if (ns.empty() || string_at(object, "/metadata/namespace") == ns) each(object);
  }
}

int Informer::relists() const {
  return state_->relists;
}

void Informer::run() {
  State& s = *state_;
  units::Backoff backoff = reconnect_backoff();
  std::string rv;
  bool must_list = true;
  int gone_in_a_row = 0;  // 410s with no event in between
  while (!s.stop) {
    bool heard = false;  // anything from the server since this attempt began
    try {
      if (must_list) {
        rv = s.relist();
        must_list = false;
        heard = true;
        backoff.reset();
      }
      const auto began = std::chrono::steady_clock::now();
      client_.watch(
          resource_, ns_, rv,
          [&](const WatchEvent& event) {
            if (s.stop) return false;
            s.apply(event, rv);
            heard = true;
            gone_in_a_row = 0;
            return true;
          },
          s.stop, label_selector_);
      if (s.stop) break;
      // The server ended the stream (its timeout): watch again from `rv` at once. A stream that
      // closes straight away without a word is a server in trouble: wait rather than spin.
      if (heard || std::chrono::steady_clock::now() - began > std::chrono::seconds(1)) {
        backoff.reset();
      } else {
        s.sleep(backoff.next());
      }
    } catch (const ApiError& e) {
      if (heard) backoff.reset();
      if (e.gone()) {
        // Our version is older than the server remembers: only a new list can tell what changed.
        log::info("informer: resource version expired, listing again", s.log_fields(e.what()));
        must_list = true;
        if (gone_in_a_row++ > 0) s.sleep(backoff.next());
        continue;
      }
      log::warn("informer: API error, retrying", s.log_fields(e.what()));
      s.sleep(backoff.next());
    } catch (const std::exception& e) {
      // TransportError (server down, connection broken) and anything unexpected: keep `rv` and
      // reconnect after a wait; a version that became too old meanwhile comes back as 410.
      if (heard) backoff.reset();
      log::warn("informer: connection failed, retrying", s.log_fields(e.what()));
      s.sleep(backoff.next());
    }
  }
}

}  // namespace pipewright::kube
