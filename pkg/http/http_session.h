#pragma once
// The server's HTTP/1.1 connection (http_session.cpp): reads each request into Beast's parser,
// calls the handler, writes the answer (or parks it for a Responder, or hands the socket to a
// WebSocket), and keeps the connection alive within its limits.

#include "pkg/http/server_core.h"

namespace pipewright::http {

// Serves `socket` on ctx's I/O thread (call it there). `reserved`: the connection is over
// max_connections, in the probe reserve (probes only, short deadlines).
void start_http_session(Core& core, Context& ctx, tcp::socket socket, bool reserved);

// The sweep: ends ctx's connections that are idle, stalled or past their deadline at `now`.
void expire_http_sessions(Context& ctx, Clock::time_point now);

// stop(): closes ctx's idle connections now (the others close after their current answer).
void close_idle_http_sessions(Context& ctx);

}  // namespace pipewright::http
