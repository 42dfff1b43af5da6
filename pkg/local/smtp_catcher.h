#pragma once
// Local mode's mail catcher: an SMTP server on 127.0.0.1 that accepts every message and keeps
// it (in memory and in a JSON-lines file) so a newcomer sees the notifications without a
// mailbox. The gateway lists them at GET /api/mail. Plain SMTP only: no TLS, no AUTH.

#include <atomic>
#include <filesystem>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace pipewright::local {

struct CaughtMail {
  std::string from;
  std::vector<std::string> to;
  std::string subject;  // RFC 2047 encoded-words decoded
  std::string body;     // without headers, dot-stuffing undone
  std::string time;     // RFC 3339
};

nlohmann::json to_json(const CaughtMail& mail);

class SmtpCatcher {
 public:
  // Listens on 127.0.0.1:port (0: the OS picks); throws when the port is taken.
  SmtpCatcher(int port, std::filesystem::path store);
  ~SmtpCatcher();
  SmtpCatcher(const SmtpCatcher&) = delete;
  SmtpCatcher& operator=(const SmtpCatcher&) = delete;

  int port() const { return port_; }
  // The newest 1000 messages (all of them stay in the store file).
  std::vector<CaughtMail> messages() const;
  void stop();

 private:
  void accept_loop();
  void serve(int fd);

  int port_ = 0;
  int listen_fd_ = -1;
  std::filesystem::path store_;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;
  std::vector<CaughtMail> messages_;
  std::thread acceptor_;
  struct Session {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::mutex sessions_mu_;
  std::vector<Session> sessions_;  // at most kMaxSessions (smtp_catcher.cpp) at once
};

// "=?UTF-8?B?...?=" and "=?UTF-8?Q?...?=" words decoded; anything else unchanged.
std::string decode_mime_words(const std::string& header);

}  // namespace pipewright::local
