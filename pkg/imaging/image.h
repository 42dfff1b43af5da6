#pragma once
// Image checks and operations for the image pipeline: the upload worker calls validate(), the
// rotate and grayscale workers call rotate() and grayscale().
//
// Decisions (why, in short):
// - Pixels are taken as stored: EXIF orientation is ignored (IMREAD_IGNORE_ORIENTATION), so
//   rotate() is exactly cv::rotate of the stored pixels. Outputs carry no metadata (no EXIF,
//   no ICC profile), whichever path made them, so the orientation tag of a phone photo can't
//   rotate the result a second time in a viewer.
// - JPEG rotate and grayscale are lossless DCT-domain transforms (TurboJPEG) when the image
//   allows it (size a multiple of the MCU for rotate). Otherwise rotate decodes to the YCbCr
//   planes, rotates them and encodes them at quality 92 (no colour conversion or chroma
//   resampling), or, for other layouts, decodes to BGR. PNG stays lossless; lossless WebP
//   stays lossless, lossy WebP is encoded at 90.
// - Sizes are refused from the header, before anything is decoded (decompression bombs).

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pipewright::imaging {

enum class Format { jpeg, png, bmp, webp };

// "jpeg", "png", "bmp", "webp": the names config uses.
std::string format_name(Format format);
// Accepts jpeg/jpg, png, bmp, webp in any case; nullopt for anything else.
std::optional<Format> parse_format(std::string_view name);
// The usual file extension without the dot: "jpg", "png", "bmp", "webp".
std::string extension(Format format);
// Whether a file extension (without the dot, any case) belongs to the format: jpg, jpeg, jpe and
// jfif for JPEG; png; bmp and dib; webp. The caller keeps the uploaded file's own extension
// when it matches and uses extension() otherwise.
bool extension_matches(std::string_view ext, Format format);

struct ImageInfo {
  Format format;
  int width;
  int height;
};

// A refused image. reason() is one of: "empty" (400), "not_an_image" (400),
// "unsupported_format" (415), "truncated" (400), "corrupt" (400), "too_many_pixels" (413),
// "too_large_dimensions" (400). what() is a sentence for people, e.g.
// "the image is truncated: PNG has no IEND chunk".
class ImageError : public std::runtime_error {
 public:
  ImageError(std::string reason, int http_status, const std::string& message)
      : std::runtime_error(message), reason_(std::move(reason)), http_status_(http_status) {}
  std::string reason() const { return reason_; }
  int http_status() const { return http_status_; }

 private:
  std::string reason_;
  int http_status_;
};

// Format and size from the header alone (magic bytes; JPEG SOFn, PNG IHDR, BMP info header,
// WebP VP8/VP8L/VP8X). Nothing is decoded. Throws ImageError (empty, not_an_image,
// unsupported_format for GIF/TIFF/HEIC/AVIF/..., truncated or corrupt header).
ImageInfo probe(std::string_view bytes);

struct Limits {
  std::int64_t max_pixels = 50'000'000;
  std::vector<Format> formats = {Format::jpeg, Format::png, Format::bmp, Format::webp};
};

// probe(), then the format against limits.formats (415), width x height against
// limits.max_pixels (413), each side in 1..65535 (400), all before any decode; then the whole
// file: JPEG's entropy-coded data read to the last coefficient (what a decode reads, without
// making pixels) with every libjpeg warning that means damage refused (a truncated JPEG
// decodes to grey with only a warning), PNG chunk CRCs and IEND, BMP pixel data size, WebP RIFF
// size; the other formats' pixels must decode. Returns the header's info.
ImageInfo validate(std::string_view bytes, const Limits& limits = {});

// The image rotated clockwise by angle_clockwise (90, 180 or 270; std::invalid_argument
// otherwise), encoded in the input's format: width and height swapped for 90 and 270, pixels
// those of cv::rotate of the decoded input (exact for PNG, BMP and lossless WebP). Alpha and
// 16-bit depth are kept. Throws ImageError for bad input, checked as far as the operation reads.
std::string rotate(std::string_view bytes, int angle_clockwise, const Limits& limits = {});

// The image as one channel (luma, as cv::cvtColor BGR2GRAY within rounding), in the input's
// format. Alpha is dropped; 16-bit PNG stays 16-bit.
std::string grayscale(std::string_view bytes, const Limits& limits = {});

}  // namespace pipewright::imaging
