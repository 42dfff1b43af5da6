// Subject headers as the mail catcher decodes them (local::decode_mime_words: RFC 2047 B and Q
// encoded-words), as any sender on 127.0.0.1:1025 can send them.

#include <string>

#include "pkg/local/smtp_catcher.h"
#include "tests/fuzz/fuzz.h"

PW_FUZZ_TARGET(smtp_mime) {
  const std::string header(pipewright::fuzz::as_text(data, size));
  const auto decoded = pipewright::local::decode_mime_words(header);
  // Decoding never makes text longer: an encoded-word is longer than what it stands for.
  pipewright::fuzz::check(decoded.size() <= header.size(), "decoding made the subject longer");
}
