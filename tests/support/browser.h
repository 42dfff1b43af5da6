#pragma once
// Headless Chromium (Debian's) driven by playwright-core through tests/support/browser.mjs.

#include <string>

#include <nlohmann/json.hpp>

namespace pipewright::testing {

// Opens `url`, does `actions` in order, waits for `selector` to be visible, and returns
// {"title", "text" (the selector's innerText), "screenshot" (a PNG path)} — or throws with what
// the browser printed when the page did not show it within `timeout_ms`. Actions, as a person
// would: {"fill": SELECTOR, "value": TEXT}, {"setInputFiles": SELECTOR, "files": [PATH]},
// {"click": SELECTOR}, {"waitForText": SELECTOR, "text": TEXT} (until its innerText contains
// TEXT). The screenshot is kept as <build>/test-logs/screenshots/<screenshot>.png.
nlohmann::json browse(const std::string& url, const std::string& selector, int timeout_ms = 20000,
                      const nlohmann::json& actions = nlohmann::json::array(),
                      const std::string& screenshot = "page");

}  // namespace pipewright::testing
