#pragma once
// The client side of the fuzz targets that drive a real server in-process (HTTP, WebSocket,
// SMTP): the input goes over a real 127.0.0.1 TCP connection, in pieces, so the server's own
// read loop, buffering and split reads are what is tested.

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

namespace pipewright::fuzz {

// Connects to 127.0.0.1:port, writes `bytes` in pieces of `piece` bytes (0: all at once; one
// piece per poll round, so the server often reads them separately), half-closes, and returns
// everything the server sent until it closed the connection. A server that has not closed
// within `deadline` after the last byte is a finding (a hang): the target aborts.
std::string exchange(int port, std::string_view bytes, std::size_t piece,
                     std::chrono::milliseconds deadline = std::chrono::seconds(10));

}  // namespace pipewright::fuzz
