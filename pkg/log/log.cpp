#include "pkg/log/log.h"
#include "pkg/units/rfc3339.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <string>

namespace pipewright::log {
namespace {

Level initial_level() {
  const char* env = std::getenv("PIPEWRIGHT_LOG_LEVEL");
  if (env == nullptr) return Level::info;
  const std::string v = env;
  if (v == "debug") return Level::debug;
  if (v == "warn") return Level::warn;
  if (v == "error") return Level::error;
  return Level::info;
}

std::atomic<Level>& min_level() {
  static std::atomic<Level> level{initial_level()};
  return level;
}

const char* name(Level level) {
  switch (level) {
    case Level::debug:
      return "debug";
    case Level::info:
      return "info";
    case Level::warn:
      return "warn";
    case Level::error:
      return "error";
  }
  return "info";
}

std::string now_rfc3339() {
  return units::rfc3339(std::chrono::system_clock::now());
}

}  // namespace

void set_min_level(Level level) {
  min_level() = level;
}

std::string format_line(Level level, std::string_view msg, const nlohmann::json& fields) {
  nlohmann::json line = {{"time", now_rfc3339()}, {"level", name(level)}, {"msg", msg}};
  if (fields.is_object()) {
    for (const auto& [key, value] : fields.items()) {
      if (!line.contains(key)) line[key] = value;
    }
  }
  // Replace invalid UTF-8 instead of throwing: a log line must never take a process down.
  return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void write(Level level, std::string_view msg, const nlohmann::json& fields) {
  if (level < min_level().load()) return;
  const std::string out = format_line(level, msg, fields) + "\n";
  static std::mutex mu;
  const std::lock_guard lock(mu);
  std::fwrite(out.data(), 1, out.size(), stderr);
  std::fflush(stderr);
}

}  // namespace pipewright::log
