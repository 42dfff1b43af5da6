#include <gtest/gtest.h>

#include "pkg/notify/smtp.h"

namespace pipewright::notify {
namespace {

TEST(SmtpFormat, HeadersCannotBeInjectedThroughTheSubjectOrRecipient) {
  SmtpSettings s;
  s.from = "pipewright@localhost";
  const auto msg = format_message(
      s, {"ana@example.com\r\nBcc: eve@example.com", "hi\r\nBcc: eve@example.com", "body"});
  const auto head = msg.substr(0, msg.find("\r\n\r\n"));
  EXPECT_EQ(head.find("\r\nBcc:"), std::string::npos) << head;
  EXPECT_THROW(send_mail(s, {"a@b\r\nRCPT TO:<eve@example.com>", "s", "b"}), SmtpError);
}

TEST(SmtpFormat, NonAsciiSubjectIsEncodedAndBodyLinesAreCrlf) {
  SmtpSettings s;
  s.from = "p@localhost";
  const auto msg = format_message(s, {"ana@example.com", "Notificação", "linha 1\nlinha 2"});
  EXPECT_NE(msg.find("Subject: =?UTF-8?B?"), std::string::npos);
  EXPECT_NE(msg.find("linha 1\r\nlinha 2"), std::string::npos);
  EXPECT_NE(msg.find("charset=UTF-8"), std::string::npos);
}

}  // namespace
}  // namespace pipewright::notify
