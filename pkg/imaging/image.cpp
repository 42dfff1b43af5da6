// Formats, errors, header probing and the container checks (no pixel is decoded here).

#include "pkg/imaging/image.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <string>

#include "pkg/imaging/internal.h"

namespace pipewright::imaging {

namespace {

constexpr int kMaxSide = 65535;

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::uint32_t byte_at(std::string_view b, std::size_t i) {
  return static_cast<unsigned char>(b[i]);
}
std::uint32_t be16(std::string_view b, std::size_t i) {
  return byte_at(b, i) << 8 | byte_at(b, i + 1);
}
std::uint32_t be32(std::string_view b, std::size_t i) {
  return be16(b, i) << 16 | be16(b, i + 2);
}
std::uint32_t le16(std::string_view b, std::size_t i) {
  return byte_at(b, i + 1) << 8 | byte_at(b, i);
}
std::uint32_t le24(std::string_view b, std::size_t i) {
  return byte_at(b, i + 2) << 16 | le16(b, i);
}
std::uint32_t le32(std::string_view b, std::size_t i) {
  return le16(b, i + 2) << 16 | le16(b, i);
}
std::int32_t le32s(std::string_view b, std::size_t i) {
  return static_cast<std::int32_t>(le32(b, i));
}

bool starts_with(std::string_view b, std::string_view magic, std::size_t at = 0) {
  return b.size() >= at + magic.size() && b.substr(at, magic.size()) == magic;
}

[[noreturn]] void truncated(const std::string& what) {
  detail::fail("truncated", "the image is truncated: " + what);
}
[[noreturn]] void corrupt(const std::string& what) {
  detail::fail("corrupt", "the image is corrupt: " + what);
}

std::string allowed_list(const std::vector<Format>& formats) {
  std::string out;
  for (Format f : formats)
    out += (out.empty() ? "" : ", ") + format_name(f);
  return out.empty() ? "none" : out;
}

// Image formats people upload that this pipeline doesn't take: named in the 415 message.
std::optional<std::string> other_image_format(std::string_view b) {
  if (starts_with(b, "GIF87a") || starts_with(b, "GIF89a")) return "GIF";
  if (starts_with(b, std::string_view("II*\0", 4)) || starts_with(b, std::string_view("MM\0*", 4)))
    return "TIFF";
  if (starts_with(b, "ftyp", 4) && b.size() >= 12) {
    std::string brand = lower(b.substr(8, 4));
    if (brand == "avif" || brand == "avis") return "AVIF";
    if (brand == "heic" || brand == "heix" || brand == "hevc" || brand == "heim" ||
        brand == "heis" || brand == "mif1" || brand == "msf1")
      return "HEIC/HEIF";
    if (brand == "jxl ") return "JPEG XL";
  }
  if (starts_with(b, "\xff\x0a") ||
      starts_with(b, std::string_view("\0\0\0\x0cJXL \r\n\x87\n", 12)))
    return "JPEG XL";
  if (starts_with(b, std::string_view("\0\0\0\x0cjP  \r\n\x87\n", 12)) ||
      starts_with(b, "\xff\x4f\xff\x51"))
    return "JPEG 2000";
  if (starts_with(b, "8BPS")) return "Photoshop (PSD)";
  if (starts_with(b, std::string_view("\0\0\1\0", 4)) && b.size() >= 6 && le16(b, 4) > 0)
    return "ICO";
  if (starts_with(b, "\x76\x2f\x31\x01")) return "OpenEXR";
  return std::nullopt;
}

ImageInfo probe_jpeg(std::string_view b) {
  // Walk the marker segments to the first SOFn, which holds the size.
  std::size_t i = 2;
  while (true) {
    while (i < b.size() && byte_at(b, i) != 0xFF)
      ++i;  // tolerate junk between segments
    while (i < b.size() && byte_at(b, i) == 0xFF)
      ++i;  // fill bytes
    if (i >= b.size()) truncated("JPEG ends before its frame header (SOF)");
    std::uint32_t marker = byte_at(b, i++);
    if (marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) continue;
    if (marker == 0xD9 || marker == 0xDA) corrupt("JPEG has no frame header (SOF) before its data");
    if (i + 2 > b.size()) truncated("JPEG ends inside a marker segment");
    std::uint32_t length = be16(b, i);
    if (length < 2) corrupt("JPEG marker segment has a length below 2");
    bool sof =
        marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    if (sof) {
      if (i + 7 > b.size()) truncated("JPEG ends inside its frame header (SOF)");
      if (marker == 0xC3 || marker == 0xC7 || marker == 0xCB || marker == 0xCF)
        detail::fail("unsupported_format",
                     "lossless JPEG (SOF" + std::to_string(marker - 0xC0) + ") is not supported");
      std::uint32_t precision = byte_at(b, i + 2);
      if (precision != 8)
        detail::fail("unsupported_format",
                     std::to_string(precision) + "-bit JPEG is not supported (8-bit only)");
      return {Format::jpeg, static_cast<int>(be16(b, i + 5)), static_cast<int>(be16(b, i + 3))};
    }
    i += length;
  }
}

ImageInfo probe_png(std::string_view b) {
  if (b.size() < 24) truncated("PNG ends before its IHDR chunk");
  if (b.substr(12, 4) != "IHDR") corrupt("PNG does not start with an IHDR chunk");
  std::uint32_t w = be32(b, 16);
  std::uint32_t h = be32(b, 20);
  if (w > 0x7FFFFFFF || h > 0x7FFFFFFF) corrupt("PNG IHDR size is out of range");
  return {Format::png, static_cast<int>(w), static_cast<int>(h)};
}

// The info header sizes Windows and OS/2 wrote; "BM" alone also starts plain text.
bool is_bmp_info_header(std::uint32_t size) {
  return size == 12 || size == 40 || size == 52 || size == 56 || size == 64 || size == 108 ||
         size == 124;
}

ImageInfo probe_bmp(std::string_view b) {
  if (b.size() < 26) truncated("BMP ends inside its headers");
  std::uint32_t header = le32(b, 14);
  if (header == 12)
    return {Format::bmp, static_cast<int>(le16(b, 18)), static_cast<int>(le16(b, 20))};
  std::int32_t w = le32s(b, 18);
  std::int32_t h = le32s(b, 22);
  if (w < 0 || h == INT32_MIN) corrupt("BMP has a negative width");
  return {Format::bmp, w, h < 0 ? -h : h};  // a negative height means top-down rows
}

ImageInfo probe_webp(std::string_view b) {
  if (b.size() < 30) truncated("WebP ends inside its headers");
  std::string_view chunk = b.substr(12, 4);
  if (chunk == "VP8 ") {
    if (b.substr(23, 3) != "\x9d\x01\x2a") corrupt("WebP VP8 frame has no start code");
    return {Format::webp, static_cast<int>(le16(b, 26) & 0x3FFF),
            static_cast<int>(le16(b, 28) & 0x3FFF)};
  }
  if (chunk == "VP8L") {
    if (byte_at(b, 20) != 0x2F) corrupt("WebP VP8L data has no signature");
    std::uint32_t bits = le32(b, 21);
    return {Format::webp, static_cast<int>((bits & 0x3FFF) + 1),
            static_cast<int>(((bits >> 14) & 0x3FFF) + 1)};
  }
  if (chunk == "VP8X") {
    if ((byte_at(b, 20) & 0x02) != 0)
      detail::fail("unsupported_format", "animated WebP is not supported");
    return {Format::webp, static_cast<int>(le24(b, 24) + 1), static_cast<int>(le24(b, 27) + 1)};
  }
  corrupt("WebP has no VP8, VP8L or VP8X chunk first");
}

void check_png(std::string_view b, bool verify_crc) {
  std::size_t i = 8;
  while (true) {
    if (i + 8 > b.size()) truncated("PNG has no IEND chunk");
    std::uint32_t length = be32(b, i);
    std::string type(b.substr(i + 4, 4));
    if (length > 0x7FFFFFFF) corrupt("PNG chunk " + type + " has an impossible length");
    if (i + 12 + length > b.size()) {
      truncated(type == "IEND" ? "PNG IEND chunk is cut off"
                               : "PNG chunk " + type + " is cut off and there is no IEND chunk");
    }
    // CRC over type and data: the one checksum PNG has, so damage anywhere is caught here.
    auto crc =
        verify_crc ? crc32(0, reinterpret_cast<const Bytef*>(b.data() + i + 4), length + 4) : 0;
    if (verify_crc && crc != be32(b, i + 8 + length))
      corrupt("PNG chunk " + type + " fails its CRC check");
    if (type == "IEND") return;
    i += 12 + length;
  }
}

void check_bmp(std::string_view b, const ImageInfo& info) {
  std::uint32_t offset = le32(b, 10);
  std::uint32_t header = le32(b, 14);
  // The fields below lie inside the info header (bpp at 28, compression at 30..33), which
  // probe_bmp only knew to start: a 26 to 33 byte file was read past its end.
  if (b.size() < 14 + std::uint64_t{header}) truncated("BMP ends inside its info header");
  if (offset > b.size()) truncated("BMP pixel data starts past the end of the file");
  std::uint32_t bpp = header == 12 ? le16(b, 24) : le16(b, 28);
  std::uint32_t compression = header == 12 ? 0 : le32(b, 30);
  if (compression == 1 || compression == 2) return;  // RLE: its size is only known by decoding
  if (compression != 0 && compression != 3 && compression != 6)
    detail::fail("unsupported_format", "BMP compression " + std::to_string(compression) +
                                           " (embedded JPEG/PNG) is not supported");
  if (bpp == 0 || bpp > 32) corrupt("BMP has " + std::to_string(bpp) + " bits per pixel");
  std::uint64_t stride = (static_cast<std::uint64_t>(info.width) * bpp + 31) / 32 * 4;
  std::uint64_t need = offset + stride * static_cast<std::uint64_t>(info.height);
  if (need > b.size()) {
    truncated("BMP pixel data needs " + std::to_string(need) + " bytes, the file has " +
              std::to_string(b.size()));
  }
}

void check_webp(std::string_view b) {
  std::uint64_t riff = le32(b, 4);
  if (riff + 8 > b.size()) {
    truncated("WebP RIFF header says " + std::to_string(riff + 8) + " bytes, the file has " +
              std::to_string(b.size()));
  }
  std::size_t i = 12;
  std::size_t end = riff + 8;
  while (i < end) {
    if (i + 8 > end) corrupt("WebP chunk header runs past the RIFF size");
    std::uint64_t size = le32(b, i + 4);
    if (i + 8 + size > end) truncated("WebP chunk " + std::string(b.substr(i, 4)) + " is cut off");
    i += 8 + size + (size & 1);
  }
}

}  // namespace

namespace detail {

void fail(std::string_view reason, const std::string& message) {
  int status = 400;
  if (reason == "unsupported_format") status = 415;
  if (reason == "too_many_pixels") status = 413;
  throw ImageError(std::string(reason), status, message);
}

ImageInfo check_header(std::string_view bytes, const Limits& limits) {
  ImageInfo info = probe(bytes);
  if (std::find(limits.formats.begin(), limits.formats.end(), info.format) ==
      limits.formats.end()) {
    fail("unsupported_format",
         format_name(info.format) +
             " images are not accepted here (allowed: " + allowed_list(limits.formats) + ")");
  }
  // Pixels first: a bomb claiming 100000x100000 is refused as too many pixels.
  std::int64_t pixels = static_cast<std::int64_t>(info.width) * info.height;
  if (pixels > limits.max_pixels) {
    fail("too_many_pixels", "the image has " + std::to_string(pixels) + " pixels (" +
                                std::to_string(info.width) + "x" + std::to_string(info.height) +
                                "); the limit is " + std::to_string(limits.max_pixels));
  }
  if (info.width < 1 || info.height < 1 || info.width > kMaxSide || info.height > kMaxSide) {
    fail("too_large_dimensions", "the image claims to be " + std::to_string(info.width) + "x" +
                                     std::to_string(info.height) +
                                     "; width and height must be between 1 and 65535");
  }
  return info;
}

void check_container(std::string_view bytes, const ImageInfo& info, bool verify_checksums) {
  switch (info.format) {
    case Format::jpeg:
      return;
    case Format::png:
      return check_png(bytes, verify_checksums);
    case Format::bmp:
      return check_bmp(bytes, info);
    case Format::webp:
      return check_webp(bytes);
  }
}

bool webp_is_lossless(std::string_view b) {
  std::size_t i = 12;
  while (i + 8 <= b.size()) {
    std::string_view id = b.substr(i, 4);
    if (id == "VP8L") return true;
    if (id == "VP8 ") return false;
    i += 8 + le32(b, i + 4) + (le32(b, i + 4) & 1);
  }
  return false;
}

}  // namespace detail

std::string format_name(Format format) {
  switch (format) {
    case Format::jpeg:
      return "jpeg";
    case Format::png:
      return "png";
    case Format::bmp:
      return "bmp";
    case Format::webp:
      return "webp";
  }
  return "unknown";
}

std::optional<Format> parse_format(std::string_view name) {
  std::string n = lower(name);
  if (n == "jpeg" || n == "jpg") return Format::jpeg;
  if (n == "png") return Format::png;
  if (n == "bmp") return Format::bmp;
  if (n == "webp") return Format::webp;
  return std::nullopt;
}

std::string extension(Format format) {
  return format == Format::jpeg ? "jpg" : format_name(format);
}

bool extension_matches(std::string_view ext, Format format) {
  std::string e = lower(ext);
  switch (format) {
    case Format::jpeg:
      return e == "jpg" || e == "jpeg" || e == "jpe" || e == "jfif";
    case Format::png:
      return e == "png";
    case Format::bmp:
      return e == "bmp" || e == "dib";
    case Format::webp:
      return e == "webp";
  }
  return false;
}

ImageInfo probe(std::string_view bytes) {
  if (bytes.empty()) detail::fail("empty", "the file is empty");
  if (starts_with(bytes, "\xff\xd8\xff")) return probe_jpeg(bytes);
  if (starts_with(bytes, "\x89PNG\r\n\x1a\n")) return probe_png(bytes);
  if (starts_with(bytes, "BM") && bytes.size() >= 18 && is_bmp_info_header(le32(bytes, 14)))
    return probe_bmp(bytes);
  if (starts_with(bytes, "RIFF") && starts_with(bytes, "WEBP", 8)) return probe_webp(bytes);
  if (auto other = other_image_format(bytes)) {
    detail::fail("unsupported_format",
                 *other + " images are not supported (jpeg, png, bmp and webp are)");
  }
  detail::fail("not_an_image",
               "the file is not an image: it has no JPEG, PNG, BMP or WebP signature");
}

}  // namespace pipewright::imaging
