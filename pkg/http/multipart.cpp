#include "pkg/http/multipart.h"

#include <algorithm>
#include <cctype>
#include <functional>
#include <optional>
#include <utility>

namespace pipewright::http {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

// "value; a=b; c=\"d; e\"": the value before the first ';', then each parameter (lower-case
// name, value without quotes). Quoted values run to the next quote, kept raw.
std::pair<std::string, std::vector<std::pair<std::string, std::string>>> split_params(
    std::string_view header) {
  std::vector<std::pair<std::string, std::string>> params;
  auto semi = header.find(';');
  std::string value = lower(trim(header.substr(0, semi)));
  while (semi != std::string_view::npos) {
    std::size_t pos = semi + 1;
    while (pos < header.size() && (header[pos] == ' ' || header[pos] == '\t'))
      ++pos;
    const auto eq = header.find('=', pos);
    const auto next_semi = header.find(';', pos);
    if (eq == std::string_view::npos || (next_semi != std::string_view::npos && next_semi < eq)) {
      semi = next_semi;  // a parameter without '=': skipped
      continue;
    }
    const std::string name = lower(trim(header.substr(pos, eq - pos)));
    std::size_t v = eq + 1;
    while (v < header.size() && (header[v] == ' ' || header[v] == '\t'))
      ++v;
    if (v < header.size() && header[v] == '"') {
      const auto close = header.find('"', v + 1);
      if (close == std::string_view::npos)
        throw MultipartError("unterminated quoted parameter " + name +
                             " in: " + std::string(header));
      params.emplace_back(name, std::string(header.substr(v + 1, close - v - 1)));
      semi = header.find(';', close + 1);
    } else {
      semi = header.find(';', v);
      params.emplace_back(
          name, std::string(trim(header.substr(
                    v, semi == std::string_view::npos ? std::string_view::npos : semi - v))));
    }
  }
  return {value, params};
}

std::optional<std::string> param(const std::vector<std::pair<std::string, std::string>>& params,
                                 std::string_view name) {
  for (const auto& [k, v] : params)
    if (k == name) return v;
  return std::nullopt;
}

std::string boundary_of(std::string_view content_type) {
  const auto [type, params] = split_params(content_type);
  if (type.rfind("multipart/", 0) != 0)
    throw MultipartError("content type is not multipart: " + std::string(content_type));
  auto boundary = param(params, "boundary");
  if (!boundary || boundary->empty())
    throw MultipartError("content type has no boundary: " + std::string(content_type));
  // RFC 2046: 1 to 70 characters, no line breaks or quotes.
  if (boundary->size() > 70 || boundary->find_first_of("\r\n\"") != std::string::npos)
    throw MultipartError("invalid multipart boundary: " + *boundary);
  return *boundary;
}

void parse_part_headers(std::string_view block, Part& part, std::size_t index) {
  std::string disposition;
  while (!block.empty()) {
    const auto eol = block.find("\r\n");
    const std::string_view line = block.substr(0, eol);
    block = eol == std::string_view::npos ? std::string_view() : block.substr(eol + 2);
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0)
      throw MultipartError("part " + std::to_string(index) +
                           " has a malformed header line: " + std::string(line.substr(0, 200)));
    const std::string name = lower(trim(line.substr(0, colon)));
    const std::string_view value = trim(line.substr(colon + 1));
    if (name == "content-disposition") {
      disposition = value;
    } else if (name == "content-type") {
      part.content_type = value;
    }
  }
  if (disposition.empty())
    throw MultipartError("part " + std::to_string(index) + " has no Content-Disposition");
  const auto [kind, params] = split_params(disposition);
  const auto name = param(params, "name");
  if (kind != "form-data" || !name)
    throw MultipartError("part " + std::to_string(index) +
                         " has no form-data name in Content-Disposition: " + disposition);
  part.name = *name;
  part.filename = param(params, "filename").value_or("");
  if (part.content_type.empty()) part.content_type = "text/plain";  // RFC 7578 4.4
}

}  // namespace

std::vector<Part> parse_multipart(std::string_view content_type_header, std::string_view body) {
  const std::string dash = "--" + boundary_of(content_type_header);
  const std::string delimiter = "\r\n" + dash;
  // One Boyer-Moore-Horspool searcher for the whole body: data holding CR LF and dashes (any
  // binary file) costs no rescans.
  const std::boyer_moore_horspool_searcher searcher(delimiter.begin(), delimiter.end());
  const auto find_delimiter = [&](std::size_t from) -> std::size_t {
    const auto it =
        std::search(body.begin() + static_cast<std::ptrdiff_t>(from), body.end(), searcher);
    return it == body.end() ? std::string_view::npos : static_cast<std::size_t>(it - body.begin());
  };

  std::size_t pos = 0;
  if (body.substr(0, dash.size()) == dash) {
    pos = dash.size();
  } else {
    const auto first = find_delimiter(0);
    if (first == std::string_view::npos)
      throw MultipartError("the body does not contain the boundary " + dash);
    pos = first + delimiter.size();
  }

  std::vector<Part> parts;
  for (;;) {
    if (body.substr(pos, 2) == "--") return parts;  // the closing delimiter; epilogue ignored
    while (pos < body.size() && (body[pos] == ' ' || body[pos] == '\t'))
      ++pos;
    if (pos >= body.size())
      throw MultipartError("the body ends after a boundary: no closing boundary (truncated)");
    if (body.substr(pos, 2) != "\r\n")
      throw MultipartError("a boundary line is followed by something other than a line break");
    pos += 2;

    Part part;
    std::size_t data_start = 0;
    if (body.substr(pos, 2) == "\r\n") {
      data_start = pos + 2;  // no headers at all
    } else {
      const auto end = body.find("\r\n\r\n", pos);
      if (end == std::string_view::npos)
        throw MultipartError("part " + std::to_string(parts.size() + 1) +
                             " headers do not end (truncated or malformed)");
      data_start = end + 4;
    }
    parse_part_headers(body.substr(pos, data_start - 4 >= pos ? data_start - 4 - pos : 0), part,
                       parts.size() + 1);
    const auto data_end = find_delimiter(data_start);
    if (data_end == std::string_view::npos)
      throw MultipartError("part " + std::to_string(parts.size() + 1) +
                           " has no closing boundary: the body is truncated");
    part.data.assign(body.substr(data_start, data_end - data_start));
    parts.push_back(std::move(part));
    pos = data_end + delimiter.size();
  }
}

}  // namespace pipewright::http
