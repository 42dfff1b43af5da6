#pragma once
// The server's WebSocket connection (websocket_session.cpp): after an HTTP session's upgrade,
// the handshake, the read loop with its message limits and the write loop that sends a client's
// queue many frames per write (websocket.h is its API).

#include <boost/beast/http.hpp>
#include <memory>
#include <string>

#include "pkg/http/server_core.h"
#include "pkg/http/websocket.h"

namespace pipewright::http {

// Completes the handshake of `upgrade` on `socket` and runs the connection on ctx's I/O thread
// (call it there), with `handler`.
void start_websocket(Core& core, Context& ctx, tcp::socket socket,
                     std::shared_ptr<WebSocketHandler> handler,
                     boost::beast::http::request<boost::beast::http::string_body> upgrade);

// stop(): sends every WebSocket of `ctx` a close frame (on its I/O thread).
void close_websockets(Context& ctx, int code, const std::string& reason);

}  // namespace pipewright::http
