#pragma once
// multipart/form-data bodies (RFC 7578), as browsers send file uploads.

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace pipewright::http {

struct Part {
  std::string name, filename, content_type;  // content_type "text/plain" when the part has none
  std::string data;
};

// A body the parser refuses; what() says why (boundary, truncation, part headers).
class MultipartError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// `content_type_header` is the request's Content-Type ("multipart/form-data; boundary=...",
// boundary quoted or not). Parameters (name, filename) are kept raw: quotes removed, nothing
// unescaped or sanitised; a file name is the caller's to clean. Linear in the body's size.
std::vector<Part> parse_multipart(std::string_view content_type_header, std::string_view body);

}  // namespace pipewright::http
