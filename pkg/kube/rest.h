#pragma once
// The HTTP door to a kube-apiserver (cpprestsdk): one request, or a streamed watch. Knows TLS
// and authentication; knows nothing of resource kinds.

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "pkg/kube/config.h"

namespace pipewright::kube {

struct Response {
  int status = 0;
  std::string body;
  nlohmann::json json() const;  // the body parsed; throws nlohmann::json::exception when it isn't
  bool ok() const { return status >= 200 && status < 300; }
};

// The server could not be reached or the connection broke (no HTTP status to speak of).
class TransportError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Rest {
 public:
  explicit Rest(Config config, std::chrono::seconds timeout = std::chrono::seconds(30));
  ~Rest();
  Rest(const Rest&) = delete;
  Rest& operator=(const Rest&) = delete;

  const Config& config() const { return config_; }

  // `path` includes any query string, e.g. "/api/v1/namespaces/default/configmaps?limit=500".
  Response request(const std::string& method, const std::string& path, const std::string& body = {},
                   const std::string& content_type = "application/json");

  // Opens a watch and calls `on_event` with each JSON line ({"type","object"}) as it arrives,
  // until `on_event` returns false or the server ends the stream. Returns the HTTP status (200
  // for a stream that ran; 410 and others come back with no events).
  int watch(const std::string& path, const std::function<bool(const nlohmann::json&)>& on_event);
  // The same, and also returns within about 100 ms once `stop` becomes true, even when no event
  // is in flight. A non-200 answer comes back with its body (a metav1.Status); status 0 when
  // `stop` ended it before the server answered. Exceptions thrown by `on_event` pass through
  // unchanged; a broken stream is a TransportError.
  Response watch(const std::string& path,
                 const std::function<bool(const nlohmann::json&)>& on_event,
                 const std::atomic<bool>& stop);

 private:
  struct Impl;
  Config config_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pipewright::kube
