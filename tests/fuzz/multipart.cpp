// multipart/form-data as the upload worker reads it: pkg/http's parse_multipart, then each
// part's file name through clean_upload_name (pkg/workers/files.h) as upload stores it.
// Input: the Content-Type header value, a newline, then the body.

#include <string>

#include "pkg/http/multipart.h"
#include "pkg/workers/files.h"
#include "tests/fuzz/fuzz.h"

PW_FUZZ_TARGET(multipart) {
  const auto text = pipewright::fuzz::as_text(data, size);
  const auto nl = text.find('\n');
  if (nl == std::string_view::npos) return;
  const auto type = text.substr(0, nl);
  const auto body = text.substr(nl + 1);
  std::vector<pipewright::http::Part> parts;
  try {
    parts = pipewright::http::parse_multipart(type, body);
  } catch (const pipewright::http::MultipartError&) {
    return;  // refused with a reason: the upload worker answers 400
  }
  std::size_t total = 0;
  for (const auto& part : parts) {
    total += part.data.size();
    if (part.filename.empty()) continue;
    std::string clean;
    try {
      clean = pipewright::workers::clean_upload_name(part.filename);
    } catch (const pipewright::workers::NameError&) {
      continue;
    }
    // A cleaned name is one the workers accept back from a URL or a message, unchanged.
    try {
      pipewright::workers::check_stored_name(clean);
    } catch (const pipewright::workers::NameError&) {
      pipewright::fuzz::check(false, "clean_upload_name gave a name check_stored_name refuses");
    }
    pipewright::fuzz::check(pipewright::workers::clean_upload_name(clean) == clean,
                            "clean_upload_name is not idempotent");
  }
  pipewright::fuzz::check(total <= body.size(), "parts hold more bytes than the body");
}
