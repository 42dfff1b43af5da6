#pragma once
// Loopback ports and deadlines, for starting servers and waiting for them.

#include <chrono>
#include <functional>
#include <string>

namespace pipewright::proc {

// A free TCP port on 127.0.0.1, for programs that need a port number in their configuration
// (Kafka, nginx, workers in local mode). Picked at random below the ephemeral range, so no
// outgoing connection takes it before the program binds; what remains is a tiny race with
// another caller, which callers retry on.
int free_port();

// True when something accepts TCP connections on 127.0.0.1:port.
bool port_open(int port);

// One HTTP/1.0 GET to 127.0.0.1:port (status 0 when nothing answered within `timeout`): for
// local mode's health checks and its queries to Prometheus, where a client library is too much.
struct LoopbackReply {
  int status = 0;
  std::string body;
};
LoopbackReply loopback_get(int port, const std::string& path_and_query,
                           std::chrono::milliseconds timeout = std::chrono::seconds(2));

// Calls `ready` every `interval` until it returns true or `timeout` passes; returns its last
// answer.
bool poll_until(std::chrono::milliseconds timeout, const std::function<bool()>& ready,
                std::chrono::milliseconds interval = std::chrono::milliseconds(50));

}  // namespace pipewright::proc
