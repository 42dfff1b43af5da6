#pragma once
// Sends one e-mail over SMTP (libcurl): plain, STARTTLS, or SMTPS; optional AUTH.

#include <chrono>
#include <stdexcept>
#include <string>

namespace pipewright::notify {

struct SmtpSettings {
  std::string host = "127.0.0.1";
  int port = 25;
  std::string from;
  bool starttls = false;  // require STARTTLS on a plain connection
  bool tls = false;       // SMTPS (implicit TLS, usually port 465)
  bool verify_peer = true;
  std::string username, password;
  std::chrono::seconds timeout{10};
};

struct Mail {
  std::string to, subject, body;  // body is UTF-8 text
};

class SmtpError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws SmtpError with the server's or the connection's complaint.
void send_mail(const SmtpSettings& settings, const Mail& mail);

// The RFC 5322 message send_mail writes (headers, blank line, body), for tests and logs.
std::string format_message(const SmtpSettings& settings, const Mail& mail);

}  // namespace pipewright::notify
