// Notification texts, the notify worker's config, and who each channel writes to.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "pkg/notify/channel.h"
#include "pkg/notify/settings.h"
#include "pkg/notify/template.h"

namespace pipewright::notify {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

const json kFile = {{"file", "perfil.jpg"}};

TEST(NotifyTemplate, ImageSentencesAreExactInBothLocales) {
  EXPECT_EQ(render_message("rotate", "pt-BR", {}, kFile), "O arquivo perfil.jpg foi rotacionado.");
  EXPECT_EQ(render_message("grayscale", "pt-BR", {}, kFile),
            "O arquivo perfil.jpg foi transformado em preto e branco.");
  EXPECT_EQ(render_message("rotate", "en", {}, kFile), "The file perfil.jpg was rotated.");
  EXPECT_EQ(render_message("grayscale", "en", {}, kFile),
            "The file perfil.jpg was converted to grayscale.");
}

TEST(NotifyTemplate, OrderSentences) {
  const json order = {{"order", 42}, {"customer", "c-7"}};
  EXPECT_EQ(render_message("order.received", "pt-BR", {}, order), "O pedido 42 foi recebido.");
  EXPECT_EQ(render_message("order.valid", "pt-BR", {}, order), "O pedido 42 foi aprovado.");
  EXPECT_EQ(render_message("order.received", "en", {}, order), "Order 42 was received.");
  EXPECT_EQ(render_message("order.valid", "en", {}, order), "Order 42 was approved.");

  json rejected = {{"order", "42"}, {"reasons", {"valor acima do limite", "cliente bloqueado"}}};
  EXPECT_EQ(render_message("order.rejected", "pt-BR", {}, rejected),
            "O pedido 42 foi rejeitado: valor acima do limite; cliente bloqueado.");
  rejected["reasons"] = "amount above the limit.";  // no ".." when the reason ends a sentence
  EXPECT_EQ(render_message("order.rejected", "en", {}, rejected),
            "Order 42 was rejected: amount above the limit.");
  // No reasons given: still a whole sentence, not a dangling ": {reasons}".
  EXPECT_EQ(render_message("order.rejected", "pt-BR", {}, {{"order", 42}}),
            "O pedido 42 foi rejeitado.");
}

TEST(NotifyTemplate, UnknownOperationGetsAGenericSentencePerLocale) {
  EXPECT_EQ(render_message("blur", "pt-BR", {}, kFile),
            "A operação blur foi concluída para o arquivo perfil.jpg.");
  EXPECT_EQ(render_message("blur", "en", {}, kFile),
            "The operation blur was completed for the file perfil.jpg.");
  EXPECT_EQ(render_message("audit", "en", {}, json::object()),
            "The operation audit was completed.");
}

TEST(NotifyTemplate, OverridesFillPlaceholdersAndLeaveUnknownOnesVisible) {
  const std::map<std::string, std::string> overrides = {
      {"rotate", "{file} girou ({operation}) para {customer} {missing} {not a placeholder}"}};
  EXPECT_EQ(
      render_message("rotate", "pt-BR", overrides, {{"file", "perfil.jpg"}, {"customer", "Ana"}}),
      "perfil.jpg girou (rotate) para Ana {missing} {not a placeholder}");
  // Other operations keep their built-in text.
  EXPECT_EQ(render_message("grayscale", "en", overrides, kFile),
            "The file perfil.jpg was converted to grayscale.");
}

TEST(NotifyTemplate, Subjects) {
  EXPECT_EQ(render_subject("rotate", "pt-BR", kFile), "Pipewright: perfil.jpg rotacionado");
  EXPECT_EQ(render_subject("rotate", "en", kFile), "Pipewright: perfil.jpg rotated");
  EXPECT_EQ(render_subject("order.rejected", "pt-BR", {{"order", 42}}),
            "Pipewright: pedido 42 rejeitado");
  EXPECT_EQ(render_subject("blur", "en", kFile), "Pipewright: perfil.jpg (blur)");
  EXPECT_THROW(render_subject("rotate", "fr", kFile), std::invalid_argument);
}

std::string config_error(const json& config) {
  try {
    parse_settings(config);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(accepted)";
}

TEST(NotifySettings, DefaultsAreLogInPortugueseWithTheLocalCatcher) {
  const Settings s = parse_settings(json());
  EXPECT_EQ(s.channels, std::vector<std::string>{"log"});
  EXPECT_EQ(s.locale, "pt-BR");
  EXPECT_EQ(s.smtp.host, "127.0.0.1");
  EXPECT_EQ(s.smtp.port, 1025);
  EXPECT_EQ(s.smtp.from, "pipewright@localhost");
  EXPECT_FALSE(s.smtp.starttls);
  EXPECT_EQ(s.telegram.base_url, "https://api.telegram.org");
  EXPECT_EQ(parse_settings({{"smtp", {{"host", ""}}}}).smtp.port, 1025);
}

TEST(NotifySettings, AFullConfigIsRead) {
  const Settings s = parse_settings(json::parse(R"({
    "channels": ["smtp", "telegram", "webhook", "log"], "locale": "en", "to": "ops@example.com",
    "smtp": {"host": "mail.example.com", "from": "bot@example.com", "secretRef": "mail"},
    "telegram": {"baseUrl": "http://127.0.0.1:9/", "chatId": 12345, "secretRef": "tg"},
    "webhook": {"url": "https://hooks.example.com/x"},
    "templates": {"rotate": "{file} rotated!"}})"));
  EXPECT_EQ(s.channels.size(), 4U);
  EXPECT_EQ(s.locale, "en");
  EXPECT_EQ(s.to, "ops@example.com");
  EXPECT_EQ(s.smtp.host, "mail.example.com");
  EXPECT_TRUE(s.smtp.starttls);  // a real host: STARTTLS unless said otherwise
  EXPECT_EQ(s.smtp.port, 587);
  EXPECT_EQ(s.smtp.secret_ref, "mail");
  EXPECT_EQ(s.telegram.base_url, "http://127.0.0.1:9");
  EXPECT_EQ(s.telegram.chat_id, "12345");
  EXPECT_EQ(s.webhook.url, "https://hooks.example.com/x");
  EXPECT_EQ(s.templates.at("rotate"), "{file} rotated!");
  const Settings plain =
      parse_settings({{"smtp", {{"host", "mail"}, {"starttls", false}, {"port", 2525}}}});
  EXPECT_FALSE(plain.smtp.starttls);
  EXPECT_EQ(plain.smtp.port, 2525);
}

TEST(NotifySettings, ErrorsNameTheKey) {
  EXPECT_EQ(config_error({{"smtp", {{"hots", "x"}}}}), "config.smtp.hots: unknown key");
  EXPECT_EQ(config_error({{"chanels", {"log"}}}), "config.chanels: unknown key");
  EXPECT_EQ(config_error({{"telegram", {{"chat", "1"}}}}), "config.telegram.chat: unknown key");
  EXPECT_EQ(config_error({{"webhook", {{"uri", "http://x"}}}}), "config.webhook.uri: unknown key");
  EXPECT_EQ(config_error({{"channels", {"log", "sms"}}}),
            "config.channels[1]: unknown channel 'sms' (smtp, telegram, webhook, log)");
  EXPECT_EQ(config_error({{"channels", "log"}}), "config.channels: must be a list, not a string");
  EXPECT_EQ(config_error({{"locale", "fr"}}), "config.locale: unknown locale 'fr' (pt-BR, en)");
  EXPECT_EQ(config_error({{"smtp", {{"port", "25"}}}}),
            "config.smtp.port: must be an integer, not a string");
  EXPECT_EQ(config_error({{"smtp", {{"port", 70000}}}}), "config.smtp.port: must be 1 to 65535");
  EXPECT_EQ(config_error({{"smtp", {{"starttls", "yes"}}}}),
            "config.smtp.starttls: must be a boolean, not a string");
  EXPECT_EQ(config_error({{"smtp", "mail.example.com"}}),
            "config.smtp: must be an object, not a string");
  EXPECT_EQ(config_error({{"channels", {"webhook"}}}),
            "config.webhook.url: required when channels lists webhook");
  EXPECT_EQ(config_error({{"templates", {{"rotate", 1}}}}),
            "config.templates.rotate: must be a string, not an integer");
  EXPECT_THAT(config_error({{"smtp", {{"password", "hunter2"}}}}),
              HasSubstr("config.smtp.password: credentials are not accepted in the config"));
  EXPECT_THAT(config_error({{"smtp", {{"password", "hunter2"}}}}), Not(HasSubstr("hunter2")));
  EXPECT_EQ(config_error(json::array()), "config: must be an object, not a list");
}

Getenv env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    const auto it = vars.find(name);
    return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
}

TEST(NotifySettings, CredentialsComeFromTheEnvironment) {
  Settings s = parse_settings({{"channels", {"smtp", "telegram"}}});
  load_credentials(s, env({{"PIPEWRIGHT_SMTP_USERNAME", "ana"},
                           {"PIPEWRIGHT_SMTP_PASSWORD", "s3cret"},
                           {"PIPEWRIGHT_TELEGRAM_TOKEN", "123:ABC-def_9"}}));
  EXPECT_EQ(s.smtp.username, "ana");
  EXPECT_EQ(s.smtp.password, "s3cret");
  EXPECT_EQ(s.telegram.token, "123:ABC-def_9");

  Settings tg = parse_settings({{"channels", {"telegram"}}, {"telegram", {{"secretRef", "bot"}}}});
  try {
    load_credentials(tg, env({}));
    FAIL() << "a telegram channel without a token was accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.path(), "PIPEWRIGHT_TELEGRAM_TOKEN");
    EXPECT_THAT(e.what(), HasSubstr("'bot'"));
  }
  // A token that would change the request URL is refused.
  EXPECT_THROW(load_credentials(tg, env({{"PIPEWRIGHT_TELEGRAM_TOKEN", "1:a/../x"}})), ConfigError);

  Settings half = parse_settings({{"channels", {"smtp"}}});
  EXPECT_THROW(load_credentials(half, env({{"PIPEWRIGHT_SMTP_USERNAME", "ana"}})), ConfigError);
  // Channels not in use need nothing.
  Settings log_only = parse_settings(json());
  EXPECT_NO_THROW(load_credentials(log_only, env({})));
}

const json kEvent = json::parse(R"({"id": "ev-1", "operation": "rotate", "file": "perfil.jpg",
  "notify": {"email": "ana@example.com", "telegram": "12345"}})");

TEST(NotifyRecipients, TheEventsRecipientsWinOverTheConfigs) {
  const Settings s = parse_settings(
      {{"to", "ops@example.com"}, {"telegram", {{"chatId", "999"}}}, {"locale", "en"}});
  const Notification n = make_notification(s, kEvent);
  EXPECT_EQ(n.event_id, "ev-1");
  EXPECT_EQ(n.operation, "rotate");
  EXPECT_EQ(n.to_email, "ana@example.com");
  EXPECT_EQ(n.telegram_chat, "12345");
  EXPECT_EQ(n.text, "The file perfil.jpg was rotated.");
  EXPECT_EQ(n.subject, "Pipewright: perfil.jpg rotated");
  EXPECT_EQ(n.data["file"], "perfil.jpg");
  EXPECT_FALSE(n.data.contains("notify")) << "recipients are not passed on to webhooks";

  json bare = kEvent;
  bare.erase("notify");
  const Notification d = make_notification(s, bare);
  EXPECT_EQ(d.to_email, "ops@example.com");
  EXPECT_EQ(d.telegram_chat, "999");
}

TEST(NotifyRecipients, AChannelWithoutARecipientIsSkippedNotFailed) {
  Settings s = parse_settings({{"channels", {"smtp", "telegram", "log"}}});
  s.telegram.token = "1:x";
  json bare = kEvent;
  bare.erase("notify");
  const Notification n = make_notification(s, bare);
  const auto channels = make_channels(s);
  ASSERT_EQ(channels.size(), 3U);
  EXPECT_EQ(channels[0]->name(), "smtp");
  EXPECT_FALSE(channels[0]->can_send(n));
  EXPECT_EQ(channels[1]->name(), "telegram");
  EXPECT_FALSE(channels[1]->can_send(n));
  EXPECT_TRUE(channels[2]->can_send(n));

  const Notification with = make_notification(s, kEvent);
  EXPECT_TRUE(channels[0]->can_send(with));
  EXPECT_TRUE(channels[1]->can_send(with));
}

TEST(NotifyRecipients, AnEnvelopeWithDataWorks) {
  const Settings s = parse_settings(json());
  const Notification n =
      make_notification(s, json::parse(R"({"id": "e-9", "type": "order.rejected", "source": "fraud",
        "data": {"id": "42", "order": "42", "reasons": ["blocked customer"],
                 "notify": {"telegram": 777}}})"));
  EXPECT_EQ(n.event_id, "e-9");
  EXPECT_EQ(n.operation, "order.rejected");
  EXPECT_EQ(n.telegram_chat, "777");
  EXPECT_EQ(n.text, "O pedido 42 foi rejeitado: blocked customer.");
  EXPECT_THROW(make_notification(s, {{"id", "x"}}), std::invalid_argument);
  EXPECT_THROW(make_notification(s, json::array()), std::invalid_argument);
}

TEST(NotifyLog, TheLogChannelWritesOneJsonLine) {
  const Settings s = parse_settings(json());
  const Notification n = make_notification(s, kEvent);
  const auto channel = make_log_channel();
  ::testing::internal::CaptureStderr();
  channel->send(n);
  const std::string out = ::testing::internal::GetCapturedStderr();
  ASSERT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  const json line = json::parse(out);
  EXPECT_EQ(line["event_id"], "ev-1");
  EXPECT_EQ(line["text"], "O arquivo perfil.jpg foi rotacionado.");
  EXPECT_EQ(line["channel"], "log");
}

TEST(NotifySmtp, HeaderInjectionThroughAnEventRecipientIsRefusedForGood) {
  Settings s = parse_settings({{"channels", {"smtp"}}});
  s.smtp.port = 9;  // never reached: the recipient is refused first
  json evil = kEvent;
  evil["notify"]["email"] = "ana@example.com\r\nRCPT TO:<eve@example.com>";
  const Notification n = make_notification(s, evil);
  const auto channel = make_smtp_channel(s.smtp);
  try {
    channel->send(n);
    FAIL() << "sent";
  } catch (const ChannelError& e) {
    EXPECT_FALSE(e.retriable()) << e.what();
    EXPECT_EQ(e.channel(), "smtp");
  }
}

// Issue 14, defect 8: webhook URLs (often secrets: Slack, Discord) were logged and copied into
// dead-letter headers, which carry the channel's error.
TEST(Webhook, ItsUrlIsNeverInAnErrorOnlyItsHost) {
  EXPECT_EQ(redact_url("https://hooks.slack.com/services/T0/B0/SECRET"),
            "https://hooks.slack.com/***");
  EXPECT_EQ(redact_url("https://user:pw@example.com:8443/x?token=SECRET"),
            "https://example.com:8443/***");
  EXPECT_EQ(redact_url("http://example.com"), "http://example.com");
  EXPECT_EQ(redact_url("not a url SECRET"), "***");
  // Nothing listens on port 1: the error is the connection's, and names no secret.
  auto channel = make_webhook_channel(
      {"http://127.0.0.1:1/hook/SECRET?token=SECRET", std::chrono::seconds(2)});
  Notification n;
  n.event_id = "e1";
  try {
    channel->send(n);
    FAIL() << "sent";
  } catch (const ChannelError& e) {
    EXPECT_EQ(std::string(e.what()).find("SECRET"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("127.0.0.1"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace pipewright::notify
