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
  std::string ca_file;  // PEM bundle to verify the server with; "": the system's
  std::string username, password;
  std::chrono::seconds timeout{10};
};

struct Mail {
  std::string to, subject, body;  // body is UTF-8 text
};

class SmtpError : public std::runtime_error {
 public:
  explicit SmtpError(const std::string& what, int code = 0, bool retriable = false)
      : std::runtime_error(what), code_(code), retriable_(retriable) {}
  // The server's reply code (535, 550, 451, ...), 0 when it gave none (no connection).
  int code() const { return code_; }
  // Worth trying again later: no connection, a timeout, or a 4xx (transient) reply. A 5xx
  // reply (bad credentials, refused recipient) or a TLS/configuration problem is not.
  bool retriable() const { return retriable_; }

 private:
  int code_;
  bool retriable_;
};

// Throws SmtpError with the server's or the connection's complaint (and its last reply).
void send_mail(const SmtpSettings& settings, const Mail& mail);

// The RFC 5322 message send_mail writes (headers, blank line, body), for tests and logs.
std::string format_message(const SmtpSettings& settings, const Mail& mail);

}  // namespace pipewright::notify
