#pragma once
// Real servers from Debian's packages, each on free 127.0.0.1 ports in its own folder of the
// suite's log directory: Prometheus, nginx, and an SMTP server (aiosmtpd) that keeps every
// message it receives in a Maildir (optionally with STARTTLS and AUTH).

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "pkg/local/prometheus.h"
#include "pkg/proc/process.h"

namespace pipewright::testing {

class Prometheus {
 public:
  // Scrapes each "host:port" target every second (local mode's Prometheus, in the suite's logs).
  static std::unique_ptr<Prometheus> start(const std::vector<std::string>& targets);
  std::string url() const { return server_->url(); }
  std::filesystem::path log_file() const { return server_->log_file(); }

 private:
  std::unique_ptr<local::Prometheus> server_;
};

class Nginx {
 public:
  // `http_body` goes inside `http { }`; "{{port}}" in it becomes the port nginx listens on.
  static std::unique_ptr<Nginx> start(const std::string& http_body);
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  void stop() { process_.stop(); }

 private:
  std::filesystem::path dir_;
  int port_ = 0;
  proc::Process process_;
};

struct MailMessage {
  std::string from, to, subject, body;  // headers as sent; body without headers
  bool tls = false;                     // it came over a connection that did STARTTLS
  std::string user;                     // who authenticated (AUTH), "" when nobody
};

struct SmtpOptions {
  bool starttls = false;           // offer STARTTLS with a self-signed certificate (cert_file())
  bool require_starttls = false;   // answer 530 to mail before STARTTLS (implies starttls)
  std::string username, password;  // when username is set, AUTH is required with these
  std::string only_mechanism;      // "LOGIN" or "PLAIN" to offer just that one; "": both
  std::vector<std::string> refuse_recipients;  // RCPT TO one of these gets 550
  int port = 0;  // 0: a free port; else this one (a server that comes back where clients dial)
};

class SmtpServer {
 public:
  static std::unique_ptr<SmtpServer> start(const SmtpOptions& options = {});
  int port() const { return port_; }
  // The self-signed certificate for 127.0.0.1 (PEM), usable as a client's CA file.
  std::filesystem::path cert_file() const { return dir_ / "cert.pem"; }
  // Every message received so far, oldest first.
  std::vector<MailMessage> messages() const;
  void stop() { process_.stop(); }
  // SIGSTOP / SIGCONT it: a server that hangs (accepts connections, answers nothing).
  void signal(int sig) { process_.kill(sig); }

 private:
  std::filesystem::path dir_;
  int port_ = 0;
  proc::Process process_;
};

}  // namespace pipewright::testing
