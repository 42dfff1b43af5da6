// Debian's nginx, configured by the test, proxies to a local listener.

#include <gtest/gtest.h>

#include "tests/support/http_client.h"
#include "tests/support/http_server.h"
#include "tests/support/servers.h"

namespace pipewright {
namespace {

TEST(NginxSmoke, ProxiesToALocalListener) {
  testing::HttpServer backend([](const testing::TestRequest& req) {
    return testing::TestResponse{200, "application/json",
                                 R"({"served_by":"backend","target":")" + req.target + "\"}"};
  });
  const auto nginx = testing::Nginx::start(
      "upstream backend { server 127.0.0.1:" + std::to_string(backend.port()) +
      "; keepalive 8; }\n"
      "server {\n  listen 127.0.0.1:{{port}};\n"
      "  location / { proxy_pass http://backend; proxy_http_version 1.1;\n"
      "               proxy_set_header Connection \"\"; }\n}\n");

  const auto r = testing::http_get(nginx->url() + "/mult?op1=6&op2=7");
  ASSERT_EQ(r.status, 200) << r.error << r.body;
  EXPECT_EQ(r.body, R"({"served_by":"backend","target":"/mult?op1=6&op2=7"})");
  EXPECT_EQ(r.headers.at("Server").rfind("nginx", 0), 0u) << r.headers.at("Server");
  EXPECT_EQ(backend.requests(), 1);
}

TEST(NginxSmoke, AnswersBadGatewayWhenTheListenerIsGone) {
  int dead_port = 0;
  {
    testing::HttpServer gone([](const testing::TestRequest&) { return testing::TestResponse{}; });
    dead_port = gone.port();
  }
  const auto nginx = testing::Nginx::start(
      "server { listen 127.0.0.1:{{port}}; location / { proxy_pass http://127.0.0.1:" +
      std::to_string(dead_port) + "; } }\n");
  EXPECT_EQ(testing::http_get(nginx->url() + "/").status, 502);
}

}  // namespace
}  // namespace pipewright
