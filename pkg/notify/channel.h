#pragma once
// Notification channels: smtp, telegram, webhook, log. One send() per channel per event; a
// failure is a ChannelError that says whether trying again later can help.

#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "pkg/notify/settings.h"

namespace pipewright::notify {

// The CloudEvents type of what the webhook channel POSTs (binary mode, docs/messages.md).
inline constexpr std::string_view kWebhookEventType = "pipewright.notification";

struct Notification {
  std::string event_id, operation, to_email, telegram_chat, subject, text;
  // The CloudEvents source the webhook's event names: the notify step's ("/pipewright/...").
  std::string source;
  nlohmann::json data;  // the event's fields (without its "notify" recipients)
};

class ChannelError : public std::runtime_error {
 public:
  ChannelError(std::string channel, const std::string& message, bool retriable)
      : std::runtime_error(channel + ": " + message),
        channel_(std::move(channel)),
        retriable_(retriable) {}
  const std::string& channel() const { return channel_; }
  // True for what may pass (no connection, timeouts, HTTP 5xx and 429, SMTP 4xx); false for
  // what will fail the same way again (a bad chat id, a refused recipient, bad credentials).
  bool retriable() const { return retriable_; }

 private:
  std::string channel_;
  bool retriable_;
};

class Channel {
 public:
  Channel() = default;
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;
  virtual ~Channel() = default;
  virtual std::string name() const = 0;
  // False when the notification has no recipient for this channel (no e-mail for smtp, no chat
  // for telegram): the caller skips the channel for that event rather than failing it.
  virtual bool can_send(const Notification& n) const = 0;
  // Throws ChannelError.
  virtual void send(const Notification& n) = 0;
};

std::unique_ptr<Channel> make_smtp_channel(const SmtpConfig& config);
std::unique_ptr<Channel> make_telegram_channel(const TelegramConfig& config);
std::unique_ptr<Channel> make_webhook_channel(const WebhookConfig& config);
std::unique_ptr<Channel> make_log_channel();

// A URL as logs may show it: scheme and host only ("https://hooks.slack.com/***"); userinfo, path
// and query (where webhooks keep their secret) are left out.
std::string redact_url(const std::string& url);

// One channel per settings.channels entry, in that order (credentials already loaded).
std::vector<std::unique_ptr<Channel>> make_channels(const Settings& settings);

// The notification for one event, e.g. {"id", "operation": "rotate", "file": "perfil.jpg",
// "notify": {"email": "a@b.c", "telegram": "12345"}}. A CloudEvents envelope also works: the
// fields of its "data" object count, and "type" stands in for a missing "operation".
// Recipients: the event's notify.email / notify.telegram, else config `to` / telegram.chatId.
// Throws std::invalid_argument when the event is not an object or has no operation.
Notification make_notification(const Settings& settings, const nlohmann::json& event);

}  // namespace pipewright::notify
