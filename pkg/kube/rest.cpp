#include "pkg/kube/rest.h"

#include <cpprest/containerstream.h>
#include <cpprest/http_client.h>
#include <cpprest/producerconsumerstream.h>
#include <boost/asio/ssl.hpp>
#include <fstream>
#include <sstream>

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

}  // namespace

Rest::Rest(Config config, std::chrono::seconds timeout)
    : config_(std::move(config)), impl_(std::make_unique<Impl>()) {
  impl_->client =
      std::make_unique<http::client::http_client>(config_.server, client_config(config_, timeout));
}

Rest::~Rest() = default;

Response Rest::request(const std::string& method, const std::string& path, const std::string& body,
                       const std::string& content_type) {
  auto req = make_request(config_, method, path);
  if (!body.empty()) req.set_body(body, content_type);
  try {
    auto resp = impl_->client->request(req).get();
    return {resp.status_code(), resp.extract_utf8string(true).get()};
  } catch (const std::exception& e) {
    throw TransportError(method + " " + config_.server + path + ": " + e.what());
  }
}

int Rest::watch(const std::string& path,
                const std::function<bool(const nlohmann::json&)>& on_event) {
  auto req = make_request(config_, "GET", path);
  concurrency::streams::producer_consumer_buffer<uint8_t> buffer;
  req.set_response_stream(buffer.create_ostream());
  pplx::cancellation_token_source cancel;
  http::http_response resp;
  try {
    resp = impl_->client->request(req, cancel.get_token()).get();
  } catch (const std::exception& e) {
    throw TransportError("watch " + config_.server + path + ": " + e.what());
  }
  if (resp.status_code() != http::status_codes::OK) {
    cancel.cancel();
    return resp.status_code();
  }
  // read_line returns whole lines however the body was chunked.
  auto in = buffer.create_istream();
  try {
    for (;;) {
      concurrency::streams::container_buffer<std::string> line;
      const auto n = in.read_line(line).get();
      if (n == 0 && in.is_eof()) break;
      const std::string& text = line.collection();
      if (text.empty()) continue;
      if (!on_event(nlohmann::json::parse(text))) break;
    }
  } catch (const nlohmann::json::exception& e) {
    cancel.cancel();
    throw TransportError("watch " + path + ": malformed event: " + e.what());
  } catch (const std::exception& e) {
    cancel.cancel();
    throw TransportError("watch " + path + ": stream broke: " + e.what());
  }
  cancel.cancel();
  return resp.status_code();
}

}  // namespace pipewright::kube
