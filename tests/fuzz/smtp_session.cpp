// An SMTP session with local mode's mail catcher (local::SmtpCatcher, a real server on
// 127.0.0.1): commands, DATA with dot-stuffing, headers and Subject decoding, as a client sends
// them, in pieces (byte 0 as in http_session). The catcher keeps a thread per connection
// until stop(), so the fixture is replaced every 256 inputs.

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "pkg/local/smtp_catcher.h"
#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/loopback.h"

PW_FUZZ_TARGET(smtp_session) {
  if (size == 0) return;
  const auto text = pipewright::fuzz::as_text(data + 1, size - 1);
  static const auto store = std::filesystem::temp_directory_path() /
                            ("pipewright-fuzz-mail-" + std::to_string(::getpid()) + ".jsonl");
  static std::unique_ptr<pipewright::local::SmtpCatcher> catcher;
  static int served = 0;
  if (!catcher || ++served % 256 == 0) {
    catcher.reset();  // joins its session threads
    std::filesystem::remove(store);
    catcher = std::make_unique<pipewright::local::SmtpCatcher>(0, store);
  }
  const std::size_t piece = data[0] < 128 ? 0 : (data[0] & 63U) + 1;
  const auto reply = pipewright::fuzz::exchange(catcher->port(), text, piece);
  pipewright::fuzz::check(reply.starts_with("220 "), "the catcher did not greet");
  (void)catcher->messages();
}
