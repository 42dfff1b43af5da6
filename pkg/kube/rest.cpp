#include "pkg/kube/rest.h"

#include <cpprest/containerstream.h>
#include <cpprest/http_client.h>
#include <cpprest/producerconsumerstream.h>
#include <boost/asio/ssl.hpp>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string_view>
#include <thread>

namespace pipewright::kube {

namespace http = web::http;

nlohmann::json Response::json() const {
  return nlohmann::json::parse(body);
}

struct Rest::Impl {
  std::unique_ptr<http::client::http_client> client;
};

namespace {

http::client::http_client_config client_config(const Config& cfg, std::chrono::seconds timeout) {
  http::client::http_client_config c;
  c.set_timeout(timeout);
  c.set_validate_certificates(!cfg.insecure_skip_tls_verify);
  const std::string ca = cfg.ca_pem;
  const std::string cert = cfg.client_cert_pem;
  const std::string key = cfg.client_key_pem;
  c.set_ssl_context_callback([ca, cert, key](boost::asio::ssl::context& ctx) {
    if (!ca.empty()) ctx.add_certificate_authority(boost::asio::buffer(ca));
    if (!cert.empty() && !key.empty()) {
      ctx.use_certificate_chain(boost::asio::buffer(cert));
      ctx.use_private_key(boost::asio::buffer(key), boost::asio::ssl::context::pem);
    }
  });
  return c;
}

std::string bearer(const Config& cfg) {
  if (!cfg.token_file.empty()) {
    std::ifstream in(cfg.token_file);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string token = ss.str();
    while (!token.empty() && (token.back() == '\n' || token.back() == '\r'))
      token.pop_back();
    if (!token.empty()) return token;
  }
  return cfg.token;
}

http::http_request make_request(const Config& cfg, const std::string& method,
                                const std::string& path) {
  http::http_request req(method);
  req.set_request_uri(path);
  req.headers().add("Accept", "application/json");
  req.headers().add("User-Agent", "pipewright");
  if (const auto token = bearer(cfg); !token.empty()) {
    req.headers().add("Authorization", "Bearer " + token);
  }
  return req;
}

// Cancels the request when the watch returns or throws.
struct CancelOnExit {
  explicit CancelOnExit(pplx::cancellation_token_source& source) : cancel(source) {}
  pplx::cancellation_token_source& cancel;
  CancelOnExit(const CancelOnExit&) = delete;
  CancelOnExit& operator=(const CancelOnExit&) = delete;
  ~CancelOnExit() { cancel.cancel(); }
};

// Ends a watch from outside the thread that reads it: once `stop` becomes true it cancels the
// request (closing the connection) and closes the buffer's write end, so a read blocked on a
// quiet stream returns at once instead of at the next event.
class Watchdog {
 public:
  Watchdog(const std::atomic<bool>& stop, const pplx::cancellation_token_source& cancel,
           const concurrency::streams::producer_consumer_buffer<uint8_t>& buffer)
      : thread_([this, &stop, cancel, out = buffer]() mutable {
          std::unique_lock lock(mu_);
          while (!done_) {
            if (stop.load()) {
              cancel.cancel();
              out.close(std::ios_base::out);
              return;
            }
            cv_.wait_for(lock, std::chrono::milliseconds(50));
          }
        }) {}
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;
  ~Watchdog() {
    {
      const std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace

Rest::Rest(Config config, std::chrono::seconds timeout)
    : config_(std::move(config)), impl_(std::make_unique<Impl>()) {
  impl_->client =
      std::make_unique<http::client::http_client>(config_.server, client_config(config_, timeout));
}

Rest::~Rest() = default;

Response Rest::request(const std::string& method, const std::string& path, const std::string& body,
                       const std::string& content_type) {
  // A kept-alive connection that the server closed meanwhile (say it restarted) fails on the
  // first write, and cpprestsdk does not retry that; we do, since a server cannot have acted on a
  // request it never received whole. A failed connection leaves the pool, so this ends.
  for (int attempt = 1;; ++attempt) {
    auto req = make_request(config_, method, path);
    if (!body.empty()) req.set_body(body, content_type);
    try {
      auto resp = impl_->client->request(req).get();
      return {resp.status_code(), resp.extract_utf8string(true).get()};
    } catch (const std::exception& e) {
      const bool unsent =
          std::string_view(e.what()).find("Failed to write request") != std::string_view::npos;
      if (unsent && attempt < 5) continue;
      throw TransportError(method + " " + config_.server + path + ": " + e.what());
    }
  }
}

int Rest::watch(const std::string& path,
                const std::function<bool(const nlohmann::json&)>& on_event) {
  const std::atomic<bool> never{false};
  return watch(path, on_event, never).status;
}

Response Rest::watch(const std::string& path,
                     const std::function<bool(const nlohmann::json&)>& on_event,
                     const std::atomic<bool>& stop) {
  auto req = make_request(config_, "GET", path);
  concurrency::streams::producer_consumer_buffer<uint8_t> buffer;
  req.set_response_stream(buffer.create_ostream());
  pplx::cancellation_token_source cancel;
  // However we leave, the connection must not keep streaming into a buffer nobody reads.
  const CancelOnExit cancel_on_exit{cancel};
  const Watchdog watchdog(stop, cancel, buffer);

  http::http_response resp;
  try {
    resp = impl_->client->request(req, cancel.get_token()).get();
  } catch (const std::exception& e) {
    if (stop.load()) return {};
    throw TransportError("watch " + config_.server + path + ": " + e.what());
  }
  // cpprestsdk leaves a caller's response stream open when the body ends or breaks; close it
  // then, so that reads see the end (or the error) instead of waiting for bytes that never come.
  resp.content_ready().then([buffer](const pplx::task<http::http_response>& done) mutable {
    try {
      done.wait();
      buffer.close(std::ios_base::out);
    } catch (...) {
      buffer.close(std::ios_base::out, std::current_exception());
    }
  });

  auto in = buffer.create_istream();
  if (resp.status_code() != http::status_codes::OK) {
    // A small metav1.Status saying why (410 Expired, 403 Forbidden, ...).
    concurrency::streams::container_buffer<std::string> body;
    try {
      in.read_to_end(body).wait();
    } catch (const std::exception&) {
      // The status code alone has to do.
    }
    return {resp.status_code(), body.collection()};
  }
  // read_line returns whole lines however the body was chunked.
  for (;;) {
    concurrency::streams::container_buffer<std::string> line;
    try {
      in.read_line(line).wait();
    } catch (const std::exception& e) {
      if (stop.load()) break;
      throw TransportError("watch " + config_.server + path + ": stream broke: " + e.what());
    }
    if (stop.load()) break;
    const std::string& text = line.collection();
    if (text.empty()) {
      if (in.is_eof() || (!buffer.can_write() && buffer.in_avail() == 0)) break;
      continue;
    }
    nlohmann::json event;
    try {
      event = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
      throw TransportError("watch " + path + ": malformed event: " + e.what());
    }
    if (!on_event(event)) break;
  }
  return {resp.status_code(), {}};
}

}  // namespace pipewright::kube
