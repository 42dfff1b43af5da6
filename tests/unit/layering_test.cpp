// The layering as a rule (docs/architecture.md): reads every #include under pkg/ and cmd/ and
// fails on one that points the wrong way, and on a cycle between folders of pkg/.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

// The data plane: what runs inside a worker pod. It never reads manifests or plans.
const std::set<std::string> kDataPlane = {
    "pkg/runtime", "pkg/workers", "pkg/http", "pkg/kafka", "pkg/imaging",  "pkg/notify",
    "pkg/event",   "pkg/json",    "pkg/log",  "pkg/units", "pkg/contract", "cmd/pipewright-worker"};
const std::set<std::string> kControlPlane = {"pkg/api", "pkg/plan", "pkg/controller", "pkg/kube",
                                             "pkg/local"};

// Known violations, each with why it is still there (none today: keep it that way).
const std::set<std::pair<std::string, std::string>> kAllowed = {};

struct Include {
  std::string file;    // relative to the source root
  std::string target;  // "pkg/plan/topics.h"
};

std::string area(const std::string& path) {
  const auto first = path.find('/');
  const auto second = path.find('/', first + 1);
  return second == std::string::npos ? path : path.substr(0, second);
}

std::vector<Include> project_includes(const fs::path& root) {
  static const std::regex kInclude(R"re(^\s*#\s*include\s+"((pkg|cmd|tests)/[^"]+)")re");
  std::vector<Include> out;
  for (const char* top : {"pkg", "cmd"}) {
    for (const auto& e : fs::recursive_directory_iterator(root / top)) {
      const auto ext = e.path().extension();
      if (!e.is_regular_file() || (ext != ".h" && ext != ".cpp")) continue;
      const auto rel = fs::relative(e.path(), root).string();
      std::ifstream in(e.path());
      for (std::string line; std::getline(in, line);) {
        std::smatch m;
        if (line.size() < 300 && std::regex_search(line, m, kInclude)) out.push_back({rel, m[1]});
      }
    }
  }
  return out;
}

fs::path source_root() {
  const char* dir = std::getenv("PIPEWRIGHT_SOURCE_DIR");
  return dir != nullptr ? fs::path(dir) : fs::current_path();
}

TEST(Layering, FindsTheIncludes) {
  // A rule over nothing passes for the wrong reason.
  const auto includes = project_includes(source_root());
  EXPECT_GT(includes.size(), 200U);
  EXPECT_TRUE(std::any_of(includes.begin(), includes.end(), [](const Include& i) {
    return i.file == "pkg/plan/render.cpp" && i.target == "pkg/plan/render.h";
  }));
}

TEST(Layering, DataPlaneNeverIncludesTheControlPlane) {
  std::vector<std::string> wrong;
  for (const auto& i : project_includes(source_root())) {
    if (!kDataPlane.contains(area(i.file)) || !kControlPlane.contains(area(i.target))) continue;
    if (kAllowed.contains({i.file, i.target})) continue;
    wrong.push_back(i.file + " includes " + i.target);
  }
  EXPECT_TRUE(wrong.empty()) << ::testing::PrintToString(wrong);
}

TEST(Layering, ContractDependsOnNothingOfOurs) {
  std::vector<std::string> wrong;
  for (const auto& i : project_includes(source_root())) {
    if (area(i.file) == "pkg/contract" && area(i.target) != "pkg/contract")
      wrong.push_back(i.file + " includes " + i.target);
  }
  EXPECT_TRUE(wrong.empty()) << ::testing::PrintToString(wrong);
}

TEST(Layering, NothingInPkgIncludesCmdOrTests) {
  std::vector<std::string> wrong;
  for (const auto& i : project_includes(source_root())) {
    if (i.file.starts_with("pkg/") && !i.target.starts_with("pkg/"))
      wrong.push_back(i.file + " includes " + i.target);
  }
  EXPECT_TRUE(wrong.empty()) << ::testing::PrintToString(wrong);
}

TEST(Layering, NoCycleBetweenFolders) {
  std::map<std::string, std::set<std::string>> edges;
  for (const auto& i : project_includes(source_root())) {
    const auto from = area(i.file), to = area(i.target);
    if (from != to && from.starts_with("pkg/") && to.starts_with("pkg/")) edges[from].insert(to);
  }
  std::map<std::string, int> state;  // 0 new, 1 on the path, 2 done
  std::vector<std::string> path;
  std::string cycle;
  const std::function<bool(const std::string&)> visit = [&](const std::string& n) {
    state[n] = 1;
    path.push_back(n);
    for (const auto& next : edges[n]) {
      if (state[next] == 1) {
        for (auto it = std::find(path.begin(), path.end(), next); it != path.end(); ++it)
          cycle += *it + " -> ";
        cycle += next;
        return true;
      }
      if (state[next] == 0 && visit(next)) return true;
    }
    path.pop_back();
    state[n] = 2;
    return false;
  };
  for (const auto& [n, _] : edges) {
    if (state[n] == 0 && visit(n)) break;
  }
  EXPECT_EQ(cycle, "");
}

// The allowlist only holds violations that still exist: a fixed one must leave it.
TEST(Layering, AllowlistHasNoStaleEntry) {
  const auto includes = project_includes(source_root());
  for (const auto& [file, target] : kAllowed) {
    EXPECT_TRUE(std::any_of(includes.begin(), includes.end(),
                            [&](const Include& i) { return i.file == file && i.target == target; }))
        << file << " no longer includes " << target << ": remove it from kAllowed";
  }
}

}  // namespace
