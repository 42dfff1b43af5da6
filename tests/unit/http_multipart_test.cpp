// pkg/http multipart/form-data: what browsers send, and bodies that must be refused clearly.

#include <gtest/gtest.h>
#include <chrono>
#include <random>

#include "pkg/http/multipart.h"

namespace pipewright::http {
namespace {

const std::string kType = "multipart/form-data; boundary=----WebKitFormBoundaryx7Yz";
const std::string kDash = "------WebKitFormBoundaryx7Yz";

std::string form(const std::string& file_data) {
  return kDash + "\r\n" +
         "Content-Disposition: form-data; name=\"file\"; filename=\"../my photo;1.jpg\"\r\n"
         "Content-Type: image/jpeg\r\n\r\n" +
         file_data + "\r\n" + kDash + "\r\n" +
         "content-disposition: form-data; name=notify\r\n\r\n"
         "ana@example.com\r\n" +
         kDash + "--\r\n";
}

std::string error_of(const std::string& type, const std::string& body) {
  try {
    parse_multipart(type, body);
  } catch (const MultipartError& e) {
    return e.what();
  }
  return "no error";
}

TEST(Multipart, ParsesABrowserForm) {
  const auto parts = parse_multipart(kType, form("JPEGDATA"));
  ASSERT_EQ(parts.size(), 2U);
  EXPECT_EQ(parts[0].name, "file");
  EXPECT_EQ(parts[0].filename, "../my photo;1.jpg");  // raw: sanitising is the caller's job
  EXPECT_EQ(parts[0].content_type, "image/jpeg");
  EXPECT_EQ(parts[0].data, "JPEGDATA");
  EXPECT_EQ(parts[1].name, "notify");
  EXPECT_EQ(parts[1].filename, "");
  EXPECT_EQ(parts[1].content_type, "text/plain");
  EXPECT_EQ(parts[1].data, "ana@example.com");
}

TEST(Multipart, QuotedBoundaryPreambleAndEmptyParts) {
  const std::string body =
      "preamble to ignore\r\n--b:1 2\r\nContent-Disposition: form-data; "
      "name=\"empty\"\r\n\r\n\r\n--b:1 2--";
  const auto parts =
      parse_multipart("Multipart/Form-Data; charset=utf-8; boundary=\"b:1 2\"", body);
  ASSERT_EQ(parts.size(), 1U);
  EXPECT_EQ(parts[0].name, "empty");
  EXPECT_EQ(parts[0].data, "");
  EXPECT_TRUE(parse_multipart(kType, kDash + "--\r\n").empty());
}

TEST(Multipart, BinaryDataWithLineBreaksAndDashesInside) {
  std::string data;
  data += std::string("\r\n--\r\n\0\xff", 7);
  data += "\r\n" + kDash.substr(0, kDash.size() - 1) + "\r\n";  // almost the delimiter
  data += "a" + kDash + "X";                                    // not after a line break
  data += std::string(1000, '\r') + "\n";
  const auto parts = parse_multipart(kType, form(data));
  ASSERT_EQ(parts.size(), 2U);
  EXPECT_EQ(parts[0].data, data);
  EXPECT_EQ(parts[0].data.size(), data.size());
}

TEST(Multipart, TruncatedBodiesAreRefused) {
  const std::string whole = form("JPEGDATA");
  // Cut inside the file data, inside the headers, and right after a boundary.
  for (const std::size_t cut : {whole.find("JPEG") + 2, std::size_t{40}, kDash.size()}) {
    const auto e = error_of(kType, whole.substr(0, cut));
    EXPECT_NE(e.find("truncated"), std::string::npos) << cut << ": " << e;
  }
  const auto no_close =
      error_of(kType, kDash + "\r\nContent-Disposition: form-data; name=a\r\n\r\nx");
  EXPECT_NE(no_close.find("no closing boundary"), std::string::npos) << no_close;
}

TEST(Multipart, AMissingOrInvalidBoundaryIsRefused) {
  EXPECT_NE(error_of("multipart/form-data", form("x")).find("no boundary"), std::string::npos);
  EXPECT_NE(error_of("multipart/form-data; boundary=", form("x")).find("no boundary"),
            std::string::npos);
  EXPECT_NE(error_of("multipart/form-data; boundary=" + std::string(71, 'a'), form("x"))
                .find("invalid multipart boundary"),
            std::string::npos);
  EXPECT_NE(error_of("application/json", "{}").find("not multipart"), std::string::npos);
  EXPECT_NE(error_of("multipart/form-data; boundary=other", form("x")).find("does not contain"),
            std::string::npos);
  EXPECT_NE(error_of("multipart/form-data; boundary=\"open", form("x")).find("unterminated"),
            std::string::npos);
}

TEST(Multipart, MalformedPartHeadersAreRefused) {
  const auto no_colon =
      error_of(kType, kDash + "\r\nthis is not a header\r\n\r\ndata\r\n" + kDash + "--");
  EXPECT_NE(no_colon.find("malformed header line"), std::string::npos) << no_colon;
  const auto no_name =
      error_of(kType, kDash + "\r\nContent-Disposition: form-data\r\n\r\nd\r\n" + kDash + "--");
  EXPECT_NE(no_name.find("no form-data name"), std::string::npos) << no_name;
  const auto no_disposition =
      error_of(kType, kDash + "\r\nContent-Type: text/plain\r\n\r\nd\r\n" + kDash + "--");
  EXPECT_NE(no_disposition.find("no Content-Disposition"), std::string::npos) << no_disposition;
  const auto junk = error_of(kType, kDash + "junk\r\n");
  EXPECT_NE(junk.find("boundary line"), std::string::npos) << junk;
}

TEST(Multipart, TwentyMebibytesOfRandomDataParseInLinearTime) {
  std::mt19937 rng(7);
  std::string data(std::size_t{20} * 1024 * 1024, '\0');
  for (auto& c : data)
    c = static_cast<char>(rng() % 4 == 0 ? '\r' : (rng() % 3 == 0 ? '-' : '\n'));  // worst-ish
  const std::string body = form(data);
  const auto start = std::chrono::steady_clock::now();
  const auto parts = parse_multipart(kType, body);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_EQ(parts.size(), 2U);
  EXPECT_EQ(parts[0].data, data);
  // A quadratic scan takes minutes here; a linear one well under a second even unoptimised.
  EXPECT_LT(took, std::chrono::seconds(5));
}

}  // namespace
}  // namespace pipewright::http
