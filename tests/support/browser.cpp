#include "tests/support/browser.h"

#include <stdexcept>

#include "pkg/local/tools.h"
#include "pkg/proc/run.h"
#include "tests/support/suite_logs.h"

namespace pipewright::testing {

nlohmann::json browse(const std::string& url, const std::string& selector, int timeout_ms,
                      const nlohmann::json& actions, const std::string& screenshot) {
  // Next to the suites' folders, which are removed when they pass: screenshots stay.
  const auto dir = suite_dir().parent_path() / "screenshots";
  std::filesystem::create_directories(dir);
  const auto script = source_dir() / "tests" / "support" / "browser.mjs";
  const auto r = proc::run(
      {local::system_tool("node").string(), script.string(), url, selector,
       std::to_string(timeout_ms), (dir / (screenshot + ".png")).string(), actions.dump()},
      std::chrono::milliseconds(timeout_ms + 30000),
      {{"NODE_PATH", local::node_modules().string()},
       {"PIPEWRIGHT_CHROMIUM", local::system_tool("chromium").string()}});
  if (r.exit_code != 0) {
    throw std::runtime_error("browser exited with " + std::to_string(r.exit_code) + ": " +
                             r.output);
  }
  // The script's result is the last line that starts with '{' (console messages come before it).
  const auto start = r.output.rfind("\n{");
  return nlohmann::json::parse(start == std::string::npos ? r.output : r.output.substr(start + 1));
}

}  // namespace pipewright::testing
