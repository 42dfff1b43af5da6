// Notification channels against real servers: aiosmtpd with STARTTLS and AUTH, and a local
// HTTP stand-in for the Telegram Bot API and for webhooks.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "pkg/notify/channel.h"
#include "pkg/notify/settings.h"
#include "pkg/proc/net.h"
#include "tests/support/http_server.h"
#include "tests/support/servers.h"

namespace pipewright {
namespace {

using nlohmann::json;
using notify::ChannelError;
using std::chrono::seconds;
using ::testing::HasSubstr;
using ::testing::Not;

const json kEvent = json::parse(R"({"id": "ev-1", "operation": "rotate", "file": "perfil.jpg",
  "notify": {"email": "ana@example.com", "telegram": "12345"}})");

notify::Getenv env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    const auto it = vars.find(name);
    return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
}

// Settings as the worker gets them: the step's config, then the Secret's values.
notify::Settings smtp_settings(int port, bool starttls, const std::string& password) {
  auto s = notify::parse_settings(
      {{"channels", {"smtp"}},
       {"smtp", {{"host", "127.0.0.1"}, {"port", port}, {"starttls", starttls}}}});
  if (!password.empty()) {
    notify::load_credentials(
        s, env({{"PIPEWRIGHT_SMTP_USERNAME", "ana"}, {"PIPEWRIGHT_SMTP_PASSWORD", password}}));
  }
  s.smtp.timeout = seconds(5);
  return s;
}

// The error send() throws, or a failure when it did not throw.
ChannelError send_error(notify::Channel& channel, const notify::Notification& n) {
  try {
    channel.send(n);
  } catch (const ChannelError& e) {
    return e;
  }
  ADD_FAILURE() << channel.name() << ": send succeeded";
  return ChannelError(channel.name(), "(none)", false);
}

std::vector<testing::MailMessage> wait_for_mail(const testing::SmtpServer& smtp) {
  std::vector<testing::MailMessage> got;
  proc::poll_until(seconds(10), [&] {
    got = smtp.messages();
    return !got.empty();
  });
  return got;
}

testing::SmtpOptions secure_server() {
  testing::SmtpOptions o;
  o.require_starttls = true;
  o.username = "ana";
  o.password = "s3cret";
  return o;
}

class NotifySmtp : public ::testing::TestWithParam<std::string> {};

TEST_P(NotifySmtp, MailArrivesOverStartTlsAuthenticatedWithTheExactText) {
  auto options = secure_server();
  options.only_mechanism = GetParam();
  const auto smtp = testing::SmtpServer::start(options);
  auto s = smtp_settings(smtp->port(), true, "s3cret");
  s.smtp.ca_file = smtp->cert_file().string();  // verified, not skipped
  const auto channels = notify::make_channels(s);
  ASSERT_EQ(channels.size(), 1U);
  const auto n = notify::make_notification(s, kEvent);
  ASSERT_TRUE(channels[0]->can_send(n));
  channels[0]->send(n);

  const auto got = wait_for_mail(*smtp);
  ASSERT_EQ(got.size(), 1U) << "no message in the server's mailbox";
  EXPECT_EQ(got[0].to, "ana@example.com");
  EXPECT_EQ(got[0].from, "pipewright@localhost");
  EXPECT_EQ(got[0].subject, "Pipewright: perfil.jpg rotacionado");
  EXPECT_EQ(got[0].body, "O arquivo perfil.jpg foi rotacionado.\n");
  EXPECT_TRUE(got[0].tls);
  EXPECT_EQ(got[0].user, "ana");
}

INSTANTIATE_TEST_SUITE_P(Mechanisms, NotifySmtp, ::testing::Values("PLAIN", "LOGIN"));

TEST(NotifySmtpErrors, AWrongPasswordIsFinal) {
  const auto smtp = testing::SmtpServer::start(secure_server());
  auto s = smtp_settings(smtp->port(), true, "wrong");
  s.smtp.ca_file = smtp->cert_file().string();
  const auto e = send_error(*notify::make_channels(s)[0], notify::make_notification(s, kEvent));
  EXPECT_FALSE(e.retriable()) << e.what();
  EXPECT_THAT(e.what(), HasSubstr("535"));
  EXPECT_THAT(e.what(), Not(HasSubstr("wrong")));
  EXPECT_TRUE(smtp->messages().empty());
}

TEST(NotifySmtpErrors, AStoppedServerIsWorthRetrying) {
  const auto smtp = testing::SmtpServer::start();
  const int port = smtp->port();
  smtp->stop();
  const auto s = smtp_settings(port, false, "");
  const auto e = send_error(*notify::make_channels(s)[0], notify::make_notification(s, kEvent));
  EXPECT_TRUE(e.retriable()) << e.what();
}

TEST(NotifySmtpErrors, StartTlsRequiredButNotOfferedIsAClearError) {
  const auto smtp = testing::SmtpServer::start();  // plain, no STARTTLS
  const auto s = smtp_settings(smtp->port(), true, "");
  const auto e = send_error(*notify::make_channels(s)[0], notify::make_notification(s, kEvent));
  EXPECT_FALSE(e.retriable()) << e.what();
  EXPECT_THAT(e.what(), HasSubstr("does not offer STARTTLS"));
  EXPECT_TRUE(smtp->messages().empty());
}

TEST(NotifySmtpErrors, AServerThatRequiresStartTlsSaysSo) {
  testing::SmtpOptions o;
  o.require_starttls = true;
  const auto smtp = testing::SmtpServer::start(o);
  const auto s = smtp_settings(smtp->port(), false, "");
  const auto e = send_error(*notify::make_channels(s)[0], notify::make_notification(s, kEvent));
  EXPECT_FALSE(e.retriable()) << e.what();
  EXPECT_THAT(e.what(), HasSubstr("530 Must issue a STARTTLS command first"));
}

TEST(NotifySmtpErrors, AnUntrustedCertificateIsFinal) {
  testing::SmtpOptions o;
  o.require_starttls = true;
  const auto smtp = testing::SmtpServer::start(o);
  const auto s = smtp_settings(smtp->port(), true, "");  // no ca_file: the system's CAs
  const auto e = send_error(*notify::make_channels(s)[0], notify::make_notification(s, kEvent));
  EXPECT_FALSE(e.retriable()) << e.what();
  EXPECT_THAT(e.what(), HasSubstr("certificate"));
  EXPECT_TRUE(smtp->messages().empty());
}

TEST(NotifySmtpErrors, ARefusedRecipientIsFinal) {
  testing::SmtpOptions o;
  o.refuse_recipients = {"ana@example.com"};
  const auto smtp = testing::SmtpServer::start(o);
  const auto s = smtp_settings(smtp->port(), false, "");
  const auto e = send_error(*notify::make_channels(s)[0], notify::make_notification(s, kEvent));
  EXPECT_FALSE(e.retriable()) << e.what();
  EXPECT_THAT(e.what(), HasSubstr("550"));
}

// A stand-in HTTP server that answers with `reply` and keeps what it was sent.
struct Recorder {
  explicit Recorder(const testing::TestResponse& reply)
      : server([this, reply](const testing::TestRequest& r) {
          const std::lock_guard lock(mutex);
          seen.push_back(r);
          return reply;
        }) {}
  std::vector<testing::TestRequest> requests() {
    const std::lock_guard lock(mutex);
    return seen;
  }
  std::mutex mutex;
  std::vector<testing::TestRequest> seen;
  testing::HttpServer server;  // last: stops before what its handler uses goes away
};

testing::TestResponse json_reply(int status, const json& body) {
  return {status, "application/json", body.dump()};
}

const std::string kToken = "123456:ABC-def";

notify::Settings telegram_settings(const std::string& base_url) {
  auto s = notify::parse_settings(
      {{"channels", {"telegram"}}, {"telegram", {{"baseUrl", base_url}, {"secretRef", "bot"}}}});
  notify::load_credentials(s, env({{"PIPEWRIGHT_TELEGRAM_TOKEN", kToken}}));
  s.telegram.timeout = seconds(3);
  return s;
}

TEST(NotifyTelegram, TheBotApiGetsTheChatAndTheExactText) {
  Recorder api(json_reply(200, {{"ok", true}, {"result", {{"message_id", 1}}}}));
  const auto s = telegram_settings(api.server.url());
  const auto channels = notify::make_channels(s);
  channels.at(0)->send(notify::make_notification(s, kEvent));

  const auto seen = api.requests();
  ASSERT_EQ(seen.size(), 1U);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].target, "/bot" + kToken + "/sendMessage");
  const json body = json::parse(seen[0].body);
  EXPECT_EQ(body["chat_id"], "12345");
  EXPECT_EQ(body["text"], "O arquivo perfil.jpg foi rotacionado.");
}

TEST(NotifyTelegram, ABadChatIsFinalAndTheTokenStaysSecret) {
  Recorder api(json_reply(
      400, {{"ok", false}, {"error_code", 400}, {"description", "Bad Request: chat not found"}}));
  const auto s = telegram_settings(api.server.url());
  const auto e = send_error(*notify::make_channels(s).at(0), notify::make_notification(s, kEvent));
  EXPECT_FALSE(e.retriable()) << e.what();
  EXPECT_THAT(e.what(), HasSubstr("chat not found"));
  EXPECT_THAT(e.what(), Not(HasSubstr(kToken)));
}

TEST(NotifyTelegram, ServerErrorsAndRateLimitsAreWorthRetrying) {
  for (const auto& reply :
       {json_reply(500, {{"ok", false}, {"description", "Internal Server Error"}}),
        json_reply(429, {{"ok", false},
                         {"error_code", 429},
                         {"description", "Too Many Requests: retry after 5"},
                         {"parameters", {{"retry_after", 5}}}})}) {
    Recorder api(reply);
    const auto s = telegram_settings(api.server.url());
    const auto e =
        send_error(*notify::make_channels(s).at(0), notify::make_notification(s, kEvent));
    EXPECT_TRUE(e.retriable()) << e.what();
    EXPECT_THAT(e.what(), HasSubstr("HTTP " + std::to_string(reply.status)));
  }
}

TEST(NotifyTelegram, NoConnectionIsWorthRetrying) {
  const auto s = telegram_settings("http://127.0.0.1:" + std::to_string(proc::free_port()));
  const auto e = send_error(*notify::make_channels(s).at(0), notify::make_notification(s, kEvent));
  EXPECT_TRUE(e.retriable()) << e.what();
  EXPECT_THAT(e.what(), Not(HasSubstr(kToken)));
}

TEST(NotifyTelegram, AServerThatNeverAnswersTimesOutAndIsWorthRetrying) {
  // A listening socket nobody accepts on: the kernel completes the connection, no reply comes.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 8), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  auto s = telegram_settings("http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)));
  s.telegram.timeout = seconds(1);
  const auto e = send_error(*notify::make_channels(s).at(0), notify::make_notification(s, kEvent));
  ::close(fd);
  EXPECT_TRUE(e.retriable()) << e.what();
  EXPECT_THAT(e.what(), HasSubstr("timed out"));
}

TEST(NotifyWebhook, TheHookReceivesTheEventAsJson) {
  Recorder hook({204, "text/plain", ""});
  const auto s = notify::parse_settings({{"channels", {"webhook"}},
                                         {"locale", "en"},
                                         {"webhook", {{"url", hook.server.url() + "/hook"}}}});
  notify::make_channels(s).at(0)->send(notify::make_notification(s, kEvent));
  const auto seen = hook.requests();
  ASSERT_EQ(seen.size(), 1U);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].target, "/hook");
  const json body = json::parse(seen[0].body);
  EXPECT_EQ(body["id"], "ev-1");
  EXPECT_EQ(body["operation"], "rotate");
  EXPECT_EQ(body["text"], "The file perfil.jpg was rotated.");
  EXPECT_EQ(body["data"]["file"], "perfil.jpg");
}

// A bare HTTP/1.1 server that counts the TCP connections it accepts and answers every request
// 204, keeping the connection open unless `close_each` (then it answers and closes).
class ConnectionCounter {
 public:
  explicit ConnectionCounter(bool close_each) : close_each_(close_each) {
    listen_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    EXPECT_EQ(::bind(listen_, reinterpret_cast<sockaddr*>(&addr), len), 0);
    EXPECT_EQ(::listen(listen_, 16), 0);
    ::getsockname(listen_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~ConnectionCounter() {
    stop_ = true;
    thread_.join();
    ::close(listen_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hook"; }
  int connections() const { return connections_; }
  int requests() const { return requests_; }

 private:
  void serve() {
    std::vector<pollfd> fds{{listen_, POLLIN, 0}};
    std::map<int, std::string> input;
    while (!stop_) {
      if (::poll(fds.data(), fds.size(), 50) <= 0) continue;
      for (std::size_t i = fds.size(); i-- > 0;) {
        if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
        if (fds[i].fd == listen_) {
          const int fd = ::accept(listen_, nullptr, nullptr);
          if (fd >= 0) {
            ++connections_;
            fds.push_back({fd, POLLIN, 0});
          }
          continue;
        }
        char buf[4096];
        const auto n = ::read(fds[i].fd, buf, sizeof buf);
        auto& in = input[fds[i].fd];
        if (n > 0) in.append(buf, static_cast<std::size_t>(n));
        bool close_it = n <= 0;
        // One request: headers, then Content-Length bytes of body.
        for (auto end = in.find("\r\n\r\n"); !close_it && end != std::string::npos;
             end = in.find("\r\n\r\n")) {
          const auto cl = in.find("Content-Length: ");
          const std::size_t body = cl < end ? std::stoul(in.substr(cl + 16)) : 0;
          if (in.size() < end + 4 + body) break;
          in.erase(0, end + 4 + body);
          ++requests_;
          const std::string reply = close_each_
                                        ? "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"
                                        : "HTTP/1.1 204 No Content\r\n\r\n";
          EXPECT_EQ(::write(fds[i].fd, reply.data(), reply.size()),
                    static_cast<ssize_t>(reply.size()));
          close_it = close_each_;
        }
        if (close_it) {
          ::close(fds[i].fd);
          input.erase(fds[i].fd);
          fds.erase(fds.begin() + static_cast<std::ptrdiff_t>(i));
        }
      }
    }
    for (std::size_t i = 1; i < fds.size(); ++i)
      ::close(fds[i].fd);
  }

  bool close_each_;
  int listen_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0}, requests_{0};
  std::thread thread_;
};

TEST(NotifyWebhook, NotificationsReuseOneConnectionAndSurviveItsClosing) {
  for (const bool close_each : {false, true}) {
    ConnectionCounter hook(close_each);
    const auto s =
        notify::parse_settings({{"channels", {"webhook"}}, {"webhook", {{"url", hook.url()}}}});
    const auto channels = notify::make_channels(s);
    for (int i = 0; i < 3; ++i)
      channels.at(0)->send(notify::make_notification(s, kEvent));  // throws on failure
    EXPECT_EQ(hook.requests(), 3) << close_each;
    // Kept open, one connection carries all three; closed by the server, each gets a new one.
    EXPECT_EQ(hook.connections(), close_each ? 3 : 1);
  }
}

TEST(NotifyWebhook, A4xxIsFinalAnd5xxIsWorthRetrying) {
  for (const int status : {404, 503}) {
    Recorder hook({status, "text/plain", "nope"});
    const auto s = notify::parse_settings(
        {{"channels", {"webhook"}}, {"webhook", {{"url", hook.server.url()}}}});
    const auto e =
        send_error(*notify::make_channels(s).at(0), notify::make_notification(s, kEvent));
    EXPECT_EQ(e.retriable(), status >= 500) << e.what();
    EXPECT_THAT(e.what(), HasSubstr("HTTP " + std::to_string(status)));
  }
}

}  // namespace
}  // namespace pipewright
