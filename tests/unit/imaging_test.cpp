// imaging: what the upload, rotate and grayscale workers rely on, with images made here by
// OpenCV (no binary fixtures) and headers crafted by hand for the refusals.

#include <gtest/gtest.h>

#include <zlib.h>
#include <cstring>
#include <memory>

#include <cstdint>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <thread>
#include <vector>

#include "pkg/imaging/image.h"

namespace pipewright::imaging {
namespace {

// Smooth gradients, noise and shapes: codecs behave on it as on a photo.
cv::Mat photo(int width, int height, int channels = 3) {
  cv::Mat m(height, width, CV_8UC3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      m.at<cv::Vec3b>(y, x) = {static_cast<unsigned char>(x * 255 / std::max(1, width - 1)),
                               static_cast<unsigned char>(y * 255 / std::max(1, height - 1)),
                               static_cast<unsigned char>((x + y) % 256)};
    }
  }
  // Sensor-like grain: mostly luma, a little chroma.
  cv::Mat grain(height, width, CV_8UC1);
  cv::randu(grain, 0, 12);
  cv::Mat noise;
  cv::merge(std::vector<cv::Mat>{grain, grain, grain}, noise);
  m += noise;
  cv::randu(noise, 0, 4);
  m += noise;
  cv::circle(m, {width / 3, height / 2}, std::max(1, std::min(width, height) / 4), {20, 40, 220},
             -1);
  cv::rectangle(m, {width / 2, height / 4}, {width - 1, height / 2}, {240, 240, 30}, -1);
  if (channels == 1) cv::cvtColor(m, m, cv::COLOR_BGR2GRAY);
  if (channels == 4) {
    cv::cvtColor(m, m, cv::COLOR_BGR2BGRA);
    for (int y = 0; y < height; ++y) {
      for (int x = 0; x < width; ++x)
        m.at<cv::Vec4b>(y, x)[3] = static_cast<unsigned char>(x ^ y);
    }
  }
  return m;
}

std::string encode(const cv::Mat& m, const std::string& ext, const std::vector<int>& params = {}) {
  std::vector<unsigned char> buf;
  EXPECT_TRUE(cv::imencode(ext, m, buf, params)) << ext;
  return {buf.begin(), buf.end()};
}

cv::Mat decode(const std::string& bytes, int flags = cv::IMREAD_UNCHANGED) {
  std::vector<unsigned char> buf(bytes.begin(), bytes.end());
  return cv::imdecode(buf, flags);
}

double mean_abs_diff(const cv::Mat& a, const cv::Mat& b) {
  cv::Scalar s = cv::mean(cv::abs(a - b));
  double total = 0;
  for (int c = 0; c < a.channels(); ++c)
    total += s[c];
  return total / a.channels();
}

bool same_pixels(const cv::Mat& a, const cv::Mat& b) {
  return a.size() == b.size() && a.type() == b.type() && cv::norm(a, b, cv::NORM_INF) == 0;
}

cv::RotateFlags rotate_code(int angle) {
  return angle == 90    ? cv::ROTATE_90_CLOCKWISE
         : angle == 180 ? cv::ROTATE_180
                        : cv::ROTATE_90_COUNTERCLOCKWISE;
}

// The ImageError a call throws (reason and HTTP status), or "none".
template <typename F>
std::pair<std::string, int> refusal(F&& f) {
  try {
    f();
  } catch (const ImageError& e) {
    EXPECT_GT(std::string(e.what()).size(), 10U) << "a sentence for people";
    return {e.reason(), e.http_status()};
  }
  return {"none", 0};
}

using Refusal = std::pair<std::string, int>;

void put_be32(std::string& s, std::size_t at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i)
    s[at + i] = static_cast<char>(v >> (24 - 8 * i));
}

// A PNG that is only a signature and an IHDR chunk (with a correct CRC) claiming w x h.
std::string png_header(std::uint32_t w, std::uint32_t h) {
  std::string s("\x89PNG\r\n\x1a\n", 8);
  std::string ihdr("\0\0\0\x0dIHDR\0\0\0\0\0\0\0\0\x08\x02\0\0\0\0\0\0\0", 25);
  put_be32(ihdr, 8, w);
  put_be32(ihdr, 12, h);
  put_be32(ihdr, 21, crc32(0, reinterpret_cast<const Bytef*>(ihdr.data() + 4), 17));
  return s + ihdr;
}

// A JPEG that is only SOI and a baseline SOF0 claiming w x h.
std::string jpeg_header(std::uint16_t w, std::uint16_t h) {
  std::string s("\xff\xd8\xff\xc0\x00\x11\x08", 7);
  s += static_cast<char>(h >> 8);
  s += static_cast<char>(h & 0xFF);
  s += static_cast<char>(w >> 8);
  s += static_cast<char>(w & 0xFF);
  s += std::string("\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01", 10);
  return s;
}

TEST(ImagingFormats, NamesExtensionsAndParsing) {
  EXPECT_EQ(format_name(Format::jpeg), "jpeg");
  EXPECT_EQ(format_name(Format::webp), "webp");
  EXPECT_EQ(parse_format("JPG"), Format::jpeg);
  EXPECT_EQ(parse_format("Jpeg"), Format::jpeg);
  EXPECT_EQ(parse_format("png"), Format::png);
  EXPECT_EQ(parse_format("BMP"), Format::bmp);
  EXPECT_EQ(parse_format("webp"), Format::webp);
  EXPECT_EQ(parse_format("gif"), std::nullopt);
  EXPECT_EQ(parse_format(""), std::nullopt);
  EXPECT_EQ(extension(Format::jpeg), "jpg");
  EXPECT_EQ(extension(Format::png), "png");
  EXPECT_TRUE(extension_matches("JPEG", Format::jpeg));
  EXPECT_TRUE(extension_matches("jpg", Format::jpeg));
  EXPECT_FALSE(extension_matches("png", Format::jpeg));
}

TEST(ImagingProbe, ReadsSizeFromEveryFormatsHeader) {
  const cv::Mat m = photo(37, 21);
  for (const char* ext : {".jpg", ".png", ".bmp", ".webp"}) {
    const ImageInfo info = probe(encode(m, ext));
    EXPECT_EQ(info.width, 37) << ext;
    EXPECT_EQ(info.height, 21) << ext;
  }
  EXPECT_EQ(probe(encode(m, ".jpg")).format, Format::jpeg);
  EXPECT_EQ(probe(encode(m, ".webp", {cv::IMWRITE_WEBP_QUALITY, 101})).width, 37);  // VP8L
  EXPECT_EQ(probe(encode(m, ".webp", {cv::IMWRITE_WEBP_QUALITY, 80})).height, 21);  // VP8
  EXPECT_EQ(probe(encode(m, ".jpg", {cv::IMWRITE_JPEG_PROGRESSIVE, 1})).width, 37);
}

TEST(ImagingProbe, TopDownBmpHasANegativeHeightInItsHeader) {
  std::string bmp = encode(photo(8, 6), ".bmp");
  const std::int32_t h = -6;
  for (int i = 0; i < 4; ++i)
    bmp[22 + i] = static_cast<char>(static_cast<std::uint32_t>(h) >> (8 * i));
  EXPECT_EQ(probe(bmp).height, 6);
  EXPECT_EQ(validate(bmp).height, 6);
}

TEST(ImagingValidate, AcceptsWhatOpenCvWritesInAllFourFormats) {
  const cv::Mat m = photo(64, 40);
  EXPECT_EQ(validate(encode(m, ".jpg")).format, Format::jpeg);
  EXPECT_EQ(validate(encode(m, ".png")).format, Format::png);
  EXPECT_EQ(validate(encode(m, ".bmp")).format, Format::bmp);
  EXPECT_EQ(validate(encode(m, ".webp")).format, Format::webp);
  EXPECT_EQ(validate(encode(photo(64, 40, 4), ".png")).width, 64);
  EXPECT_EQ(validate(encode(photo(64, 40, 1), ".jpg")).height, 40);
}

TEST(ImagingValidate, RefusesEmptyTextAndOtherImageFormats) {
  EXPECT_EQ(refusal([] { validate(""); }), Refusal("empty", 400));
  EXPECT_EQ(refusal([] { validate("hello, this is a text file\n"); }),
            Refusal("not_an_image", 400));
  EXPECT_EQ(refusal([] { validate("BMW and other cars, a plain text file"); }),
            Refusal("not_an_image", 400));
  EXPECT_EQ(refusal([] { validate(std::string("GIF89a\x10\0\x10\0\x80\0\0", 13)); }),
            Refusal("unsupported_format", 415));
  EXPECT_EQ(refusal([] { validate(std::string("II*\0\x08\0\0\0", 8)); }),
            Refusal("unsupported_format", 415));
  EXPECT_EQ(refusal([] { validate(std::string("MM\0*\0\0\0\x08", 8)); }),
            Refusal("unsupported_format", 415));
  EXPECT_EQ(refusal([] {
              validate(
                  std::string("\0\0\0\x18"
                              "ftypheic\0\0\0\0",
                              16));
            }),
            Refusal("unsupported_format", 415));
  EXPECT_EQ(refusal([] {
              validate(
                  std::string("\0\0\0\x1c"
                              "ftypavif\0\0\0\0",
                              16));
            }),
            Refusal("unsupported_format", 415));
}

TEST(ImagingValidate, RefusesAFormatTheLimitsExclude) {
  Limits only_jpeg;
  only_jpeg.formats = {Format::jpeg};
  const cv::Mat m = photo(16, 16);
  EXPECT_EQ(validate(encode(m, ".jpg"), only_jpeg).format, Format::jpeg);
  EXPECT_EQ(refusal([&] { validate(encode(m, ".png"), only_jpeg); }),
            Refusal("unsupported_format", 415));
  EXPECT_EQ(refusal([&] { rotate(encode(m, ".webp"), 90, only_jpeg); }),
            Refusal("unsupported_format", 415));
}

TEST(ImagingValidate, RefusesDecompressionBombsFromTheHeaderAlone) {
  // Headers with no pixel data at all: a decode would say "truncated", so too_many_pixels
  // shows the size was refused before anything was decoded.
  EXPECT_EQ(refusal([] { validate(png_header(100000, 100000)); }), Refusal("too_many_pixels", 413));
  EXPECT_EQ(refusal([] { validate(jpeg_header(65000, 65000)); }), Refusal("too_many_pixels", 413));
  EXPECT_EQ(refusal([] { rotate(png_header(100000, 100000), 90); }),
            Refusal("too_many_pixels", 413));
  EXPECT_EQ(refusal([] { grayscale(jpeg_header(65000, 65000)); }), Refusal("too_many_pixels", 413));
  Limits small;
  small.max_pixels = 1000;
  EXPECT_EQ(refusal([&] { validate(encode(photo(40, 30), ".png"), small); }),
            Refusal("too_many_pixels", 413));
  EXPECT_EQ(validate(encode(photo(40, 25), ".png"), small).width, 40);
  // Within the pixel limit but wider than any image is allowed to be, or empty.
  EXPECT_EQ(refusal([] { validate(png_header(70000, 1)); }), Refusal("too_large_dimensions", 400));
  EXPECT_EQ(refusal([] { validate(png_header(0, 10)); }), Refusal("too_large_dimensions", 400));
  EXPECT_EQ(refusal([] { validate(jpeg_header(10, 0)); }), Refusal("too_large_dimensions", 400));
}

TEST(ImagingValidate, RefusesTruncatedFilesThatOpenCvWouldDecodeHalfGrey) {
  const cv::Mat m = photo(256, 192);
  const std::string jpeg = encode(m, ".jpg");
  const std::string cut_jpeg = jpeg.substr(0, jpeg.size() * 6 / 10);
  ASSERT_FALSE(decode(cut_jpeg).empty()) << "OpenCV accepts it: the reason for this check";
  EXPECT_EQ(refusal([&] { validate(cut_jpeg); }), Refusal("truncated", 400));
  EXPECT_EQ(refusal([&] { validate(jpeg.substr(0, jpeg.size() - 2)); }), Refusal("truncated", 400))
      << "no EOI";
  EXPECT_EQ(refusal([&] { validate(jpeg.substr(0, 40)); }), Refusal("truncated", 400));

  const std::string png = encode(m, ".png");
  EXPECT_EQ(refusal([&] { validate(png.substr(0, png.size() / 2)); }), Refusal("truncated", 400));
  EXPECT_EQ(refusal([&] { validate(png.substr(0, png.size() - 12)); }), Refusal("truncated", 400))
      << "no IEND";
  const std::string bmp = encode(m, ".bmp");
  EXPECT_EQ(refusal([&] { validate(bmp.substr(0, bmp.size() - 100)); }), Refusal("truncated", 400));
  {
    // Issue 14, defect 8: a BMP cut inside its 40-byte info header. The bytes past the end
    // (compression 5, embedded PNG) were read and decided the answer (415); under
    // -fsanitize=address, a heap-buffer-overflow.
    std::string whole("BM", 2);
    for (const std::uint32_t v : {34u, 0u, 26u, 40u, 1u, 1u})
      for (int i = 0; i < 4; ++i)
        whole.push_back(static_cast<char>(v >> (8 * i)));
    whole.resize(34);
    whole[26] = 1;   // planes
    whole[28] = 24;  // bits per pixel
    whole[30] = 5;   // compression, past the end of what is checked
    EXPECT_EQ(refusal([&] { validate(std::string_view(whole).substr(0, 30)); }),
              Refusal("truncated", 400));
    const auto cut = std::make_unique<char[]>(30);  // exactly 30 bytes: ASan sees any over-read
    std::memcpy(cut.get(), whole.data(), 30);
    EXPECT_EQ(refusal([&] { validate(std::string_view(cut.get(), 30)); }),
              Refusal("truncated", 400));
  }
  const std::string webp = encode(m, ".webp", {cv::IMWRITE_WEBP_QUALITY, 80});
  EXPECT_EQ(refusal([&] { validate(webp.substr(0, webp.size() - 50)); }),
            Refusal("truncated", 400));
}

TEST(ImagingValidate, RefusesCorruptMiddleBytes) {
  const cv::Mat m = photo(256, 192);
  std::string png = encode(m, ".png");
  png[png.size() / 2] = static_cast<char>(png[png.size() / 2] ^ 0x5A);
  EXPECT_EQ(refusal([&] { validate(png); }), Refusal("corrupt", 400));

  // JPEG has no checksum: damage shows as a marker where entropy-coded data should be.
  std::string jpeg = encode(m, ".jpg");
  jpeg.replace(jpeg.size() / 2, 4, "\xff\xd3\xff\xc4");
  EXPECT_EQ(refusal([&] { validate(jpeg); }), Refusal("corrupt", 400));
}

// A chunk lost from the middle of the entropy-coded data (a transfer that dropped a block):
// every segment and the EOI are in place, so a check of the file's structure alone would pass
// it; only reading the coefficients finds the scan ending before its last block. This keeps
// validate() from being reduced to such a check. OpenCV decodes it without a word.
TEST(ImagingValidate, RefusesEntropyDataWithAChunkMissing) {
  const cv::Mat m = photo(256, 192);
  const std::string jpeg = encode(m, ".jpg");
  const auto sos = jpeg.find("\xff\xda");
  ASSERT_NE(sos, std::string::npos);
  std::size_t from = sos + 200;
  while (static_cast<unsigned char>(jpeg[from - 1]) == 0xff)
    ++from;  // not inside FF 00
  std::size_t to = from + 2000;
  while (static_cast<unsigned char>(jpeg[to - 1]) == 0xff)
    ++to;
  ASSERT_LT(to, jpeg.size() - 2);
  const std::string spliced = jpeg.substr(0, from) + jpeg.substr(to);
  ASSERT_FALSE(decode(spliced).empty()) << "OpenCV accepts it: the reason for this check";
  EXPECT_EQ(refusal([&] { validate(spliced); }), Refusal("corrupt", 400));
}

TEST(ImagingRotate, LosslessFormatsGiveExactlyTheRotatedPixels) {
  for (int angle : {90, 180, 270}) {
    for (const cv::Mat& m : {photo(40, 24), photo(17, 33, 4), photo(1, 1), photo(9, 5, 1)}) {
      for (const char* ext : {".png", ".bmp"}) {
        const std::string in = encode(m, ext);
        const std::string out = rotate(in, angle);
        EXPECT_EQ(probe(out).format, probe(in).format);
        cv::Mat expected;
        cv::rotate(decode(in), expected, rotate_code(angle));
        EXPECT_TRUE(same_pixels(decode(out), expected))
            << ext << " " << m.cols << "x" << m.rows << " by " << angle;
      }
    }
  }
  cv::Mat deep(30, 20, CV_16UC3);
  cv::randu(deep, 0, 65535);
  const std::string png16 = encode(deep, ".png");
  cv::Mat expected;
  cv::rotate(deep, expected, cv::ROTATE_90_CLOCKWISE);
  EXPECT_TRUE(same_pixels(decode(rotate(png16, 90)), expected)) << "16-bit PNG stays 16-bit";
  const std::string webp = encode(photo(23, 11), ".webp", {cv::IMWRITE_WEBP_QUALITY, 101});
  cv::rotate(decode(webp), expected, cv::ROTATE_90_COUNTERCLOCKWISE);
  EXPECT_TRUE(same_pixels(decode(rotate(webp, 270)), expected)) << "lossless WebP stays lossless";
}

TEST(ImagingRotate, JpegDecodesToTheRotatedPixelsAtEverySize) {
  // MCU multiples take the lossless DCT path; the others (and 1x1) decode and re-encode.
  for (const cv::Size size : {cv::Size(64, 48), cv::Size(1, 1), cv::Size(17, 33),
                              cv::Size(250, 150), cv::Size(96, 40), cv::Size(40, 96)}) {
    for (bool progressive : {false, true}) {
      const std::string in = encode(photo(size.width, size.height), ".jpg",
                                    {cv::IMWRITE_JPEG_PROGRESSIVE, progressive});
      for (int angle : {90, 180, 270}) {
        const cv::Mat out = decode(rotate(in, angle), cv::IMREAD_COLOR);
        cv::Mat expected;
        cv::rotate(decode(in, cv::IMREAD_COLOR), expected, rotate_code(angle));
        ASSERT_EQ(out.size(), expected.size()) << size << " by " << angle;
        // Lossless paths are within rounding; re-encoding loses what one JPEG generation at
        // the quality used loses on these pixels, and no more.
        const double one_generation = mean_abs_diff(
            decode(encode(expected, ".jpg", {cv::IMWRITE_JPEG_QUALITY, 92})), expected);
        EXPECT_LT(mean_abs_diff(out, expected), std::max(2.0, one_generation + 0.25))
            << size << " by " << angle;
      }
    }
  }
}

TEST(ImagingRotate, ReusedTransformBufferStaysLosslessAcrossSizes) {
  // One thread keeps TurboJPEG's output buffer between images: growing it for a bigger image,
  // and leaving an image over the kept size (2048x1536) its own, must still take the lossless
  // path; a quarter turn there and back gives the very same pixels (re-encoding would not).
  for (const cv::Size size : {cv::Size(64, 48), cv::Size(640, 480), cv::Size(16, 16),
                              cv::Size(2048, 1536), cv::Size(640, 480)}) {
    const std::string in = encode(photo(size.width, size.height), ".jpg");
    const std::string turned = rotate(in, 90);
    EXPECT_EQ(probe(turned).width, size.height) << size;
    const cv::Mat back = decode(rotate(turned, 270), cv::IMREAD_COLOR);
    const cv::Mat original = decode(in, cv::IMREAD_COLOR);
    ASSERT_EQ(back.size(), original.size()) << size;
    EXPECT_EQ(cv::norm(back, original, cv::NORM_INF), 0) << size << ": not the lossless path";
    // Grayscale (the same buffer) gives what a thread of its own gives, byte for byte.
    std::string fresh;
    std::thread([&] { fresh = grayscale(in); }).join();
    EXPECT_EQ(grayscale(in), fresh) << size;
  }
}

TEST(ImagingRotate, LossyWebpDecodesToTheRotatedPixels) {
  const std::string in = encode(photo(60, 34), ".webp", {cv::IMWRITE_WEBP_QUALITY, 90});
  const cv::Mat out = decode(rotate(in, 90), cv::IMREAD_COLOR);
  cv::Mat expected;
  cv::rotate(decode(in, cv::IMREAD_COLOR), expected, cv::ROTATE_90_CLOCKWISE);
  ASSERT_EQ(out.size(), cv::Size(34, 60));
  EXPECT_LT(mean_abs_diff(out, expected), 4.0);
}

TEST(ImagingRotate, IgnoresExifOrientationAndDropsMetadata) {
  // An APP1 Exif segment with Orientation = 6 (display rotated 90 clockwise).
  const std::string exif(
      "\xff\xe1\x00\x22"
      "Exif\0\0MM\0*\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01\0\x06\0\0\0\0\0\0",
      36);
  const cv::Mat m = photo(64, 32);
  std::string in = encode(m, ".jpg");
  in.insert(2, exif);
  ASSERT_EQ(decode(in, cv::IMREAD_COLOR).size(), cv::Size(32, 64)) << "OpenCV applies it";
  const std::string out = rotate(in, 90);
  EXPECT_EQ(out.find("Exif"), std::string::npos);
  cv::Mat expected;
  cv::rotate(decode(in, cv::IMREAD_COLOR | cv::IMREAD_IGNORE_ORIENTATION), expected,
             cv::ROTATE_90_CLOCKWISE);
  const cv::Mat got = decode(out, cv::IMREAD_COLOR);
  ASSERT_EQ(got.size(), cv::Size(32, 64));
  EXPECT_LT(mean_abs_diff(got, expected), 2.0);
}

TEST(ImagingRotate, RefusesBadInputAndBadAngles) {
  const std::string jpeg = encode(photo(128, 96), ".jpg");
  EXPECT_THROW(rotate(jpeg, 45), std::invalid_argument);
  EXPECT_THROW(rotate(jpeg, 0), std::invalid_argument);
  EXPECT_THROW(rotate(jpeg, -90), std::invalid_argument);
  EXPECT_EQ(refusal([&] { rotate(jpeg.substr(0, jpeg.size() / 2), 90); }),
            Refusal("truncated", 400));
  EXPECT_EQ(refusal([&] { grayscale(jpeg.substr(0, jpeg.size() / 2)); }),
            Refusal("truncated", 400));
  const std::string png = encode(photo(20, 20), ".png");
  EXPECT_EQ(refusal([&] { rotate(png.substr(0, png.size() - 20), 180); }),
            Refusal("truncated", 400));
  EXPECT_EQ(refusal([] { rotate("not an image at all", 90); }), Refusal("not_an_image", 400));
}

TEST(ImagingGrayscale, OneChannelEqualToOpenCvsConversion) {
  const cv::Mat m = photo(80, 48);
  for (const char* ext : {".png", ".bmp", ".jpg"}) {
    const std::string in = encode(m, ext);
    const std::string out = grayscale(in);
    EXPECT_EQ(probe(out).format, probe(in).format) << ext;
    const cv::Mat got = decode(out);
    ASSERT_EQ(got.channels(), 1) << ext;
    ASSERT_EQ(got.size(), m.size()) << ext;
    cv::Mat expected;
    cv::cvtColor(decode(in, cv::IMREAD_COLOR), expected, cv::COLOR_BGR2GRAY);
    EXPECT_LT(mean_abs_diff(got, expected), std::string(ext) == ".jpg" ? 2.0 : 1.0) << ext;
  }
  // WebP has no one-channel mode: the result decodes to gray with R = G = B.
  const std::string webp = encode(m, ".webp", {cv::IMWRITE_WEBP_QUALITY, 101});
  cv::Mat expected;
  cv::cvtColor(decode(webp, cv::IMREAD_COLOR), expected, cv::COLOR_BGR2GRAY);
  EXPECT_LT(mean_abs_diff(decode(grayscale(webp), cv::IMREAD_GRAYSCALE), expected), 1.0);
}

TEST(ImagingGrayscale, OddJpegSizesAndAlphaPngs) {
  for (const cv::Size size : {cv::Size(1, 1), cv::Size(17, 33), cv::Size(250, 150)}) {
    const std::string in = encode(photo(size.width, size.height), ".jpg");
    const cv::Mat got = decode(grayscale(in));
    ASSERT_EQ(got.channels(), 1);
    cv::Mat expected;
    cv::cvtColor(decode(in, cv::IMREAD_COLOR), expected, cv::COLOR_BGR2GRAY);
    ASSERT_EQ(got.size(), expected.size());
    EXPECT_LT(mean_abs_diff(got, expected), 2.0) << size;
  }
  const cv::Mat got = decode(grayscale(encode(photo(30, 20, 4), ".png")));
  EXPECT_EQ(got.channels(), 1);
  EXPECT_EQ(got.size(), cv::Size(30, 20));
}

}  // namespace
}  // namespace pipewright::imaging
