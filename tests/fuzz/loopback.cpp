#include "tests/fuzz/loopback.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace pipewright::fuzz {

std::string exchange(int port, std::string_view bytes, std::size_t piece,
                     std::chrono::milliseconds deadline) {
  std::signal(SIGPIPE, SIG_IGN);  // a server that closes early makes send() fail, not kill us
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    std::perror("fuzz: socket");
    std::abort();
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {  // NOLINT
    std::perror("fuzz: connect to the server under test");
    std::abort();
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);

  std::string out;
  std::size_t sent = 0;
  bool writing = true;
  if (bytes.empty()) {
    ::shutdown(fd, SHUT_WR);
    writing = false;
  }
  auto until = std::chrono::steady_clock::now() + deadline;
  std::array<char, 16384> buf{};
  for (;;) {
    const auto left = until - std::chrono::steady_clock::now();
    if (left <= std::chrono::milliseconds(0)) {
      std::fprintf(stderr,
                   "fuzz: the server kept the connection open %lld ms after the input "
                   "(%zu of %zu bytes sent, %zu received)\n",
                   static_cast<long long>(deadline.count()), sent, bytes.size(), out.size());
      std::abort();
    }
    pollfd p{fd, static_cast<short>(POLLIN | (writing ? POLLOUT : 0)), 0};
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(left).count();
    if (::poll(&p, 1, static_cast<int>(ms) + 1) < 0 && errno != EINTR) break;
    if ((p.revents & POLLOUT) != 0 && writing) {
      const std::size_t n = piece == 0 ? bytes.size() - sent : std::min(piece, bytes.size() - sent);
      const auto w = ::send(fd, bytes.data() + sent, n, MSG_NOSIGNAL);
      if (w > 0) sent += static_cast<std::size_t>(w);
      if (w < 0 && errno != EAGAIN && errno != EINTR) sent = bytes.size();  // closed on us
      if (sent == bytes.size()) {
        ::shutdown(fd, SHUT_WR);
        writing = false;
        until = std::chrono::steady_clock::now() + deadline;
      }
    }
    if ((p.revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      const auto r = ::recv(fd, buf.data(), buf.size(), 0);
      if (r > 0) {
        out.append(buf.data(), static_cast<std::size_t>(r));
      } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
        break;  // closed (or reset) by the server
      }
    }
  }
  ::close(fd);
  return out;
}

}  // namespace pipewright::fuzz
