#include "pkg/notify/channel.h"

#include <curl/curl.h>
#include <map>
#include <mutex>

#include "pkg/event/envelope.h"
#include "pkg/json/limited.h"
#include "pkg/log/log.h"
#include "pkg/notify/curl_errors.h"
#include "pkg/notify/smtp.h"
#include "pkg/notify/template.h"

namespace pipewright::notify {
namespace {

using nlohmann::json;

struct HttpReply {
  long status = 0;
  std::string body;
};

std::size_t collect(char* data, std::size_t size, std::size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

// 429 and 408 ask to come back; 5xx is the server's trouble; any other 4xx is ours for good.
bool retriable_status(long status) {
  return status == 429 || status == 408 || status >= 500;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  if (from.empty()) return s;
  for (auto pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size())) {
    s.replace(pos, from.size(), to);
  }
  return s;
}

// One channel's HTTP connection, kept between posts: libcurl keeps a finished request's
// connection open in its easy handle and reuses it for the next one to the same host (a closed
// or dead one is replaced by a new connection), instead of a TCP (and TLS) handshake per
// notification. One post at a time per channel.
class HttpConnection {
 public:
  HttpConnection() {
    static std::once_flag init;
    std::call_once(init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    handle_.reset(curl_easy_init());
  }
  // The handle (options cleared after each post; its connection and caches stay), with the lock
  // held for the post.
  CURL* lock(std::unique_lock<std::mutex>& held) {
    held = std::unique_lock(mu_);
    return handle_.get();
  }

 private:
  std::mutex mu_;
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> handle_{nullptr, curl_easy_cleanup};
};

// POSTs a JSON body (with `extra` headers) on `connection`; throws ChannelError when no HTTP
// answer came. `shown_url` is the URL as errors may show it (the Telegram token is part of the
// real one).
HttpReply post_json(HttpConnection& connection, const std::string& channel, const std::string& url,
                    const std::string& shown_url, const std::string& body,
                    std::chrono::seconds timeout,
                    const std::map<std::string, std::string>& extra = {}) {
  std::unique_lock<std::mutex> held;
  CURL* c = connection.lock(held);
  if (c == nullptr) throw ChannelError(channel, "curl_easy_init failed", true);
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> guard(headers, curl_slist_free_all);
  for (const auto& [name, value] : extra) {
    if (name == "Content-Type") continue;  // application/json already
    // Appending keeps the list's head, which the guard owns.
    if (curl_slist_append(headers, (name + ": " + value).c_str()) == nullptr) {
      throw ChannelError(channel, "out of memory for a header", true);
    }
  }
  HttpReply reply;
  char errbuf[CURL_ERROR_SIZE] = {0};
  // The handle outlives this frame: it must not keep pointing at errbuf (or the headers).
  struct Forget {
    CURL* c;
    ~Forget() { curl_easy_reset(c); }
  } forget{c};
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &reply.body);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, static_cast<long>(timeout.count()));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, static_cast<long>(timeout.count()));
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  const CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    const std::string why = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc);
    throw ChannelError(channel, "POST " + shown_url + ": " + replace_all(why, url, shown_url),
                       transient_curl_error(rc));
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply.status);
  return reply;
}

std::string excerpt(const std::string& body) {
  return body.size() <= 200 ? body : body.substr(0, 200) + "...";
}

class SmtpChannel : public Channel {
 public:
  explicit SmtpChannel(const SmtpConfig& c) {
    settings_.host = c.host;
    settings_.port = c.port;
    settings_.from = c.from;
    settings_.tls = c.port == 465;  // the SMTPS port speaks TLS from the first byte
    settings_.starttls = c.starttls && !settings_.tls;
    settings_.username = c.username;
    settings_.password = c.password;
    settings_.ca_file = c.ca_file;
    settings_.timeout = c.timeout;
  }
  std::string name() const override { return "smtp"; }
  bool can_send(const Notification& n) const override { return !n.to_email.empty(); }
  void send(const Notification& n) override {
    try {
      send_mail(settings_, {n.to_email, n.subject, n.text});
    } catch (const SmtpError& e) {
      std::string what = e.what();
      if (what.rfind("smtp: ", 0) == 0) what.erase(0, 6);
      if (what.rfind("smtp ", 0) == 0) what.erase(0, 5);
      throw ChannelError("smtp", what, e.retriable());
    }
  }

 private:
  SmtpSettings settings_;
};

class TelegramChannel : public Channel {
 public:
  explicit TelegramChannel(TelegramConfig c) : config_(std::move(c)) {}
  std::string name() const override { return "telegram"; }
  bool can_send(const Notification& n) const override { return !n.telegram_chat.empty(); }
  void send(const Notification& n) override {
    if (config_.token.empty()) throw ChannelError("telegram", "no bot token", false);
    const std::string url = config_.base_url + "/bot" + config_.token + "/sendMessage";
    const std::string shown = config_.base_url + "/bot***/sendMessage";
    const json body = {{"chat_id", n.telegram_chat}, {"text", n.text}};
    const HttpReply r =
        post_json(connection_, "telegram", url, shown, body.dump(), config_.timeout);
    const json answer = pipewright::json::try_parse(r.body).value_or(json());
    if (r.status == 200 && answer.is_object() && answer.value("ok", false)) return;
    std::string why = "HTTP " + std::to_string(r.status);
    if (answer.is_object() && answer.contains("description") && answer["description"].is_string()) {
      why += ": " + answer["description"].get<std::string>();
    } else if (!r.body.empty()) {
      why += ": " + excerpt(r.body);
    }
    const auto params = answer.is_object() ? answer.find("parameters") : answer.end();
    if (params != answer.end() && params->is_object() && params->contains("retry_after")) {
      why += " (retry after " + (*params)["retry_after"].dump() + " s)";
    }
    // A 200 without {"ok": true} is not Telegram speaking (a proxy, a portal): try later.
    const bool retriable = r.status == 200 || retriable_status(r.status);
    throw ChannelError("telegram", "POST " + shown + ": " + replace_all(why, config_.token, "***"),
                       retriable);
  }

 private:
  TelegramConfig config_;
  HttpConnection connection_;
};

}  // namespace

std::string redact_url(const std::string& url) {
  const auto scheme = url.find("://");
  if (scheme == std::string::npos) return "***";
  const auto start = scheme + 3;
  auto end = url.find_first_of("/?#", start);
  if (end == std::string::npos) end = url.size();
  std::string host = url.substr(start, end - start);
  if (const auto at = host.rfind('@'); at != std::string::npos) host.erase(0, at + 1);
  std::string out = url.substr(0, start) + host;
  if (end < url.size()) out += "/***";
  return out;
}

namespace {

class WebhookChannel : public Channel {
 public:
  explicit WebhookChannel(WebhookConfig c) : config_(std::move(c)) {}
  std::string name() const override { return "webhook"; }
  bool can_send(const Notification& /*n*/) const override { return true; }
  void send(const Notification& n) override {
    // A CloudEvent in the HTTP binding's binary mode: the body every hook got before, with
    // ce-* headers, so CloudEvents receivers read it and plain JSON hooks see no change.
    event::Envelope e{
        n.event_id,
        std::string(kWebhookEventType),
        event::now_rfc3339(),
        n.source.empty() ? "/pipewright/notify" : n.source,
        json{{"id", n.event_id}, {"operation", n.operation}, {"text", n.text}, {"data", n.data}},
        {}};
    // The URL often holds a secret (Slack, Discord, Teams): logs and dead-letter headers, which
    // carry this error, show only its scheme and host.
    const auto shown = redact_url(config_.url);
    const HttpReply r = post_json(connection_, "webhook", config_.url, shown, event::kafka_value(e),
                                  config_.timeout, event::http_headers(e));
    if (r.status >= 200 && r.status < 300) return;
    throw ChannelError("webhook",
                       "POST " + shown + ": HTTP " + std::to_string(r.status) +
                           (r.body.empty() ? "" : ": " + excerpt(r.body)),
                       retriable_status(r.status));
  }

 private:
  WebhookConfig config_;
  HttpConnection connection_;
};

class LogChannel : public Channel {
 public:
  std::string name() const override { return "log"; }
  bool can_send(const Notification& /*n*/) const override { return true; }
  void send(const Notification& n) override {
    json fields = {{"channel", "log"},
                   {"event_id", n.event_id},
                   {"operation", n.operation},
                   {"subject", n.subject},
                   {"text", n.text}};
    if (!n.to_email.empty()) fields["to"] = n.to_email;
    if (!n.telegram_chat.empty()) fields["telegram"] = n.telegram_chat;
    log::info("notification", fields);
  }
};

// A recipient from the event: a string, or a number for Telegram chat ids.
std::string recipient(const json& notify, const char* key) {
  if (!notify.is_object()) return "";
  const auto it = notify.find(key);
  if (it == notify.end()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number_integer()) return it->dump();
  return "";
}

}  // namespace

std::unique_ptr<Channel> make_smtp_channel(const SmtpConfig& config) {
  return std::make_unique<SmtpChannel>(config);
}
std::unique_ptr<Channel> make_telegram_channel(const TelegramConfig& config) {
  return std::make_unique<TelegramChannel>(config);
}
std::unique_ptr<Channel> make_webhook_channel(const WebhookConfig& config) {
  return std::make_unique<WebhookChannel>(config);
}
std::unique_ptr<Channel> make_log_channel() {
  return std::make_unique<LogChannel>();
}

std::vector<std::unique_ptr<Channel>> make_channels(const Settings& settings) {
  std::vector<std::unique_ptr<Channel>> out;
  for (const auto& name : settings.channels) {
    if (name == "smtp") {
      out.push_back(make_smtp_channel(settings.smtp));
    } else if (name == "telegram") {
      out.push_back(make_telegram_channel(settings.telegram));
    } else if (name == "webhook") {
      out.push_back(make_webhook_channel(settings.webhook));
    } else if (name == "log") {
      out.push_back(make_log_channel());
    } else {
      throw ConfigError("config.channels", "unknown channel '" + name + "'");
    }
  }
  return out;
}

Notification make_notification(const Settings& settings, const json& event) {
  if (!event.is_object()) throw std::invalid_argument("event: must be a JSON object");
  json fields = event;
  json notify = event.contains("notify") ? event["notify"] : json();
  fields.erase("notify");
  if (const auto data = event.find("data"); data != event.end() && data->is_object()) {
    fields.erase("data");
    for (const auto& [key, value] : data->items()) {
      if (key == "notify") {
        if (notify.is_null()) notify = value;
      } else if (key != "id" || !fields.contains("id")) {
        fields[key] = value;  // the envelope's id stays the event's id
      }
    }
  }
  Notification n;
  if (const auto id = event.find("id"); id != event.end()) {
    n.event_id = id->is_string() ? id->get<std::string>() : id->dump();
  }
  if (fields.contains("operation") && fields["operation"].is_string()) {
    n.operation = fields["operation"].get<std::string>();
  } else if (event.contains("type") && event["type"].is_string()) {
    n.operation = event["type"].get<std::string>();
  }
  if (n.operation.empty()) throw std::invalid_argument("event: no operation (or type)");
  n.to_email = recipient(notify, "email");
  if (n.to_email.empty()) n.to_email = settings.to;
  n.telegram_chat = recipient(notify, "telegram");
  if (n.telegram_chat.empty()) n.telegram_chat = settings.telegram.chat_id;
  n.subject = render_subject(n.operation, settings.locale, fields);
  n.text = render_message(n.operation, settings.locale, settings.templates, fields);
  n.data = std::move(fields);
  return n;
}

}  // namespace pipewright::notify
