// Headless Chromium (driven by playwright-core) renders a page served by a local listener,
// running its JavaScript: the test reads what the script wrote, not the static HTML.

#include <gtest/gtest.h>
#include <fstream>

#include "tests/support/browser.h"
#include "tests/support/http_server.h"

namespace pipewright {
namespace {

TEST(BrowserSmoke, ChromiumRendersAPageFromALocalListener) {
  testing::HttpServer server([](const testing::TestRequest& req) {
    if (req.target == "/data.json") {
      return testing::TestResponse{200, "application/json", R"({"op1":6,"op2":7})"};
    }
    return testing::TestResponse{200, "text/html; charset=utf-8", R"(<!doctype html>
<html><head><title>Pipewright smoke</title></head>
<body><p id="out" hidden></p>
<script>
  fetch('/data.json').then(r => r.json()).then(d => {
    const out = document.getElementById('out');
    out.textContent = `mult ${d.op1} x ${d.op2} = ${d.op1 * d.op2}`;
    out.hidden = false;
  });
</script></body></html>)"};
  });

  const auto page = testing::browse(server.url() + "/", "#out");
  EXPECT_EQ(page["title"], "Pipewright smoke");
  EXPECT_EQ(page["text"], "mult 6 x 7 = 42");
  EXPECT_GE(server.requests(), 2) << "the page's script did not fetch its data";

  std::ifstream png(page["screenshot"].get<std::string>(), std::ios::binary);
  char magic[8] = {};
  png.read(magic, 8);
  EXPECT_EQ(std::string(magic + 1, 3), "PNG");
}

}  // namespace
}  // namespace pipewright
