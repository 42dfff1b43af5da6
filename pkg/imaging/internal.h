#pragma once
// Pieces shared by image.cpp (header and container checks) and codec.cpp (decode, encode,
// operations). Not part of the library's interface.

#include <opencv2/core/mat.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "pkg/imaging/image.h"

namespace pipewright::imaging::detail {

// Throws ImageError with the HTTP status that belongs to the reason.
[[noreturn]] void fail(std::string_view reason, const std::string& message);

// probe(), the format against limits.formats, the pixel count and each side: all from the
// header, before anything is decoded.
ImageInfo check_header(std::string_view bytes, const Limits& limits);

// The container around the pixels, cheap and without decoding: PNG chunk CRCs and IEND, BMP
// pixel data size, WebP RIFF size and chunks. JPEG has none; its decode checks it.
// verify_checksums = false skips the PNG CRCs (libpng checks those it reads).
void check_container(std::string_view bytes, const ImageInfo& info, bool verify_checksums = true);

// Whether a WebP file holds lossless (VP8L) data; lossy otherwise.
bool webp_is_lossless(std::string_view bytes);

// The whole JPEG decoded by libjpeg, BGR (gray = false) or luma. Damage is an ImageError:
// "truncated" for data that ends early, "corrupt" for libjpeg errors and for warnings that
// mean damaged data (libjpeg only warns about those and fills the rest with grey).
cv::Mat decode_jpeg(std::string_view bytes, bool gray);

// The JPEG's entropy-coded data read in full (no pixels made), with decode_jpeg's refusals;
// returns the frame's width and height.
std::pair<int, int> check_jpeg(std::string_view bytes);

// A lossless DCT-domain transform with TurboJPEG: rotation by angle (0, 90, 180, 270) and/or
// dropping the colour. nullopt when it can't be done perfectly (size not a multiple of the
// MCU for the rotation, chroma at full resolution..., or any libjpeg warning) so the caller
// takes the decode path, which also says what is wrong with a damaged file.
std::optional<std::string> transform_jpeg(std::string_view bytes, int angle, bool gray);

// The output buffer transform_jpeg keeps for a width x height image (the most a transform of it
// can write), or 0 when that is over the size a thread keeps and the transform allocates its own.
std::size_t scratch_size(int width, int height);

}  // namespace pipewright::imaging::detail
