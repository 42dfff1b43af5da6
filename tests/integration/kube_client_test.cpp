// kube::Client and kube::Informer against a real kube-apiserver (etcd behind it): paged lists,
// CRUD with the server's own errors, server-side apply that writes nothing when nothing changed,
// status, watches whose events arrive whole and that stop on demand, and an informer that misses
// nothing when the API server restarts or forgets the version it was watching from.

#include <gtest/gtest.h>
#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "pkg/kube/client.h"
#include "pkg/kube/informer.h"
#include "pkg/kube/rest.h"
#include "pkg/proc/net.h"
#include "tests/support/control_plane.h"
#include "tests/support/shared.h"
#include "tests/support/suite_logs.h"

namespace pipewright {
namespace {

using kube::Change;
using kube::WatchEvent;
using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::ControlPlane;
using testing::Shared;
namespace res = kube::resources;

class KubeClient : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    plane.start([] {
      auto cp = ControlPlane::start({.controller_manager = false});
      const auto crds = (testing::source_dir() / "crds").string();
      if (const auto r = cp->kubectl({"apply", "-f", crds}); r.exit_code != 0) {
        throw std::runtime_error("kubectl apply -f crds/: " + r.output);
      }
      if (const auto r = cp->kubectl({"wait", "--for", "condition=established", "--timeout=60s",
                                      "crd/weightedservices.pipewright.io"});
          r.exit_code != 0) {
        throw std::runtime_error("CRDs not established: " + r.output);
      }
      return cp;
    });
  }
  static void TearDownTestSuite() { plane.reset(); }
  void SetUp() override {
    ASSERT_TRUE(plane) << plane.error;
    client = kube::make_client(plane->admin());
  }

  void make_namespace(const std::string& name) const {
    client->create(res::namespaces, {{"metadata", {{"name", name}}}});
  }

  static inline Shared<ControlPlane> plane;
  std::unique_ptr<kube::Client> client;
};

json config_map(const std::string& ns, const std::string& name, const json& data) {
  return {{"metadata", {{"namespace", ns}, {"name", name}}}, {"data", data}};
}

std::string version_of(const json& object) {
  return object["metadata"].value("resourceVersion", "");
}

std::string name_of(const json& object) {
  return object["metadata"].value("name", "");
}

// The ApiError `fn` throws, if any.
std::optional<kube::ApiError> api_error(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const kube::ApiError& e) {
    return e;
  }
  return std::nullopt;
}

// Calls fn(stop) on this thread and sets `stop` once `limit` has passed, so that a watch which
// never hears what a test waits for ends (and the test fails) instead of hanging the suite.
void with_deadline(milliseconds limit, const std::function<void(const std::atomic<bool>&)>& fn) {
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::thread timer([&] {
    std::unique_lock lock(mu);
    cv.wait_for(lock, limit, [&] { return done; });
    stop = true;
  });
  auto finish = [&] {
    {
      const std::lock_guard lock(mu);
      done = true;
    }
    cv.notify_all();
    timer.join();
  };
  try {
    fn(stop);
  } catch (...) {
    finish();
    throw;
  }
  finish();
}

// name -> resourceVersion of what the server has and of what an informer holds.
std::map<std::string, std::string> versions(const std::vector<json>& objects) {
  std::map<std::string, std::string> out;
  for (const auto& o : objects)
    out[name_of(o)] = version_of(o);
  return out;
}

// Everything an informer's handler was told.
class Recorder {
 public:
  struct Seen {
    Change change;
    json object;
  };
  kube::Informer::Handler handler() {
    return [this](Change change, const json& object) {
      const std::lock_guard lock(mu_);
      seen_.push_back({change, object});
    };
  }
  std::vector<Seen> seen() {
    const std::lock_guard lock(mu_);
    return seen_;
  }
  int count(Change change, const std::string& name) {
    const auto all = seen();
    return static_cast<int>(std::count_if(all.begin(), all.end(), [&](const Seen& s) {
      return s.change == change && name_of(s.object) == name;
    }));
  }
  // The newest object the handler was given for `name`, or null.
  json last(const std::string& name) {
    const auto all = seen();
    for (auto it = all.rbegin(); it != all.rend(); ++it) {
      if (name_of(it->object) == name) return it->object;
    }
    return nullptr;
  }
  std::string describe() {
    std::string out;
    for (const auto& s : seen()) {
      out += std::string(s.change == Change::added      ? "added "
                         : s.change == Change::modified ? "modified "
                                                        : "deleted ") +
             name_of(s.object) + "@" + version_of(s.object) + "\n";
    }
    return out;
  }

 private:
  std::mutex mu_;
  std::vector<Seen> seen_;
};

TEST_F(KubeClient, ListFollowsEveryPageAndReturnsAVersionToWatchFrom) {
  make_namespace("pages");
  std::vector<std::string> expected;
  for (int i = 0; i < 23; ++i) {
    const std::string name = "cm-" + std::to_string(100 + i);
    json cm = config_map("pages", name, {{"i", std::to_string(i)}});
    cm["metadata"]["labels"] = {{"batch", "pages"}};
    client->create(res::config_maps, cm);
    expected.push_back(name);
  }
  const json last = client->create(res::config_maps, config_map("pages", "unlabelled", {}));

  const auto list = client->list(res::config_maps, "pages", "batch=pages", 5);
  std::vector<std::string> names;
  for (const auto& item : list.items) {
    names.push_back(name_of(item));
    EXPECT_EQ(item["apiVersion"], "v1") << item.dump();
    EXPECT_EQ(item["kind"], "ConfigMap") << item.dump();
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, expected) << "5 pages of 5, the last one short, and no unlabelled object";
  ASSERT_FALSE(list.resource_version.empty());
  EXPECT_GE(std::stoll(list.resource_version), std::stoll(version_of(last)));

  // The list's version is where a watch picks up: it replays none of the 24 objects above and
  // reports the next change first.
  std::vector<WatchEvent> events;
  std::thread watcher([&] {
    with_deadline(seconds(30), [&](const std::atomic<bool>& stop) {
      client->watch(
          res::config_maps, "pages", list.resource_version,
          [&](const WatchEvent& e) {
            if (e.type == "BOOKMARK") return true;
            events.push_back(e);
            return false;
          },
          stop);
    });
  });
  client->create(res::config_maps, config_map("pages", "after-the-list", {}));
  watcher.join();
  ASSERT_EQ(events.size(), 1u) << "the watch heard nothing within 30 s";
  EXPECT_EQ(events[0].type, "ADDED");
  EXPECT_EQ(name_of(events[0].object), "after-the-list");
}

TEST_F(KubeClient, CrudMapsTheServersErrors) {
  make_namespace("crud");
  EXPECT_FALSE(client->get(res::config_maps, "crud", "x").has_value());
  EXPECT_FALSE(client->remove(res::config_maps, "crud", "x"));

  const json created = client->create(res::config_maps, config_map("crud", "x", {{"a", "1"}}));
  EXPECT_FALSE(created["metadata"].value("uid", "").empty());
  const auto exists = api_error([&] {
    client->create(res::config_maps, config_map("crud", "x", {{"a", "1"}}));
  });
  ASSERT_TRUE(exists);
  EXPECT_TRUE(exists->conflict());
  EXPECT_EQ(exists->reason(), "AlreadyExists");

  const json fetched = client->get(res::config_maps, "crud", "x").value();
  EXPECT_EQ(fetched["apiVersion"], "v1");
  EXPECT_EQ(fetched["kind"], "ConfigMap");
  EXPECT_EQ(fetched["data"]["a"], "1");

  json changed = fetched;
  changed["data"]["a"] = "2";
  const json updated = client->update(res::config_maps, changed);
  EXPECT_EQ(updated["data"]["a"], "2");
  EXPECT_NE(version_of(updated), version_of(fetched));

  // A write based on what someone else has changed since is refused, and changes nothing.
  json stale = fetched;
  stale["data"]["a"] = "3";
  const auto conflict = api_error([&] { client->update(res::config_maps, stale); });
  ASSERT_TRUE(conflict);
  EXPECT_TRUE(conflict->conflict());
  EXPECT_EQ(conflict->reason(), "Conflict");
  EXPECT_NE(std::string(conflict->what()).find("the object has been modified"), std::string::npos)
      << conflict->what();
  EXPECT_EQ(client->get(res::config_maps, "crud", "x").value()["data"]["a"], "2");

  const auto missing = api_error([&] {
    client->update(res::config_maps, config_map("crud", "ghost", {{"a", "1"}}));
  });
  ASSERT_TRUE(missing);
  EXPECT_TRUE(missing->not_found());
  EXPECT_EQ(missing->reason(), "NotFound");

  const auto invalid = api_error([&] {
    client->create(res::config_maps, config_map("crud", "Not_Valid", {{"a", "1"}}));
  });
  ASSERT_TRUE(invalid);
  EXPECT_EQ(invalid->status(), 422);
  EXPECT_EQ(invalid->reason(), "Invalid");
  EXPECT_NE(std::string(invalid->what()).find("metadata.name"), std::string::npos)
      << invalid->what();

  const json patched = client->merge_patch(res::config_maps, "crud", "x", {{"data", {{"b", "3"}}}});
  EXPECT_EQ(patched["data"], json({{"a", "2"}, {"b", "3"}}));

  EXPECT_TRUE(client->remove(res::config_maps, "crud", "x"));
  EXPECT_FALSE(client->get(res::config_maps, "crud", "x").has_value());
  EXPECT_FALSE(client->remove(res::config_maps, "crud", "x"));
}

TEST_F(KubeClient, ApplyingTheSameContentTwiceWritesNothing) {
  make_namespace("ssa");
  json desired = config_map("ssa", "applied", {{"k", "v"}});
  desired["metadata"]["labels"] = {{"app", "ssa"}};
  const json first = client->apply(res::config_maps, desired);
  bool managed = false;
  for (const auto& m : first["metadata"]["managedFields"]) {
    managed = managed || (m["manager"] == "pipewright" && m["operation"] == "Apply");
  }
  EXPECT_TRUE(managed) << first["metadata"]["managedFields"].dump();

  const json second = client->apply(res::config_maps, desired);
  EXPECT_EQ(version_of(second), version_of(first)) << "a steady state must cost no write";
  EXPECT_EQ(version_of(client->get(res::config_maps, "ssa", "applied").value()), version_of(first));

  desired["data"]["k"] = "w";
  const json third = client->apply(res::config_maps, desired);
  EXPECT_NE(version_of(third), version_of(first));
  EXPECT_EQ(third["data"]["k"], "w");

  // Someone else takes the field: without force the apply is refused, with force it wins.
  const auto edit = plane->kubectl({"-n", "ssa", "patch", "configmap", "applied", "--type=merge",
                                    "-p", R"({"data":{"k":"x"}})"});
  ASSERT_EQ(edit.exit_code, 0) << edit.output;
  desired["data"]["k"] = "y";
  const auto refused = api_error([&] { client->apply(res::config_maps, desired, false); });
  ASSERT_TRUE(refused);
  EXPECT_TRUE(refused->conflict());
  EXPECT_NE(std::string(refused->what()).find("kubectl-patch"), std::string::npos)
      << refused->what();
  EXPECT_EQ(client->apply(res::config_maps, desired)["data"]["k"], "y");
}

TEST_F(KubeClient, StatusIsWrittenThroughItsSubresource) {
  make_namespace("status");
  const json ws = {{"metadata", {{"namespace", "status"}, {"name", "mult"}}},
                   {"spec",
                    {{"worker", "mult"},
                     {"port", 8080},
                     {"backends", json::array({{{"name", "primary"}, {"weight", 3}},
                                               {{"name", "standby"}, {"backup", true}}})}}}};
  const json created = client->create(res::weighted_services, ws);
  EXPECT_EQ(created["kind"], "WeightedService");

  json with_status = created;
  with_status["status"] = {{"phase", "Running"}, {"backendCount", 2}};
  const json updated = client->update_status(res::weighted_services, with_status);
  EXPECT_EQ(updated["status"]["phase"], "Running");
  EXPECT_EQ(updated["metadata"]["generation"], created["metadata"]["generation"]);

  // The main resource ignores status; the subresource takes it.
  client->merge_patch(res::weighted_services, "status", "mult", {{"status", {{"ready", "9/9"}}}});
  const json patched = client->merge_patch(res::weighted_services, "status", "mult",
                                           {{"status", {{"ready", "1/2"}}}}, "status");
  EXPECT_EQ(patched["status"], json({{"phase", "Running"}, {"backendCount", 2}, {"ready", "1/2"}}));

  const auto stale = api_error([&] { client->update_status(res::weighted_services, with_status); });
  ASSERT_TRUE(stale);
  EXPECT_TRUE(stale->conflict());

  const auto invalid = api_error([&] {
    client->merge_patch(res::weighted_services, "status", "mult",
                        {{"status", {{"phase", "Exploded"}}}}, "status");
  });
  ASSERT_TRUE(invalid);
  EXPECT_EQ(invalid->reason(), "Invalid");
  EXPECT_NE(std::string(invalid->what()).find("status.phase"), std::string::npos)
      << invalid->what();
}

TEST_F(KubeClient, WatchDeliversWholeEventsAndStopsWithinASecond) {
  make_namespace("watch");
  const std::string rv = client->list(res::config_maps, "watch").resource_version;
  // 200 KiB in one value: each event spans many TLS records and HTTP chunks.
  std::string big(200 * 1024, ' ');
  for (std::size_t i = 0; i < big.size(); ++i)
    big[i] = static_cast<char>('a' + (i * 7919 + i / 26) % 26);

  std::mutex mu;
  std::vector<WatchEvent> events;
  std::atomic<bool> stop{false};
  std::atomic<bool> ended{false};
  std::string failure;
  std::thread watcher([&] {
    try {
      client->watch(
          res::config_maps, "watch", rv,
          [&](const WatchEvent& e) {
            const std::lock_guard lock(mu);
            events.push_back(e);
            return true;
          },
          stop);
    } catch (const std::exception& e) {
      failure = e.what();
    }
    ended = true;
  });
  auto saw = [&](const std::string& type) {
    const std::lock_guard lock(mu);
    return std::any_of(events.begin(), events.end(), [&](const WatchEvent& e) {
      return e.type == type && name_of(e.object) == "big";
    });
  };

  client->create(res::config_maps, config_map("watch", "big", {{"big", big}}));
  client->merge_patch(res::config_maps, "watch", "big", {{"data", {{"small", "x"}}}});
  client->remove(res::config_maps, "watch", "big");
  EXPECT_TRUE(proc::poll_until(seconds(20), [&] { return saw("DELETED") || ended; }))
      << "the watch did not see the ConfigMap deleted";
  {
    const std::lock_guard lock(mu);
    std::vector<std::string> types;
    for (const auto& e : events) {
      if (e.type == "BOOKMARK") continue;
      types.push_back(e.type);
      EXPECT_EQ(e.object["kind"], "ConfigMap");
      EXPECT_EQ(e.object["data"].value("big", "").size(), big.size()) << e.type;
      EXPECT_TRUE(e.object["data"].value("big", "") == big) << e.type << " arrived altered";
    }
    EXPECT_EQ(types, (std::vector<std::string>{"ADDED", "MODIFIED", "DELETED"}));
  }

  // Nothing is in flight now: the stop flag alone must end the watch, promptly.
  const auto began = std::chrono::steady_clock::now();
  stop = true;
  EXPECT_TRUE(proc::poll_until(
      seconds(5), [&] { return ended.load(); }, milliseconds(10)));
  const auto took = std::chrono::steady_clock::now() - began;
  watcher.join();
  EXPECT_LT(took, seconds(1)) << std::chrono::duration_cast<milliseconds>(took).count() << " ms";
  EXPECT_EQ(failure, "");

  // A watch of something the server does not serve is an ApiError, not a silent empty stream.
  const kube::Resource unknown{"example.com", "v1", "nothings", "Nothing"};
  std::optional<kube::ApiError> err;
  with_deadline(seconds(10), [&](const std::atomic<bool>& s) {
    err = api_error([&] {
      client->watch(
          unknown, "watch", rv, [](const WatchEvent&) { return true; }, s);
    });
  });
  ASSERT_TRUE(err);
  EXPECT_TRUE(err->not_found()) << err->what();
}

TEST_F(KubeClient, InformerReportsChangesAndItsCacheAgreesWithTheServer) {
  make_namespace("informer");
  client->create(res::config_maps, config_map("informer", "a", {{"v", "1"}}));
  client->create(res::config_maps, config_map("informer", "b", {{"v", "1"}}));
  make_namespace("informer-other");  // not watched: the informer's namespace is its world
  client->create(res::config_maps, config_map("informer-other", "elsewhere", {}));

  Recorder rec;
  kube::Informer informer(*client, res::config_maps, "informer", rec.handler());
  informer.start();
  ASSERT_TRUE(proc::poll_until(seconds(20), [&] { return informer.synced(); }));
  EXPECT_EQ(rec.count(Change::added, "a"), 1);
  EXPECT_EQ(rec.count(Change::added, "b"), 1);

  client->create(res::config_maps, config_map("informer", "c", {{"v", "1"}}));
  client->merge_patch(res::config_maps, "informer", "a", {{"data", {{"v", "2"}}}});
  client->remove(res::config_maps, "informer", "b");
  EXPECT_TRUE(proc::poll_until(seconds(20), [&] {
    return rec.count(Change::added, "c") == 1 && rec.count(Change::deleted, "b") == 1 &&
           rec.count(Change::modified, "a") == 1;
  })) << rec.describe();
  EXPECT_EQ(rec.last("a")["data"]["v"], "2");

  const auto server = client->list(res::config_maps, "informer");
  EXPECT_EQ(versions(informer.list("informer")), versions(server.items));
  EXPECT_EQ(versions(informer.list()), versions(server.items));
  EXPECT_EQ(informer.get("informer", "a").value()["data"]["v"], "2");
  EXPECT_FALSE(informer.get("informer", "b").has_value());
  EXPECT_EQ(informer.relists(), 1);

  const auto began = std::chrono::steady_clock::now();
  informer.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - began, seconds(1));
}

TEST_F(KubeClient, InformerMissesNothingAcrossAnApiserverRestart) {
  make_namespace("restart");
  for (const char* name : {"keep", "change", "gone"})
    client->create(res::config_maps, config_map("restart", name, {{"v", "1"}}));
  Recorder rec;
  kube::Informer informer(*client, res::config_maps, "restart", rec.handler());
  informer.start();
  ASSERT_TRUE(proc::poll_until(seconds(20), [&] { return informer.synced(); }));

  plane->stop_apiserver();
  plane->start_apiserver();
  // At once, while the informer is still waiting to reconnect.
  for (int i = 0; i < 5; ++i)
    client->create(res::config_maps, config_map("restart", "new-" + std::to_string(i), {}));
  client->merge_patch(res::config_maps, "restart", "change", {{"data", {{"v", "2"}}}});
  client->remove(res::config_maps, "restart", "gone");

  std::map<std::string, std::string> server;
  EXPECT_TRUE(proc::poll_until(seconds(60), [&] {
    server = versions(client->list(res::config_maps, "restart").items);
    return versions(informer.list()) == server && rec.count(Change::deleted, "gone") == 1;
  })) << rec.describe();
  EXPECT_EQ(server.size(), 7u);
  EXPECT_EQ(rec.last("change")["data"]["v"], "2") << rec.describe();
  EXPECT_EQ(rec.count(Change::deleted, "gone"), 1) << rec.describe();
  for (const auto& [name, version] : server) {
    EXPECT_EQ(rec.count(Change::added, name), 1) << name << " added more than once or never\n"
                                                 << rec.describe();
    EXPECT_EQ(rec.count(Change::deleted, name), 0) << rec.describe();
  }
  EXPECT_EQ(rec.count(Change::modified, "keep"), 0) << rec.describe();
}

// Decorates a Client with a switch that cuts its connection: while cut, every call fails as if
// the server were unreachable, and a watch in progress breaks. The test keeps its own direct
// client, so it can change things the informer cannot see.
class GateClient : public kube::Client {
 public:
  explicit GateClient(kube::Client& inner) : inner_(inner) {}
  void cut() { open_ = false; }
  void reopen() { open_ = true; }
  int calls() const { return calls_; }
  int watching() const { return watching_; }

  kube::ListResult list(const kube::Resource& r, const std::string& ns, const std::string& sel,
                        int page) override {
    pass();
    return inner_.list(r, ns, sel, page);
  }
  std::optional<json> get(const kube::Resource& r, const std::string& ns,
                          const std::string& name) override {
    pass();
    return inner_.get(r, ns, name);
  }
  json create(const kube::Resource& r, const json& o) override {
    pass();
    return inner_.create(r, o);
  }
  json update(const kube::Resource& r, const json& o) override {
    pass();
    return inner_.update(r, o);
  }
  json update_status(const kube::Resource& r, const json& o) override {
    pass();
    return inner_.update_status(r, o);
  }
  json apply(const kube::Resource& r, const json& o, bool force) override {
    pass();
    return inner_.apply(r, o, force);
  }
  json merge_patch(const kube::Resource& r, const std::string& ns, const std::string& name,
                   const json& patch, const std::string& sub) override {
    pass();
    return inner_.merge_patch(r, ns, name, patch, sub);
  }
  bool remove(const kube::Resource& r, const std::string& ns, const std::string& name,
              const std::string& propagation) override {
    pass();
    return inner_.remove(r, ns, name, propagation);
  }
  void watch(const kube::Resource& r, const std::string& ns, const std::string& rv,
             const std::function<bool(const WatchEvent&)>& on_event, const std::atomic<bool>& stop,
             const std::string& label_selector = {}) override {
    pass();
    ++watching_;
    // The inner watch stops on our flag, raised when the caller stops or the gate is cut.
    std::atomic<bool> end{false};
    std::atomic<bool> returned{false};
    std::thread relay([&] {
      proc::poll_until(
          std::chrono::hours(1), [&] { return returned || stop || !open_; }, milliseconds(10));
      end = true;
    });
    auto finish = [&] {
      returned = true;
      relay.join();
      --watching_;
    };
    try {
      inner_.watch(r, ns, rv, on_event, end, label_selector);
    } catch (...) {
      finish();
      throw;
    }
    finish();
    if (!open_) throw kube::TransportError("gate cut: the watch broke");
  }

 private:
  void pass() {
    ++calls_;
    if (!open_) throw kube::TransportError("gate cut: connection refused");
  }
  kube::Client& inner_;
  std::atomic<bool> open_{true};
  std::atomic<int> calls_{0};
  std::atomic<int> watching_{0};
};

// How to make an informer meet 410 Gone on demand, with nothing left to timing: its connection
// is cut (GateClient) so it misses what happens next; etcd is compacted past its version; and
// kube-apiserver is restarted, because compaction alone is not enough: the API server's watch
// cache still serves recent versions from memory, while a restarted one remembers nothing older
// than its start. When the gate opens, the informer's watch gets 410 and it must relist.
TEST_F(KubeClient, InformerRelistsAfterGoneAndReportsWhatVanished) {
  make_namespace("gone");
  for (const char* name : {"keep", "busy", "doomed"})
    client->create(res::config_maps, config_map("gone", name, {{"n", "0"}}));
  GateClient gate(*client);
  Recorder rec;
  kube::Informer informer(gate, res::config_maps, "gone", rec.handler());
  informer.start();
  ASSERT_TRUE(proc::poll_until(seconds(20), [&] { return informer.synced(); }));
  const std::string old_version = client->list(res::config_maps, "gone").resource_version;

  gate.cut();
  ASSERT_TRUE(proc::poll_until(seconds(10), [&] { return gate.watching() == 0; }));
  const auto cut_at = std::chrono::steady_clock::now();
  const int calls_at_cut = gate.calls();
  for (int i = 1; i <= 50; ++i)
    client->merge_patch(res::config_maps, "gone", "busy", {{"data", {{"n", std::to_string(i)}}}});
  client->remove(res::config_maps, "gone", "doomed");
  client->create(res::config_maps, config_map("gone", "fresh", {}));
  plane->compact_etcd();
  plane->stop_apiserver();
  plane->start_apiserver();

  // The same condition through the client directly: a watch from before is 410, as an ApiError.
  std::optional<kube::ApiError> err;
  with_deadline(seconds(20), [&](const std::atomic<bool>& stop) {
    err = api_error([&] {
      client->watch(
          res::config_maps, "gone", old_version, [](const WatchEvent&) { return true; }, stop);
    });
  });
  ASSERT_TRUE(err) << "a watch from a version before the compaction was not refused";
  EXPECT_TRUE(err->gone()) << err->what();
  EXPECT_EQ(err->reason(), "Expired") << err->what();

  // While cut, the informer retried with growing waits (200 ms doubling to 10 s, ±20%), not in
  // a loop: about 7 attempts in the first 10 s, then one each 8-12 s.
  const double cut_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - cut_at).count();
  EXPECT_LE(gate.calls() - calls_at_cut, 8 + static_cast<int>(cut_seconds / 8))
      << "in " << cut_seconds << " s";
  EXPECT_EQ(informer.relists(), 1) << "it cannot have listed through a cut connection";
  gate.reopen();

  std::map<std::string, std::string> server;
  EXPECT_TRUE(proc::poll_until(seconds(60), [&] {
    server = versions(client->list(res::config_maps, "gone").items);
    return informer.relists() >= 2 && versions(informer.list()) == server;
  })) << rec.describe();
  EXPECT_EQ(informer.relists(), 2);
  EXPECT_EQ(rec.count(Change::deleted, "doomed"), 1) << rec.describe();
  EXPECT_EQ(rec.count(Change::added, "fresh"), 1) << rec.describe();
  EXPECT_EQ(rec.count(Change::modified, "busy"), 1) << "the 50 updates, seen as one\n"
                                                    << rec.describe();
  EXPECT_EQ(rec.last("busy")["data"]["n"], "50");
  EXPECT_EQ(rec.count(Change::added, "keep"), 1) << rec.describe();
  EXPECT_EQ(rec.count(Change::modified, "keep"), 0) << rec.describe();
  EXPECT_FALSE(informer.get("gone", "doomed").has_value());
  informer.stop();
}

}  // namespace
}  // namespace pipewright
