#include "pkg/proc/net.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>
#include <thread>

namespace pipewright::proc {
namespace {

sockaddr_in loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

}  // namespace

namespace {

// Binds 127.0.0.1:port (0: the OS picks) and returns the port bound, or 0 when it is taken.
int try_bind(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in addr = loopback(port);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return 0;
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// The low end of the ephemeral range (net.ipv4.ip_local_port_range), 32768 when unreadable.
int ephemeral_low() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 0;
  in >> low;
  return low > 1024 ? low : 32768;
}

}  // namespace

int free_port() {
  // Below the ephemeral range: there an outgoing connection (a Kafka client, a proxy) can never
  // take the port as its local port between this call and the program's bind.
  // A port is handed out once per process: a caller may not have bound the last one yet.
  static std::mutex mutex;
  static std::set<int> given;
  static std::mt19937 random(std::random_device{}());
  const std::lock_guard lock(mutex);
  const int high = ephemeral_low() - 1;
  if (high > 20000) {
    std::uniform_int_distribution<int> pick(20000, high);
    for (int attempt = 0; attempt < 100; ++attempt) {
      const int candidate = pick(random);
      if (given.contains(candidate)) continue;
      if (const int port = try_bind(candidate); port != 0) {
        given.insert(port);
        return port;
      }
    }
  }
  if (const int port = try_bind(0); port != 0) return port;
  throw std::runtime_error(std::string("bind 127.0.0.1:0: ") + std::strerror(errno));
}

bool port_open(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr = loopback(port);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

bool poll_until(std::chrono::milliseconds timeout, const std::function<bool()>& ready,
                std::chrono::milliseconds interval) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (ready()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(interval);
  }
}

LoopbackReply loopback_get(int port, const std::string& path_and_query,
                           std::chrono::milliseconds timeout) {
  LoopbackReply reply;
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return reply;
  timeval tv{static_cast<time_t>(timeout.count() / 1000),
             static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr = loopback(port);
  std::string response;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const auto request = "GET " + path_and_query + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(request.size())) {
      char buf[16384];
      for (ssize_t n = 0; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;)
        response.append(buf, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  const auto head_end = response.find("\r\n\r\n");
  if (head_end == std::string::npos || response.size() < 12 || !response.starts_with("HTTP/1."))
    return reply;
  reply.status = std::atoi(response.substr(9, 3).c_str());
  reply.body = response.substr(head_end + 4);
  return reply;
}

}  // namespace pipewright::proc
