// The HTTP session of pkg/http's server, from the socket: request lines, headers, Content-Length
// and chunked bodies (extensions, trailers), Expect: 100-continue, pipelined requests, bytes
// split across reads. Input: byte 0 picks how the rest is cut into writes (< 128: one write;
// else pieces of 1..64 bytes); the rest goes to a real server over 127.0.0.1.

#include <string>

#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/http_fixture.h"
#include "tests/fuzz/loopback.h"

PW_FUZZ_TARGET(http_session) {
  if (size == 0) return;
  const std::size_t piece = data[0] < 128 ? 0 : (data[0] & 63U) + 1;
  const auto bytes = pipewright::fuzz::as_text(data + 1, size - 1);
  const std::string reply =
      pipewright::fuzz::exchange(pipewright::fuzz::http_fixture_port(), bytes, piece);
  // Whatever it was sent, the server answers HTTP or nothing, and none of its routes fails.
  pipewright::fuzz::check(reply.empty() || reply.starts_with("HTTP/1."),
                          "the server answered something that is not HTTP");
  pipewright::fuzz::check(reply.find(" 500 Internal Server Error\r\n") == std::string::npos,
                          "a request made the server answer 500");
}
