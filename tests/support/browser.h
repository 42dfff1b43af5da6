#pragma once
// Headless Chromium (Debian's) driven by playwright-core through tests/support/browser.mjs.

#include <string>

#include <nlohmann/json.hpp>

namespace pipewright::testing {

// Opens `url`, waits for `selector` to be visible, and returns
// {"title", "text" (the selector's innerText), "screenshot" (a PNG path)} — or throws with what
// the browser printed when the page did not show it within `timeout_ms`.
nlohmann::json browse(const std::string& url, const std::string& selector, int timeout_ms = 20000);

}  // namespace pipewright::testing
