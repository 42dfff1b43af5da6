// WebSocket frames (RFC 6455) as pkg/http's server reads them after a real handshake on its
// /ws echo route: masking, fragmentation, control frames, close codes, lengths, UTF-8, the
// message limit. Input: byte 0 picks the write pieces as in http_session; the rest follows the
// upgrade request on the same connection.

#include <string>

#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/http_fixture.h"
#include "tests/fuzz/loopback.h"

PW_FUZZ_TARGET(websocket) {
  if (size == 0) return;
  static const std::string kUpgrade =
      "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  const std::size_t piece = data[0] < 128 ? 0 : (data[0] & 63U) + 1;
  const std::string bytes = kUpgrade + std::string(pipewright::fuzz::as_text(data + 1, size - 1));
  const std::string reply =
      pipewright::fuzz::exchange(pipewright::fuzz::http_fixture_port(), bytes, piece);
  pipewright::fuzz::check(reply.starts_with("HTTP/1.1 101 "),
                          "a valid upgrade request was not answered 101");
}
