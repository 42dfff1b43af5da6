// bench_broadcaster: the peer of the WebSocket fan-out. A minimal Beast server: every client of
// ws://127.0.0.1:PORT/ gets each message consumed from TOPIC as one text frame, written to each
// socket in turn by the consumer's thread; offsets are committed (asynchronously) once a
// message was written to every client. A client whose write fails is dropped. No queues, no
// slow-client policy, no re-serialisation: what Beast and librdkafka alone cost.
//
// Usage: bench_broadcaster BOOTSTRAP TOPIC GROUP PORT_FILE
// Reads from the topic's end (a live feed, as events-gateway). Stops on SIGTERM/SIGINT.

// Before asio: Boost 1.74's awaitable.hpp uses std::exchange without including it.
#include <utility>

#include <poll.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "bench/peers/peer.h"

namespace pipewright::bench::peer {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using Socket = websocket::stream<tcp::socket>;
using Clock = std::chrono::steady_clock;

class Clients {
 public:
  void add(std::unique_ptr<Socket> s) {
    const std::lock_guard lock(mutex_);
    clients_.push_back(std::move(s));
  }
  // One text frame per client; the ones that fail are closed and dropped.
  void broadcast(const void* data, std::size_t size) {
    const std::lock_guard lock(mutex_);
    for (auto it = clients_.begin(); it != clients_.end();) {
      beast::error_code ec;
      (*it)->write(net::buffer(data, size), ec);
      it = ec ? clients_.erase(it) : it + 1;
    }
  }

 private:
  std::mutex mutex_;
  std::vector<std::unique_ptr<Socket>> clients_;
};

// Accepts and upgrades connections until stopped (polling, so a stop is seen within 200 ms).
void accept_loop(tcp::acceptor& acceptor, net::io_context& io, Clients& clients) {
  while (!stopping()) {
    pollfd p{acceptor.native_handle(), POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    beast::error_code ec;
    tcp::socket socket(io);
    acceptor.accept(socket, ec);
    if (ec) continue;
    socket.set_option(tcp::no_delay(true));
    auto ws = std::make_unique<Socket>(std::move(socket));
    ws->accept(ec);
    if (ec) continue;
    ws->text(true);
    clients.add(std::move(ws));
  }
}

int run(const std::string& bootstrap, const std::string& topic, const std::string& group,
        const std::string& port_file) {
  auto consumer = peer::consumer(bootstrap, group, "latest");
  consumer->subscribe({topic});
  net::io_context io;
  tcp::acceptor acceptor(io, {net::ip::make_address("127.0.0.1"), 0});
  Clients clients;
  std::thread accepting([&] { accept_loop(acceptor, io, clients); });
  write_port_file(port_file, acceptor.local_endpoint().port());
  auto next_commit = Clock::now();
  bool uncommitted = false;
  while (!stopping()) {
    std::unique_ptr<RdKafka::Message> m(consumer->consume(20));
    if (m->err() == RdKafka::ERR_NO_ERROR) {
      clients.broadcast(m->payload(), m->len());
      uncommitted = true;
    }
    // Everything consumed so far was written to every client: its offsets may go.
    if (uncommitted && Clock::now() >= next_commit) {
      consumer->commitAsync();
      uncommitted = false;
      next_commit = Clock::now() + std::chrono::milliseconds(20);
    }
  }
  accepting.join();
  consumer->close();
  return 0;
}

}  // namespace
}  // namespace pipewright::bench::peer

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() != 4) {
    std::cout << "usage: bench_broadcaster BOOTSTRAP TOPIC GROUP PORT_FILE\n"
                 "Writes each message consumed from TOPIC to every WebSocket client of\n"
                 "ws://127.0.0.1:PORT/ (PORT from the OS, written to PORT_FILE). Stops on SIGTERM\n"
                 "or SIGINT.\n";
    return args.size() == 1 && (args[0] == "--help" || args[0] == "-h") ? 0 : 2;
  }
  pipewright::bench::peer::install_stop_signals();
  try {
    return pipewright::bench::peer::run(args[0], args[1], args[2], args[3]);
  } catch (const std::exception& e) {
    std::cerr << R"({"level":"error","msg":"bench_broadcaster failed","error":")" << e.what()
              << "\"}\n";
    return 1;
  }
}
