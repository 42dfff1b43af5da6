// bench_rest_peer: the peer of REST → topic. A minimal Beast HTTP/1.1 server: every POST's body
// is produced to TOPIC (acks=all, idempotent) and answered 202 once Kafka acknowledged it, 503
// when it was not; the I/O threads never wait (the answer is posted back from the delivery
// report). Keep-alive, no routing, no validation: what Beast and librdkafka alone cost.
//
// Usage: bench_rest_peer BOOTSTRAP TOPIC PORT_FILE [THREADS=2]
// Listens on 127.0.0.1, a port from the OS, written to PORT_FILE. Stops on SIGTERM/SIGINT.

// Before asio: Boost 1.74's awaitable.hpp uses std::exchange without including it.
#include <utility>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <iostream>
#include <memory>
#include <thread>
#include <vector>

#include "bench/peers/peer.h"

namespace pipewright::bench::peer {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

class Session;

// Handed to librdkafka with each message; its delivery report answers the request.
struct Pending {
  std::shared_ptr<Session> session;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, RdKafka::Producer& producer, const std::string& topic)
      : stream_(std::move(socket)), producer_(producer), topic_(topic) {}

  void start() { read(); }

  // From the producer's poll thread: back onto the connection's strand.
  void delivered(bool ok) {
    net::post(stream_.get_executor(),
              [self = shared_from_this(), ok] { self->answer(ok ? 202 : 503); });
  }

 private:
  void read() {
    request_ = {};
    http::async_read(stream_, buffer_, request_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       if (!ec) self->handle();
                     });
  }

  void handle() {
    if (request_.method() != http::verb::post) {
      answer(404);
      return;
    }
    const auto key = std::to_string(++sequence_);
    auto* pending =
        new Pending{shared_from_this()};  // NOLINT: owned by librdkafka until the report
    const auto& body = request_.body();
    const auto code = producer_.produce(
        topic_, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
        const_cast<char*>(body.data()), body.size(), key.data(), key.size(), 0, pending);
    if (code != RdKafka::ERR_NO_ERROR) {
      delete pending;  // NOLINT
      answer(503);
    }
  }

  void answer(int status) {
    response_ = {};
    response_.result(static_cast<unsigned>(status));
    response_.version(request_.version());
    response_.keep_alive(request_.keep_alive());
    response_.set(http::field::content_type, "application/json");
    response_.body() = status == 202 ? R"({"accepted":true})" : R"({"accepted":false})";
    response_.prepare_payload();
    http::async_write(stream_, response_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        if (ec) return;
                        if (self->response_.keep_alive()) {
                          self->read();
                        } else {
                          beast::error_code ignored;
                          self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
                        }
                      });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  http::response<http::string_body> response_;
  RdKafka::Producer& producer_;
  const std::string& topic_;
  std::uint64_t sequence_ = 0;
};

class Reports : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& m) override {
    std::unique_ptr<Pending> pending(static_cast<Pending*>(m.msg_opaque()));
    if (pending) pending->session->delivered(m.err() == RdKafka::ERR_NO_ERROR);
  }
};

void accept(tcp::acceptor& acceptor, net::io_context& io, RdKafka::Producer& producer,
            const std::string& topic) {
  acceptor.async_accept(net::make_strand(io), [&](beast::error_code ec, tcp::socket socket) {
    if (ec) return;
    socket.set_option(tcp::no_delay(true));
    std::make_shared<Session>(std::move(socket), producer, topic)->start();
    accept(acceptor, io, producer, topic);
  });
}

int run(const std::string& bootstrap, const std::string& topic, const std::string& port_file,
        int threads) {
  Reports reports;
  auto pc = conf(bootstrap);
  producer_settings(*pc);
  std::string err;
  pc->set("dr_cb", &reports, err);
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(pc.get(), err));
  if (!producer) throw std::runtime_error("producer: " + err);

  net::io_context io;
  tcp::acceptor acceptor(io, {net::ip::make_address("127.0.0.1"), 0});
  accept(acceptor, io, *producer, topic);
  std::vector<std::thread> workers;
  workers.reserve(static_cast<std::size_t>(threads));
  for (int i = 0; i < threads; ++i)
    workers.emplace_back([&io] { io.run(); });
  write_port_file(port_file, acceptor.local_endpoint().port());
  while (!stopping())
    producer->poll(20);
  producer->flush(60000);
  io.stop();
  for (auto& t : workers)
    t.join();
  return 0;
}

}  // namespace
}  // namespace pipewright::bench::peer

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() != 3 && args.size() != 4) {
    std::cout << "usage: bench_rest_peer BOOTSTRAP TOPIC PORT_FILE [THREADS=2]\n"
                 "Answers every POST 202 once its body is acknowledged by Kafka (acks=all,\n"
                 "idempotent) on TOPIC; listens on 127.0.0.1 on a port from the OS, written to\n"
                 "PORT_FILE. Stops on SIGTERM or SIGINT.\n";
    return args.size() == 1 && (args[0] == "--help" || args[0] == "-h") ? 0 : 2;
  }
  pipewright::bench::peer::install_stop_signals();
  try {
    return pipewright::bench::peer::run(args[0], args[1], args[2],
                                        args.size() == 4 ? std::stoi(args[3]) : 2);
  } catch (const std::exception& e) {
    std::cerr << R"({"level":"error","msg":"bench_rest_peer failed","error":")" << e.what()
              << "\"}\n";
    return 1;
  }
}
