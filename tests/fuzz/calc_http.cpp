// The calc worker's operands (query string, JSON body or form body) through the real worker:
// `pipewright-worker calc` runs in-process (workers::run, no Kafka: it has no topics) and gets
// each input as one HTTP request over 127.0.0.1. Input: byte 0 picks the operation (bits 0-1),
// GET with the rest as the query string or POST with it as the body (bit 2), and the POST's
// content type, JSON or form (bit 3). The worker answers 200 with a result or 400 naming a field.

#include <string>
#include <thread>

#include "pkg/proc/net.h"
#include "pkg/runtime/runtime.h"
#include "pkg/workers/workers.h"
#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/loopback.h"

namespace {

struct CalcWorker {
  int port = 0;
  std::unique_ptr<pipewright::runtime::Runtime> runtime;
  std::thread thread;

  CalcWorker() {
    pipewright::runtime::Wiring wiring;
    wiring.namespace_ = "fuzz";
    wiring.service = "calc";
    wiring.backend = "fuzz";
    wiring.worker = "calc";
    wiring.bind_host = "127.0.0.1";
    wiring.http_port = pipewright::proc::free_port();
    wiring.metrics_port = pipewright::proc::free_port();
    port = wiring.http_port;
    runtime = std::make_unique<pipewright::runtime::Runtime>(wiring, nlohmann::json::object());
    thread = std::thread([this] { pipewright::workers::run("calc", *runtime); });
    const bool up = pipewright::proc::poll_until(
        std::chrono::seconds(30), [this] { return pipewright::proc::port_open(port); });
    pipewright::fuzz::check(up, "the calc worker did not start listening");
  }
};

std::string url_safe(std::string_view raw) {
  std::string out;
  for (const char c : raw) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '#') {
      static constexpr char kHex[] = "0123456789ABCDEF";
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15U];
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

PW_FUZZ_TARGET(calc_http) {
  if (size == 0) return;
  // Never destroyed (see http_fixture.cpp): the worker runs until the process ends.
  static CalcWorker* worker = new CalcWorker();  // NOLINT(cppcoreguidelines-owning-memory)
  static const char* const kOps[] = {"mult", "sum", "sub", "div"};
  const std::string op = kOps[data[0] & 3U];
  const auto rest = pipewright::fuzz::as_text(data + 1, size - 1);
  std::string request;
  if ((data[0] & 4U) == 0) {
    request = "GET /" + op + "?" + url_safe(rest) + " HTTP/1.1\r\nHost: calc\r\n\r\n";
  } else {
    const char* type =
        (data[0] & 8U) != 0 ? "application/json" : "application/x-www-form-urlencoded";
    request = "POST /" + op + " HTTP/1.1\r\nHost: calc\r\nContent-Type: " + type +
              "\r\nContent-Length: " + std::to_string(rest.size()) + "\r\n\r\n" + std::string(rest);
  }
  const auto reply = pipewright::fuzz::exchange(worker->port, request, 0);
  pipewright::fuzz::check(reply.starts_with("HTTP/1.1 200 ") ||
                              reply.starts_with("HTTP/1.1 400 ") ||
                              reply.starts_with("HTTP/1.1 413 "),
                          "calc answered neither a result nor a 400 naming the field");
}
