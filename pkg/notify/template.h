#pragma once
// Notification texts per operation and locale (pt-BR, en), with per-operation overrides.

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace pipewright::notify {

// The locales a notification can be written in; the first is the default.
const std::vector<std::string>& locales();

// The body of a notification. `overrides` maps an operation to a template of its own; a
// template's "{name}" placeholders are filled from `fields` ("{operation}" from `operation`):
// strings as they are, numbers as written, lists joined with "; ". A placeholder with no field
// stays as written so a template mistake shows. An operation with neither an override nor a
// built-in text gets a generic sentence. Throws std::invalid_argument for an unknown locale.
//   render_message("rotate", "pt-BR", {}, {{"file", "perfil.jpg"}})
//     == "O arquivo perfil.jpg foi rotacionado."
std::string render_message(const std::string& operation, const std::string& locale,
                           const std::map<std::string, std::string>& overrides,
                           const nlohmann::json& fields);

// A short subject line: "Pipewright: perfil.jpg rotacionado", "Pipewright: order 42 rejected".
std::string render_subject(const std::string& operation, const std::string& locale,
                           const nlohmann::json& fields);

// Fills "{name}" placeholders of `text` (the rules of render_message).
std::string fill(const std::string& text, const std::string& operation,
                 const nlohmann::json& fields);

}  // namespace pipewright::notify
