#include "pkg/notify/settings.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <set>

#include "pkg/contract/env.h"
#include "pkg/contract/workers.h"

namespace pipewright::notify {
namespace {

using nlohmann::json;

// The keys, choices and bounds are the contract's (pkg/contract/workers.cpp), the table
// `pipewright validate` checks manifests against; this file keeps only how they are read.
const contract::WorkerTraits& notify_traits() {
  static const contract::WorkerTraits& traits = *contract::find_worker("notify");
  return traits;
}

const contract::ConfigKey& key_at(std::string_view path) {
  const auto* key = contract::find_config_key(notify_traits(), path);
  if (key == nullptr) throw std::logic_error("the contract has no notify key " + std::string(path));
  return *key;
}

std::set<std::string> names_of(const std::vector<contract::ConfigKey>& keys) {
  std::set<std::string> out;
  for (const auto& k : keys)
    out.emplace(k.name);
  return out;
}

std::string in_parentheses(const std::vector<std::string_view>& choices) {
  return " (" + contract::name_list(choices) + ")";
}

// The contract's rule for the form of a text, with this worker's error.
void check_form(const std::string& path, const std::string& text) {
  if (auto problem =
          contract::check_text(key_at(path.substr(std::string("config.").size())).form, text);
      !problem.empty())
    throw ConfigError(path, problem);
}

std::string type_name(const json& v) {
  if (v.is_number_integer() || v.is_number_unsigned()) return "an integer";
  if (v.is_number()) return "a number";
  if (v.is_string()) return "a string";
  if (v.is_boolean()) return "a boolean";
  if (v.is_array()) return "a list";
  if (v.is_object()) return "an object";
  return "null";
}

ConfigError wrong_type(const std::string& path, const std::string& want, const json& v) {
  return ConfigError(path, "must be " + want + ", not " + type_name(v));
}

// The keys of one object level: anything else is named as unknown; credentials get a hint.
void check_keys(const json& obj, const std::string& path, const std::set<std::string>& known) {
  for (const auto& [key, value] : obj.items()) {
    if (known.count(key) != 0) continue;
    if (contract::is_credential_key(key))
      throw ConfigError(path + "." + key, std::string(contract::kCredentialHint));
    throw ConfigError(path + "." + key, "unknown key");
  }
}

json object_at(const json& parent, const std::string& key, const std::string& path) {
  const auto it = parent.find(key);
  if (it == parent.end() || it->is_null()) return json::object();
  if (!it->is_object()) throw wrong_type(path, "an object", *it);
  return *it;
}

std::optional<std::string> string_at(const json& obj, const std::string& key,
                                     const std::string& path) {
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) throw wrong_type(path, "a string", *it);
  return it->get<std::string>();
}

// Chat ids are numbers to Telegram, and YAML writes them without quotes.
std::optional<std::string> id_at(const json& obj, const std::string& key, const std::string& path) {
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::nullopt;
  if (it->is_number_integer()) return it->dump();
  if (!it->is_string()) throw wrong_type(path, "a string or an integer", *it);
  return it->get<std::string>();
}

void parse_smtp(const json& config, Settings& s) {
  const std::string path = "config.smtp";
  const json smtp = object_at(config, "smtp", path);
  check_keys(smtp, path, names_of(key_at("smtp").fields));
  if (auto host = string_at(smtp, "host", path + ".host"); host && !host->empty()) {
    check_form(path + ".host", *host);
    s.smtp.host = *host;
    s.smtp.starttls = true;
    s.smtp.port = 0;  // decided below, once starttls is known
  }
  if (const auto it = smtp.find("starttls"); it != smtp.end() && !it->is_null()) {
    if (!it->is_boolean()) throw wrong_type(path + ".starttls", "a boolean", *it);
    s.smtp.starttls = it->get<bool>();
  }
  if (const auto it = smtp.find("port"); it != smtp.end() && !it->is_null()) {
    if (!it->is_number_integer()) throw wrong_type(path + ".port", "an integer", *it);
    const auto port = it->get<long long>();
    const auto& rule = key_at("smtp.port");
    if (port < rule.min || port > rule.max) {
      throw ConfigError(path + ".port",
                        "must be " + std::to_string(rule.min) + " to " + std::to_string(rule.max));
    }
    s.smtp.port = static_cast<int>(port);
  }
  if (s.smtp.port == 0) s.smtp.port = s.smtp.starttls ? 587 : 25;
  if (auto from = string_at(smtp, "from", path + ".from")) {
    check_form(path + ".from", *from);
    s.smtp.from = *from;
  }
  if (auto ref = string_at(smtp, "secretRef", path + ".secretRef")) s.smtp.secret_ref = *ref;
}

void parse_telegram(const json& config, Settings& s) {
  const std::string path = "config.telegram";
  const json tg = object_at(config, "telegram", path);
  check_keys(tg, path, names_of(key_at("telegram").fields));
  if (auto url = string_at(tg, "baseUrl", path + ".baseUrl")) {
    check_form(path + ".baseUrl", *url);
    while (!url->empty() && url->back() == '/')
      url->pop_back();
    s.telegram.base_url = *url;
  }
  if (auto chat = id_at(tg, "chatId", path + ".chatId")) s.telegram.chat_id = *chat;
  if (auto ref = string_at(tg, "secretRef", path + ".secretRef")) s.telegram.secret_ref = *ref;
}

void parse_channels(const json& config, Settings& s) {
  const auto it = config.find("channels");
  if (it == config.end() || it->is_null()) return;
  if (!it->is_array()) throw wrong_type("config.channels", "a list", *it);
  if (it->size() < static_cast<std::size_t>(key_at("channels").min))
    throw ConfigError("config.channels", "must name at least one channel");
  s.channels.clear();
  const auto& names = channel_names();
  for (std::size_t i = 0; i < it->size(); ++i) {
    const std::string path = "config.channels[" + std::to_string(i) + "]";
    const json& v = (*it)[i];
    if (!v.is_string()) throw wrong_type(path, "a string", v);
    const auto name = v.get<std::string>();
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      throw ConfigError(
          path, "unknown channel '" + name + "'" + in_parentheses(key_at("channels").choices));
    }
    if (s.uses(name)) throw ConfigError(path, "channel '" + name + "' is listed twice");
    s.channels.push_back(name);
  }
}

}  // namespace

bool Settings::uses(const std::string& channel) const {
  return std::find(channels.begin(), channels.end(), channel) != channels.end();
}

const std::vector<std::string>& channel_names() {
  static const std::vector<std::string> names = [] {
    const auto& choices = key_at("channels").choices;
    return std::vector<std::string>(choices.begin(), choices.end());
  }();
  return names;
}

Settings parse_settings(const json& config) {
  Settings s;
  s.locale = std::string(key_at("locale").fallback);
  if (config.is_null()) return s;
  if (!config.is_object()) throw wrong_type("config", "an object", config);
  check_keys(config, "config", names_of(notify_traits().config));
  parse_channels(config, s);
  if (auto locale = string_at(config, "locale", "config.locale")) {
    const auto& all = key_at("locale").choices;
    if (std::find(all.begin(), all.end(), *locale) == all.end()) {
      throw ConfigError("config.locale", "unknown locale '" + *locale + "'" + in_parentheses(all));
    }
    s.locale = *locale;
  }
  if (auto to = string_at(config, "to", "config.to")) {
    check_form("config.to", *to);
    s.to = *to;
  }
  parse_smtp(config, s);
  parse_telegram(config, s);

  const json webhook = object_at(config, "webhook", "config.webhook");
  check_keys(webhook, "config.webhook", names_of(key_at("webhook").fields));
  if (auto url = string_at(webhook, "url", "config.webhook.url")) {
    check_form("config.webhook.url", *url);
    s.webhook.url = *url;
  }
  // The contract's rules across keys: the one there is names webhook.url.
  for (const auto& rule : notify_traits().config_requires) {
    if (rule.path == "webhook.url" && s.uses(std::string(rule.value)) && s.webhook.url.empty())
      throw ConfigError("config." + std::string(rule.path), std::string(rule.message));
  }

  const json templates = object_at(config, "templates", "config.templates");
  for (const auto& [operation, text] : templates.items()) {
    const std::string path = "config.templates." + operation;
    if (!text.is_string()) throw wrong_type(path, "a string", text);
    if (auto problem = contract::check_text(key_at("templates").form, text.get<std::string>());
        !problem.empty())
      throw ConfigError(path, problem);
    s.templates[operation] = text.get<std::string>();
  }
  return s;
}

// The variables are the contract's keys (pkg/contract/env.h), the names the renderer writes.
void load_credentials(Settings& settings, const Getenv& getenv) {
  const std::string user_key(contract::env::kSmtpUsername.name);
  const std::string pass_key(contract::env::kSmtpPassword.name);
  const std::string token_key(contract::env::kTelegramToken.name);
  const auto user = getenv(user_key);
  const auto pass = getenv(pass_key);
  const bool has_user = user && !user->empty();
  const bool has_pass = pass && !pass->empty();
  if (settings.uses("smtp") && has_user != has_pass) {
    throw ConfigError(has_user ? pass_key : user_key,
                      "not set, while its pair is; the Secret named by config.smtp.secretRef "
                      "needs both username and password");
  }
  if (has_user) settings.smtp.username = *user;
  if (has_pass) settings.smtp.password = *pass;

  const auto token = getenv(token_key);
  if (token && !token->empty()) {
    // The token goes into the request path: it must not be able to change the URL.
    const bool plain = std::all_of(token->begin(), token->end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == ':' || c == '_' || c == '-';
    });
    if (!plain) {
      throw ConfigError(token_key, "not a bot token (letters, digits, ':', '_' and '-' only)");
    }
    settings.telegram.token = *token;
  } else if (settings.uses("telegram")) {
    throw ConfigError(
        token_key,
        "not set; the telegram channel needs the bot token from the Secret named by "
        "config.telegram.secretRef" +
            (settings.telegram.secret_ref.empty() ? std::string()
                                                  : " ('" + settings.telegram.secret_ref + "')"));
  }
}

std::optional<std::string> process_env(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

}  // namespace pipewright::notify
