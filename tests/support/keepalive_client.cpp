#include "tests/support/keepalive_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

namespace pipewright::testing {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  const auto e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

}  // namespace

KeepAliveClient::KeepAliveClient(int port, std::chrono::milliseconds timeout)
    : port_(port), timeout_(timeout) {}

KeepAliveClient::~KeepAliveClient() {
  close();
}

void KeepAliveClient::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  reused_ = false;
  buffer_.clear();
}

bool KeepAliveClient::connect() {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return false;
  const int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port_));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close();
    return false;
  }
  return true;
}

bool KeepAliveClient::read_more(std::string& buffer) {
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout_.count())) <= 0) return false;
  char chunk[16384];
  const auto n = ::recv(fd_, chunk, sizeof chunk, 0);
  if (n <= 0) return false;
  buffer.append(chunk, static_cast<std::size_t>(n));
  return true;
}

bool KeepAliveClient::exchange(const std::string& wire, Reply& reply, std::size_t* received) {
  *received = 0;
  if (::send(fd_, wire.data(), wire.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(wire.size())) {
    reply.error = std::string("send: ") + std::strerror(errno);
    return false;
  }
  std::string& in = buffer_;
  std::size_t head_end = std::string::npos;
  while ((head_end = in.find("\r\n\r\n")) == std::string::npos) {
    if (!read_more(in)) {
      *received = in.size();
      reply.error = "connection closed or timed out before the response head";
      return false;
    }
  }
  *received = in.size();
  const auto head = in.substr(0, head_end);
  in.erase(0, head_end + 4);
  const auto first_end = head.find("\r\n");
  const auto status_line = head.substr(0, first_end);
  if (status_line.size() < 12 || !status_line.starts_with("HTTP/1.")) {
    reply.error = "bad status line: " + status_line;
    return false;
  }
  reply.status = std::stoi(status_line.substr(9, 3));
  for (std::size_t pos = first_end; pos != std::string::npos && pos < head.size();) {
    const auto next = head.find("\r\n", pos + 2);
    const auto line =
        head.substr(pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
    if (const auto colon = line.find(':'); colon != std::string::npos)
      reply.headers[lower(line.substr(0, colon))] = trim(line.substr(colon + 1));
    pos = next;
  }
  const auto need = [&](std::size_t n) {
    while (in.size() < n)
      if (!read_more(in)) return false;
    return true;
  };
  if (lower(reply.header("transfer-encoding")) == "chunked") {
    for (;;) {
      std::size_t eol = 0;
      while ((eol = in.find("\r\n")) == std::string::npos)
        if (!read_more(in)) return false;
      const auto size = std::stoul(in.substr(0, eol), nullptr, 16);
      if (!need(eol + 2 + size + 2)) return false;
      reply.body += in.substr(eol + 2, size);
      in.erase(0, eol + 2 + size + 2);
      if (size == 0) break;
    }
  } else {
    const auto length = reply.header("content-length");
    const std::size_t n = length.empty() ? 0 : std::stoul(length);
    if (!need(n)) {
      reply.error = "connection closed in the middle of the body";
      return false;
    }
    reply.body = in.substr(0, n);
    in.erase(0, n);
  }
  if (lower(reply.header("connection")) == "close") close();
  return true;
}

Reply KeepAliveClient::request(const std::string& method, const std::string& target,
                               const std::string& body, const std::string& content_type) {
  std::string wire = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  if (!content_type.empty()) wire += "Content-Type: " + content_type + "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT")
    wire += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  wire += "\r\n" + body;
  for (int attempt = 0; attempt < 2; ++attempt) {
    Reply reply;
    if (fd_ < 0 && !connect()) {
      reply.error = std::string("connect: ") + std::strerror(errno);
      return reply;
    }
    const bool was_reused = reused_;
    std::size_t received = 0;
    if (exchange(wire, reply, &received)) {
      reused_ = fd_ >= 0;
      return reply;
    }
    close();
    // Only an idle connection that the server closed as we sent is worth a second try.
    if (!was_reused || received != 0 || reply.status != 0) return reply;
    ++retries_;
  }
  Reply reply;
  reply.error = "the connection closed twice before any answer";
  return reply;
}

}  // namespace pipewright::testing
