#include "pkg/local/tools.h"

#include <unistd.h>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace pipewright::local {
namespace {

[[noreturn]] void missing(std::string_view what, const std::filesystem::path& where) {
  throw std::runtime_error(std::string(what) + " not found at " + where.string() +
                           ": run scripts/install first");
}

}  // namespace

std::filesystem::path cache_dir() {
  if (const char* env = std::getenv("PIPEWRIGHT_CACHE"); env != nullptr && *env != '\0') {
    return env;
  }
  return PIPEWRIGHT_CACHE_DEFAULT;
}

std::filesystem::path cached_tool(std::string_view name) {
  auto path = cache_dir() / "bin" / std::string(name);
  if (::access(path.c_str(), X_OK) != 0) missing(name, path);
  return path;
}

std::filesystem::path system_tool(std::string_view name) {
  std::string dirs = "/usr/sbin:/usr/bin:/sbin:/bin";
  if (const char* path = std::getenv("PATH"); path != nullptr)
    dirs = std::string(path) + ":" + dirs;
  std::stringstream ss(dirs);
  for (std::string dir; std::getline(ss, dir, ':');) {
    if (dir.empty()) continue;
    auto candidate = std::filesystem::path(dir) / std::string(name);
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  throw std::runtime_error(std::string(name) +
                           " not found on PATH or in /usr/sbin: run scripts/install first");
}

std::filesystem::path worker_binary() {
  if (const char* env = std::getenv("PIPEWRIGHT_WORKER_BINARY"); env != nullptr && *env != '\0')
    return env;
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const auto dir = self.parent_path();
    for (const auto& candidate : {dir / "pipewright-worker",
                                  dir.parent_path() / "pipewright-worker" / "pipewright-worker"}) {
      if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
  }
  try {
    return system_tool("pipewright-worker");
  } catch (const std::exception&) {
    throw std::runtime_error(
        "pipewright-worker not found next to this program or on PATH; build it (scripts/build) "
        "or set PIPEWRIGHT_WORKER_BINARY");
  }
}

std::filesystem::path kafka_libs() {
  auto dir = cache_dir() / ("kafka-" PIPEWRIGHT_KAFKA_VERSION) / "libs";
  if (!std::filesystem::is_directory(dir)) missing("Kafka " PIPEWRIGHT_KAFKA_VERSION, dir);
  return dir;
}

std::filesystem::path node_modules() {
  auto dir = cache_dir() / "node" / "node_modules";
  if (!std::filesystem::is_directory(dir / "playwright-core")) missing("playwright-core", dir);
  return dir;
}

std::string tail(const std::filesystem::path& file, std::size_t max_bytes) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string all = ss.str();
  return all.size() > max_bytes ? all.substr(all.size() - max_bytes) : all;
}

}  // namespace pipewright::local
