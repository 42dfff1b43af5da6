#pragma once
// One real pkg/http server per fuzz process, on 127.0.0.1 (port from the OS), started on first
// use: the routes a worker has (exact, captures, query, body echo, an answer given later,
// probes with a metrics registry) and a WebSocket echo route at /ws.

#include <cstddef>

namespace pipewright::fuzz {

inline constexpr std::size_t kFuzzMaxBody = 8192;  // small, so 413 is reachable
inline constexpr std::size_t kFuzzMaxMessage = 4096;

int http_fixture_port();

}  // namespace pipewright::fuzz
