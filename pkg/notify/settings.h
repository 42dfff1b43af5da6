#pragma once
// The notify worker's configuration (`steps[].config`, SPEC section 3), checked key by key.
// Credentials are never in it: `secretRef` names a Secret whose values reach the process as
// environment variables, read by load_credentials().

#include <chrono>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace pipewright::notify {

// A configuration problem; what() is "<path>: <message>", e.g. "config.smtp.hots: unknown key".
class ConfigError : public std::runtime_error {
 public:
  ConfigError(std::string path, const std::string& message)
      : std::runtime_error(path + ": " + message), path_(std::move(path)) {}
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct SmtpConfig {
  // No host: local mode's mail catcher (`pipewright up`, SPEC section 7).
  std::string host = "127.0.0.1";
  // 1025 for the catcher; otherwise 25, or 587 with STARTTLS; 465 means implicit TLS (SMTPS).
  int port = 1025;
  std::string from = "pipewright@localhost";
  // Defaults to true when a host is given (credentials must not cross the network in clear),
  // false for the local catcher.
  bool starttls = false;
  std::string secret_ref;
  std::string username, password;  // from PIPEWRIGHT_SMTP_USERNAME / _PASSWORD
  std::string ca_file;             // not a config key: tests and custom CAs; "": the system's
  std::chrono::seconds timeout{10};
};

struct TelegramConfig {
  std::string base_url = "https://api.telegram.org";
  std::string chat_id;  // default chat when the event names none
  std::string secret_ref;
  std::string token;  // from PIPEWRIGHT_TELEGRAM_TOKEN
  std::chrono::seconds timeout{10};
};

struct WebhookConfig {
  std::string url;
  std::chrono::seconds timeout{10};
};

struct Settings {
  std::vector<std::string> channels = {"log"};  // each one of channel_names()
  std::string locale = "pt-BR";
  std::string to;  // default e-mail recipient when the event names none
  SmtpConfig smtp;
  TelegramConfig telegram;
  WebhookConfig webhook;
  std::map<std::string, std::string> templates;  // operation -> template ("{file}", ...)

  bool uses(const std::string& channel) const;
};

// "smtp", "telegram", "webhook", "log".
const std::vector<std::string>& channel_names();

// Reads a step's config (null or an object). Throws ConfigError naming the key path for an
// unknown key, a wrong type, an unknown channel or locale, a missing webhook.url, ...
Settings parse_settings(const nlohmann::json& config);

using Getenv = std::function<std::optional<std::string>(const std::string&)>;

// Fills credentials from the environment: PIPEWRIGHT_SMTP_USERNAME, PIPEWRIGHT_SMTP_PASSWORD,
// PIPEWRIGHT_TELEGRAM_TOKEN. Throws ConfigError (path: the variable) when a channel in use
// lacks what it needs: the telegram token, or an SMTP password without a username.
void load_credentials(Settings& settings, const Getenv& getenv);

// The process environment, for load_credentials.
std::optional<std::string> process_env(const std::string& name);

}  // namespace pipewright::notify
