// An e-mail sent by the project's SMTP client reaches a real SMTP server (aiosmtpd).

#include <gtest/gtest.h>

#include "pkg/notify/smtp.h"
#include "pkg/proc/net.h"
#include "tests/support/servers.h"

namespace pipewright {
namespace {

using std::chrono::seconds;

TEST(SmtpSmoke, AnEmailReachesTheServer) {
  const auto smtp = testing::SmtpServer::start();
  notify::SmtpSettings settings;
  settings.port = smtp->port();
  settings.from = "pipewright@localhost";
  notify::send_mail(settings, {"ana@example.com", "Arquivo rotacionado",
                               "O arquivo perfil.jpg foi rotacionado."});

  std::vector<testing::MailMessage> got;
  ASSERT_TRUE(proc::poll_until(seconds(10), [&] {
    got = smtp->messages();
    return !got.empty();
  })) << "no message in the server's mailbox";
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].to, "ana@example.com");
  EXPECT_EQ(got[0].from, "pipewright@localhost");
  EXPECT_EQ(got[0].subject, "Arquivo rotacionado");
  EXPECT_NE(got[0].body.find("O arquivo perfil.jpg foi rotacionado."), std::string::npos)
      << got[0].body;
}

TEST(SmtpSmoke, AStoppedServerIsAClearError) {
  const auto smtp = testing::SmtpServer::start();
  const int port = smtp->port();
  smtp->stop();
  notify::SmtpSettings settings;
  settings.port = port;
  settings.from = "pipewright@localhost";
  settings.timeout = seconds(3);
  EXPECT_THROW(notify::send_mail(settings, {"ana@example.com", "s", "b"}), notify::SmtpError);
}

}  // namespace
}  // namespace pipewright
