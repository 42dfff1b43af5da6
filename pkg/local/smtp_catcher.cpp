#include "pkg/local/smtp_catcher.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "pkg/event/envelope.h"
#include "pkg/log/log.h"

namespace pipewright::local {
namespace {

constexpr std::size_t kMaxMessage = std::size_t{10} << 20;
// Limits for whatever connects (any local program may): sessions at once, recipients per
// message, messages kept in memory (the file keeps them all), and a whole session's time.
constexpr std::size_t kMaxSessions = 16;
constexpr std::size_t kMaxRecipients = 100;
constexpr std::size_t kKeepMessages = 1000;
constexpr auto kSessionDeadline = std::chrono::minutes(5);

std::string base64_decode(const std::string& in) {
  static const std::string kChars =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  int bits = 0, value = 0;
  for (const char c : in) {
    const auto pos = kChars.find(c);
    if (pos == std::string::npos) continue;
    value = (value << 6) | static_cast<int>(pos);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((value >> bits) & 0xff);
    }
  }
  return out;
}

std::string q_decode(const std::string& in) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '_') {
      out += ' ';
    } else if (in[i] == '=' && i + 2 < in.size() &&
               std::isxdigit(static_cast<unsigned char>(in[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(in[i + 2]))) {
      out += static_cast<char>(std::stoi(in.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += in[i];
    }
  }
  return out;
}

// Reads one CRLF-terminated line (at most kMaxMessage); false when the client went away, was
// silent for a minute, or its session is past `deadline`.
bool read_line(int fd, std::string& buffer, std::string& line,
               std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    if (const auto nl = buffer.find("\r\n"); nl != std::string::npos) {
      line = buffer.substr(0, nl);
      buffer.erase(0, nl + 2);
      return true;
    }
    if (buffer.size() > kMaxMessage) return false;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(std::min<long long>(left, 60'000))) <= 0) return false;
    char chunk[8192];
    const auto n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buffer.append(chunk, static_cast<std::size_t>(n));
  }
}

void reply(int fd, const std::string& text) {
  const auto line = text + "\r\n";
  ::send(fd, line.data(), line.size(), MSG_NOSIGNAL);
}

std::string address_in(const std::string& arg) {
  const auto open = arg.find('<');
  const auto close = arg.find('>', open);
  if (open == std::string::npos || close == std::string::npos) return arg;
  return arg.substr(open + 1, close - open - 1);
}

std::string upper(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

// "=?charset?B|Q?text?=" found by hand, in one pass: std::regex recursed per character and
// overflowed the stack on a long header.
std::string decode_mime_words(const std::string& header) {
  std::string out;
  std::size_t from = 0;  // copied up to here
  std::size_t at = 0;
  while ((at = header.find("=?", at)) != std::string::npos) {
    const auto q1 = header.find('?', at + 2);  // after the charset (one character at least)
    if (q1 == std::string::npos) break;
    const bool word = q1 > at + 2 && q1 + 3 < header.size() &&
                      std::string_view("BbQq").find(header[q1 + 1]) != std::string_view::npos &&
                      header[q1 + 2] == '?';
    const auto end = word ? header.find('?', q1 + 3) : std::string::npos;
    if (end == std::string::npos || end + 1 >= header.size() || header[end + 1] != '=') {
      at += 2;
      continue;
    }
    const auto text = header.substr(q1 + 3, end - q1 - 3);
    out.append(header, from, at - from);
    out += (header[q1 + 1] == 'B' || header[q1 + 1] == 'b') ? base64_decode(text) : q_decode(text);
    from = at = end + 2;
  }
  out.append(header, from, std::string::npos);
  return out;
}

nlohmann::json to_json(const CaughtMail& mail) {
  return {{"from", mail.from},
          {"to", mail.to},
          {"subject", mail.subject},
          {"body", mail.body},
          {"time", mail.time}};
}

SmtpCatcher::SmtpCatcher(int port, std::filesystem::path store) : store_(std::move(store)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      ::listen(listen_fd_, 64) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const std::string why = std::strerror(errno);
    ::close(listen_fd_);
    throw std::runtime_error("the mail catcher cannot listen on 127.0.0.1:" + std::to_string(port) +
                             ": " + why);
  }
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

SmtpCatcher::~SmtpCatcher() {
  stop();
}

void SmtpCatcher::stop() {
  if (stopping_.exchange(true)) return;
  ::shutdown(listen_fd_, SHUT_RDWR);
  if (acceptor_.joinable()) acceptor_.join();
  ::close(listen_fd_);
  const std::lock_guard lock(sessions_mu_);
  for (auto& s : sessions_)
    if (s.thread.joinable()) s.thread.join();
  sessions_.clear();
}

std::vector<CaughtMail> SmtpCatcher::messages() const {
  const std::lock_guard lock(mutex_);
  return messages_;
}

void SmtpCatcher::accept_loop() {
  while (!stopping_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    const std::lock_guard lock(sessions_mu_);
    // Finished sessions are joined here, so threads never pile up.
    std::erase_if(sessions_, [](Session& s) {
      if (!s.done->load()) return false;
      s.thread.join();
      return true;
    });
    if (sessions_.size() >= kMaxSessions) {
      reply(fd, "421 too many connections; try again later");
      ::close(fd);
      continue;
    }
    auto done = std::make_shared<std::atomic<bool>>(false);
    sessions_.push_back({std::thread([this, fd, done] {
                           serve(fd);
                           ::close(fd);
                           done->store(true);
                         }),
                         done});
  }
}

void SmtpCatcher::serve(int fd) {
  reply(fd, "220 pipewright mail catcher (local mode) ESMTP");
  const auto deadline = std::chrono::steady_clock::now() + kSessionDeadline;
  std::string buffer, line;
  CaughtMail mail;
  while (!stopping_ && read_line(fd, buffer, line, deadline)) {
    const auto verb = upper(line.substr(0, line.find(' ')));
    if (verb == "EHLO") {
      reply(fd, "250-pipewright\r\n250-8BITMIME\r\n250 SIZE " + std::to_string(kMaxMessage));
    } else if (verb == "HELO") {
      reply(fd, "250 pipewright");
    } else if (verb == "MAIL") {
      mail = CaughtMail{};
      mail.from = address_in(line.substr(line.find(':') + 1));
      reply(fd, "250 OK");
    } else if (verb == "RCPT") {
      if (mail.to.size() >= kMaxRecipients) {
        reply(fd, "452 too many recipients");
        continue;
      }
      mail.to.push_back(address_in(line.substr(line.find(':') + 1)));
      reply(fd, "250 OK");
    } else if (verb == "DATA") {
      if (mail.to.empty()) {
        reply(fd, "503 RCPT first");
        continue;
      }
      reply(fd, "354 End data with <CR><LF>.<CR><LF>");
      std::string headers, body;
      bool in_headers = true;
      bool complete = false;
      bool too_big = false;  // read to the end, kept no further (RFC 5321 4.5.3.1.10)
      while (read_line(fd, buffer, line, deadline)) {
        if (line == ".") {
          complete = true;
          break;
        }
        if (line.starts_with("..")) line.erase(0, 1);
        if (too_big || headers.size() + body.size() + line.size() > kMaxMessage) {
          too_big = true;
          continue;
        }
        if (in_headers && line.empty()) {
          in_headers = false;
        } else if (in_headers) {
          if (upper(line.substr(0, 8)) == "SUBJECT:")
            mail.subject = decode_mime_words(line.substr(8 + (line.size() > 8 && line[8] == ' ')));
          headers += line + "\n";
        } else {
          body += line + "\n";
        }
      }
      if (!complete) return;
      if (too_big) {
        reply(fd, "552 the message is over " + std::to_string(kMaxMessage) + " bytes");
        mail = CaughtMail{};
        continue;
      }
      while (!body.empty() && body.back() == '\n')
        body.pop_back();
      mail.body = body;
      mail.time = event::now_rfc3339();
      {
        const std::lock_guard lock(mutex_);
        messages_.push_back(mail);
        if (messages_.size() > kKeepMessages) messages_.erase(messages_.begin());
        // Mail is anyone's bytes: what is not UTF-8 is stored replaced, never thrown on.
        std::ofstream(store_, std::ios::app)
            << to_json(mail).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
      }
      log::info("mail caught", {{"to", mail.to}, {"subject", mail.subject}});
      reply(fd, "250 OK: queued");
    } else if (verb == "RSET") {
      mail = CaughtMail{};
      reply(fd, "250 OK");
    } else if (verb == "NOOP") {
      reply(fd, "250 OK");
    } else if (verb == "QUIT") {
      reply(fd, "221 Bye");
      return;
    } else {
      reply(fd, "502 command not implemented");
    }
  }
}

}  // namespace pipewright::local
