#pragma once
// JSON-lines logging: one object per line on stderr, {"time","level","msg",...fields}.

#include <nlohmann/json.hpp>
#include <string_view>

namespace pipewright::log {

enum class Level { debug, info, warn, error };

// Fields become top-level keys of the line; "time", "level" and "msg" are reserved.
void write(Level level, std::string_view msg,
           const nlohmann::json& fields = nlohmann::json::object());

inline void debug(std::string_view msg, const nlohmann::json& fields = nlohmann::json::object()) {
  write(Level::debug, msg, fields);
}
inline void info(std::string_view msg, const nlohmann::json& fields = nlohmann::json::object()) {
  write(Level::info, msg, fields);
}
inline void warn(std::string_view msg, const nlohmann::json& fields = nlohmann::json::object()) {
  write(Level::warn, msg, fields);
}
inline void error(std::string_view msg, const nlohmann::json& fields = nlohmann::json::object()) {
  write(Level::error, msg, fields);
}

// Lines below this level are dropped (default info; PIPEWRIGHT_LOG_LEVEL=debug overrides).
void set_min_level(Level level);

// Formats one line without writing it (used by write and by tests).
std::string format_line(Level level, std::string_view msg, const nlohmann::json& fields);

}  // namespace pipewright::log
