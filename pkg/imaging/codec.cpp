// Decoding, encoding and the operations. JPEG goes through libjpeg directly (cv::imdecode
// hides libjpeg's warnings, so a truncated JPEG would come back half grey) and TurboJPEG for
// the lossless transforms; PNG, BMP and WebP go through OpenCV after their container check.

// jpeglib.h needs size_t and FILE declared before it.
#include <cstddef>
#include <cstdio>
// clang-format off
#include <jpeglib.h>
#include <jerror.h>
// clang-format on
#include <turbojpeg.h>

#include <algorithm>
#include <array>
#include <csetjmp>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <optional>
#include <stdexcept>
#include <tuple>
#include <utility>
#include <vector>

#include "pkg/imaging/image.h"
#include "pkg/imaging/internal.h"

namespace pipewright::imaging {

namespace {

constexpr int kJpegQuality = 92;
constexpr int kWebpLossyQuality = 90;
constexpr int kMaxProgressiveScans = 500;  // libjpeg-turbo's advice against scan-bomb files

// libjpeg reports through these callbacks; the first damage stops the decode at once.
struct JpegErrors {
  jpeg_error_mgr mgr{};
  jpeg_progress_mgr progress{};
  std::jmp_buf jump{};
  bool is_truncated = false;
  std::array<char, JMSG_LENGTH_MAX> message{};
};

JpegErrors* errors_of(j_common_ptr cinfo) {
  // mgr is the first member, so libjpeg's pointer to it is a pointer to the whole struct.
  return reinterpret_cast<JpegErrors*>(cinfo->err);
}

[[noreturn]] void stop_jpeg(j_common_ptr cinfo) {
  JpegErrors* errors = errors_of(cinfo);
  errors->is_truncated = cinfo->err->msg_code == JWRN_JPEG_EOF;
  (*cinfo->err->format_message)(cinfo, errors->message.data());
  std::longjmp(errors->jump, 1);
}

void on_jpeg_message(j_common_ptr cinfo, int level) {
  if (level >= 0) return;  // trace messages
  // Warnings that leave the pixels whole (stray bytes between segments, odd metadata) pass;
  // the rest mean damaged data that libjpeg would paper over with grey.
  switch (cinfo->err->msg_code) {
    case JWRN_EXTRANEOUS_DATA:
    case JWRN_ADOBE_XFORM:
    case JWRN_BOGUS_ICC:
    case JWRN_JFIF_MAJOR:
      cinfo->err->num_warnings++;
      return;
    default:
      stop_jpeg(cinfo);
  }
}

void on_jpeg_progress(j_common_ptr cinfo) {
  auto* dinfo = reinterpret_cast<j_decompress_ptr>(cinfo);
  if (dinfo->input_scan_number > kMaxProgressiveScans) {
    JpegErrors* errors = errors_of(cinfo);
    std::snprintf(errors->message.data(), errors->message.size(), "more than %d progressive scans",
                  kMaxProgressiveScans);
    std::longjmp(errors->jump, 1);
  }
}

// Adobe's inverted CMYK to BGR, as OpenCV does it.
cv::Mat cmyk_to_bgr(const cv::Mat& cmyk) {
  cv::Mat bgr(cmyk.rows, cmyk.cols, CV_8UC3);
  for (int y = 0; y < cmyk.rows; ++y) {
    const unsigned char* in = cmyk.ptr(y);
    unsigned char* out = bgr.ptr(y);
    for (int x = 0; x < cmyk.cols; ++x, in += 4, out += 3) {
      int k = in[3];
      out[2] = static_cast<unsigned char>(k - ((255 - in[0]) * k >> 8));
      out[1] = static_cast<unsigned char>(k - ((255 - in[1]) * k >> 8));
      out[0] = static_cast<unsigned char>(k - ((255 - in[2]) * k >> 8));
    }
  }
  return bgr;
}

// The libjpeg calls between setjmp and a possible longjmp; only plain data lives in this
// frame, so the jump skips no destructor. False when libjpeg stopped.
bool run_jpeg_decode(jpeg_decompress_struct* cinfo, JpegErrors* errors, std::string_view bytes,
                     bool gray, cv::Mat* out) {
  if (setjmp(errors->jump) != 0) return false;
  jpeg_mem_src(cinfo, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  jpeg_read_header(cinfo, TRUE);
  bool cmyk = cinfo->jpeg_color_space == JCS_CMYK || cinfo->jpeg_color_space == JCS_YCCK;
  cinfo->out_color_space = cmyk ? JCS_CMYK : gray ? JCS_GRAYSCALE : JCS_EXT_BGR;
  jpeg_start_decompress(cinfo);
  out->create(static_cast<int>(cinfo->output_height), static_cast<int>(cinfo->output_width),
              CV_8UC(cinfo->output_components));
  std::array<JSAMPROW, 16> rows{};
  while (cinfo->output_scanline < cinfo->output_height) {
    JDIMENSION n = std::min<JDIMENSION>(16, cinfo->output_height - cinfo->output_scanline);
    for (JDIMENSION r = 0; r < n; ++r)
      rows[r] = out->ptr(static_cast<int>(cinfo->output_scanline + r));
    jpeg_read_scanlines(cinfo, rows.data(), n);
  }
  jpeg_finish_decompress(cinfo);
  return true;
}

// Output rows 0.. of `src` turned clockwise by `angle` (0, 90, 180, 270), written into
// `strip` (rows `stride` bytes apart): the rotation happens strip by strip while encoding, so
// the rotated image never exists whole and the strip stays in cache.
template <std::size_t N>
void fill_strip(const cv::Mat& src, int angle, int first, int count, unsigned char* strip,
                std::size_t stride) {
  const int w = src.cols;
  const int h = src.rows;
  if (angle == 90) {  // output (r, c) = source (h-1-c, r)
    for (int y = 0; y < h; ++y) {
      const unsigned char* s = src.ptr(y) + static_cast<std::size_t>(first) * N;
      unsigned char* d = strip + static_cast<std::size_t>(h - 1 - y) * N;
      for (int k = 0; k < count; ++k)
        std::memcpy(d + k * stride, s + k * N, N);
    }
  } else if (angle == 270) {  // output (r, c) = source (c, w-1-r)
    for (int y = 0; y < h; ++y) {
      const unsigned char* s = src.ptr(y) + static_cast<std::size_t>(w - 1 - first) * N;
      unsigned char* d = strip + static_cast<std::size_t>(y) * N;
      for (int k = 0; k < count; ++k)
        std::memcpy(d + k * stride, s - k * N, N);
    }
  } else {  // 180: output (r, c) = source (h-1-r, w-1-c)
    for (int k = 0; k < count; ++k) {
      const unsigned char* s = src.ptr(h - 1 - first - k) + static_cast<std::size_t>(w - 1) * N;
      unsigned char* d = strip + k * stride;
      for (int x = 0; x < w; ++x, s -= N, d += N)
        std::memcpy(d, s, N);
    }
  }
}

constexpr int kStripRows = 256;

// libjpeg's compressor fed straight from BGR or gray rows (cv::imencode copies and converts
// each row first), the same settings as cv::imencode: 4:2:0, no Huffman optimisation.
bool run_jpeg_encode(jpeg_compress_struct* cinfo, JpegErrors* errors, const cv::Mat& src, int angle,
                     unsigned char* strip, unsigned char** out,
                     unsigned long* out_size) {  // NOLINT(google-runtime-int)
  if (setjmp(errors->jump) != 0) return false;
  const bool turned = angle == 90 || angle == 270;
  jpeg_mem_dest(cinfo, out, out_size);
  cinfo->image_width = static_cast<JDIMENSION>(turned ? src.rows : src.cols);
  cinfo->image_height = static_cast<JDIMENSION>(turned ? src.cols : src.rows);
  cinfo->input_components = src.channels();
  cinfo->in_color_space = src.channels() == 1 ? JCS_GRAYSCALE : JCS_EXT_BGR;
  jpeg_set_defaults(cinfo);
  jpeg_set_quality(cinfo, kJpegQuality, TRUE);
  jpeg_start_compress(cinfo, TRUE);
  const std::size_t stride = static_cast<std::size_t>(cinfo->image_width) * src.elemSize();
  std::array<JSAMPROW, kStripRows> rows{};
  while (cinfo->next_scanline < cinfo->image_height) {
    const int first = static_cast<int>(cinfo->next_scanline);
    const int n = std::min(kStripRows, static_cast<int>(cinfo->image_height) - first);
    if (angle == 0) {
      for (int r = 0; r < n; ++r)
        rows[r] = const_cast<unsigned char*>(src.ptr(first + r));
    } else {
      if (src.channels() == 1) fill_strip<1>(src, angle, first, n, strip, stride);
      if (src.channels() == 3) fill_strip<3>(src, angle, first, n, strip, stride);
      for (int r = 0; r < n; ++r)
        rows[r] = strip + r * stride;
    }
    jpeg_write_scanlines(cinfo, rows.data(), static_cast<JDIMENSION>(n));
  }
  jpeg_finish_compress(cinfo);
  return true;
}

// `src` (8-bit gray or BGR) turned clockwise by `angle` and encoded as JPEG.
std::string encode_jpeg(const cv::Mat& src, int angle) {
  jpeg_compress_struct cinfo{};
  JpegErrors errors;
  cinfo.err = jpeg_std_error(&errors.mgr);
  errors.mgr.error_exit = stop_jpeg;
  jpeg_create_compress(&cinfo);
  std::vector<unsigned char> strip(
      angle == 0
          ? 0
          : kStripRows * static_cast<std::size_t>(std::max(src.rows, src.cols)) * src.elemSize());
  unsigned char* out = nullptr;
  unsigned long out_size = 0;  // NOLINT(google-runtime-int): libjpeg's type
  bool ok = run_jpeg_encode(&cinfo, &errors, src, angle, strip.data(), &out, &out_size);
  jpeg_destroy_compress(&cinfo);
  std::unique_ptr<unsigned char, void (*)(void*)> owned(out, std::free);
  if (!ok) throw std::runtime_error(std::string("JPEG encoding failed: ") + errors.message.data());
  return {reinterpret_cast<const char*>(out), out_size};
}

// A quarter turn in one pass, 64x64 tiles walked in destination order so writes are
// sequential and reads stay in cache: the pixels of cv::rotate, which transposes and then flips
// (two passes over the image).
template <std::size_t N>
void quarter_turn(const cv::Mat& src, cv::Mat& dst, bool clockwise) {
  constexpr int kTile = 64;
  const int w = src.cols;
  const int h = src.rows;
  const auto step = static_cast<std::ptrdiff_t>(src.step);
  for (int bx = 0; bx < w; bx += kTile) {
    for (int by = 0; by < h; by += kTile) {
      const int ex = std::min(bx + kTile, w);
      const int ey = std::min(by + kTile, h);
      for (int x = bx; x < ex; ++x) {
        if (clockwise) {  // destination row x, columns h-ey.., from source rows ey-1 down to by
          unsigned char* d = dst.ptr(x) + static_cast<std::size_t>(h - ey) * N;
          const unsigned char* s = src.ptr(ey - 1) + static_cast<std::size_t>(x) * N;
          for (int y = ey - 1; y >= by; --y, s -= step, d += N)
            std::memcpy(d, s, N);
        } else {  // destination row w-1-x, columns by.., from source rows by up to ey-1
          unsigned char* d = dst.ptr(w - 1 - x) + static_cast<std::size_t>(by) * N;
          const unsigned char* s = src.ptr(by) + static_cast<std::size_t>(x) * N;
          for (int y = by; y < ey; ++y, s += step, d += N)
            std::memcpy(d, s, N);
        }
      }
    }
  }
}

cv::Mat rotated(const cv::Mat& src, int angle) {
  if (angle == 180) {
    cv::Mat dst;
    cv::rotate(src, dst, cv::ROTATE_180);  // one pass already
    return dst;
  }
  cv::Mat dst(src.cols, src.rows, src.type());
  const bool cw = angle == 90;
  switch (src.elemSize()) {
    case 1:
      quarter_turn<1>(src, dst, cw);
      break;
    case 2:
      quarter_turn<2>(src, dst, cw);
      break;
    case 3:
      quarter_turn<3>(src, dst, cw);
      break;
    case 4:
      quarter_turn<4>(src, dst, cw);
      break;
    case 6:
      quarter_turn<6>(src, dst, cw);
      break;
    case 8:
      quarter_turn<8>(src, dst, cw);
      break;
    default:
      cv::rotate(src, dst, cw ? cv::ROTATE_90_CLOCKWISE : cv::ROTATE_90_COUNTERCLOCKWISE);
  }
  return dst;
}

// Row pointers for one iMCU row of up to three planes (at most 2 blocks of 8 rows each).
constexpr std::size_t kMaxPlaneRows = 16;
using PlaneRows = std::array<std::array<JSAMPROW, kMaxPlaneRows>, 3>;

// The JPEG's planes as libjpeg holds them (Y, Cb, Cr at their own resolution), padded to
// whole MCUs. Rotating these skips colour conversion and chroma resampling on both sides.
struct Planes {
  int width = 0;
  int height = 0;
  int max_h = 1;
  int max_v = 1;
  std::vector<cv::Mat> planes;
  std::vector<int> h, v;
  // The samples of plane i that belong to the image (the rest is padding).
  cv::Size valid(std::size_t i) const {
    return {(width * h[i] + max_h - 1) / max_h, (height * v[i] + max_v - 1) / max_v};
  }
  void allocate() {
    const int mcus_x = (width + max_h * DCTSIZE - 1) / (max_h * DCTSIZE);
    const int mcus_y = (height + max_v * DCTSIZE - 1) / (max_v * DCTSIZE);
    planes.clear();
    for (std::size_t i = 0; i < h.size(); ++i) {
      planes.emplace_back(mcus_y * v[i] * DCTSIZE, mcus_x * h[i] * DCTSIZE, CV_8UC1);
    }
  }
  // Row pointers for iMCU row `imcu`, as jpeg_read_raw_data and jpeg_write_raw_data take them.
  void rows_of(int imcu, PlaneRows& rows, std::array<JSAMPARRAY, 3>& arrays) {
    for (std::size_t i = 0; i < planes.size(); ++i) {
      for (int r = 0; r < v[i] * DCTSIZE; ++r)
        rows[i][r] = planes[i].ptr(imcu * v[i] * DCTSIZE + r);
      arrays[i] = rows[i].data();
    }
  }
};

// Plain 4:2:0 or 4:4:4 YCbCr, or gray, and (for subsampled chroma) the axis the rotation
// reverses a whole number of chroma samples long, so chroma stays sited on its luma pixels.
bool planes_fit(const jpeg_decompress_struct* cinfo, int angle) {
  const jpeg_component_info* c = cinfo->comp_info;
  if (cinfo->num_components == 1) {
    return cinfo->jpeg_color_space == JCS_GRAYSCALE && c[0].h_samp_factor == 1 &&
           c[0].v_samp_factor == 1;
  }
  if (cinfo->num_components != 3 || cinfo->jpeg_color_space != JCS_YCbCr) return false;
  const int s = c[0].h_samp_factor;
  if ((s != 1 && s != 2) || c[0].v_samp_factor != s) return false;
  for (int i = 1; i < 3; ++i) {
    if (c[i].h_samp_factor != 1 || c[i].v_samp_factor != 1) return false;
  }
  const bool rows_whole = cinfo->image_height % static_cast<unsigned>(s) == 0;
  const bool cols_whole = cinfo->image_width % static_cast<unsigned>(s) == 0;
  if (angle == 90) return rows_whole;
  if (angle == 270) return cols_whole;
  return rows_whole && cols_whole;
}

bool run_planes_decode(jpeg_decompress_struct* cinfo, JpegErrors* errors, std::string_view bytes,
                       int angle, bool* fits, Planes* out) {
  if (setjmp(errors->jump) != 0) return false;
  jpeg_mem_src(cinfo, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  jpeg_read_header(cinfo, TRUE);
  *fits = planes_fit(cinfo, angle);
  if (!*fits) return true;
  cinfo->raw_data_out = TRUE;
  jpeg_start_decompress(cinfo);
  out->width = static_cast<int>(cinfo->image_width);
  out->height = static_cast<int>(cinfo->image_height);
  out->max_h = cinfo->max_h_samp_factor;
  out->max_v = cinfo->max_v_samp_factor;
  for (int i = 0; i < cinfo->num_components; ++i) {
    out->h.push_back(cinfo->comp_info[i].h_samp_factor);
    out->v.push_back(cinfo->comp_info[i].v_samp_factor);
  }
  out->allocate();
  PlaneRows rows{};
  std::array<JSAMPARRAY, 3> arrays{};
  const auto lines = static_cast<JDIMENSION>(out->max_v * DCTSIZE);
  while (cinfo->output_scanline < cinfo->output_height) {
    out->rows_of(static_cast<int>(cinfo->output_scanline / lines), rows, arrays);
    jpeg_read_raw_data(cinfo, arrays.data(), lines);
  }
  jpeg_finish_decompress(cinfo);
  return true;
}

bool run_planes_encode(jpeg_compress_struct* cinfo, JpegErrors* errors, Planes* in,
                       unsigned char** out,
                       unsigned long* out_size) {  // NOLINT(google-runtime-int)
  if (setjmp(errors->jump) != 0) return false;
  jpeg_mem_dest(cinfo, out, out_size);
  cinfo->image_width = static_cast<JDIMENSION>(in->width);
  cinfo->image_height = static_cast<JDIMENSION>(in->height);
  cinfo->input_components = static_cast<int>(in->planes.size());
  cinfo->in_color_space = in->planes.size() == 1 ? JCS_GRAYSCALE : JCS_YCbCr;
  jpeg_set_defaults(cinfo);
  jpeg_set_quality(cinfo, kJpegQuality, TRUE);
  cinfo->raw_data_in = TRUE;
  for (std::size_t i = 0; i < in->planes.size(); ++i) {
    cinfo->comp_info[i].h_samp_factor = in->h[i];
    cinfo->comp_info[i].v_samp_factor = in->v[i];
  }
  jpeg_start_compress(cinfo, TRUE);
  PlaneRows rows{};
  std::array<JSAMPARRAY, 3> arrays{};
  const auto lines = static_cast<JDIMENSION>(in->max_v * DCTSIZE);
  while (cinfo->next_scanline < cinfo->image_height) {
    in->rows_of(static_cast<int>(cinfo->next_scanline / lines), rows, arrays);
    jpeg_write_raw_data(cinfo, arrays.data(), lines);
  }
  jpeg_finish_compress(cinfo);
  return true;
}

cv::Mat rotated(const cv::Mat& src, int angle);

// Rotates each plane's samples and repeats the edge ones into the padding (which only costs
// bits, so the edge keeps them low).
Planes rotated_planes(const Planes& in, int angle) {
  Planes out = in;
  if (angle != 180) {
    std::swap(out.width, out.height);
    std::swap(out.max_h, out.max_v);
    std::swap(out.h, out.v);
  }
  out.allocate();
  for (std::size_t i = 0; i < in.planes.size(); ++i) {
    const cv::Size from = in.valid(i);
    const cv::Size to = out.valid(i);
    cv::Mat turned = rotated(in.planes[i](cv::Rect({0, 0}, from)), angle);
    cv::Mat& p = out.planes[i];
    turned.copyTo(p(cv::Rect({0, 0}, to)));
    for (int y = 0; y < to.height; ++y) {
      unsigned char* row = p.ptr(y);
      std::memset(row + to.width, row[to.width - 1], static_cast<std::size_t>(p.cols - to.width));
    }
    for (int y = to.height; y < p.rows; ++y)
      p.row(to.height - 1).copyTo(p.row(y));
  }
  return out;
}

// The decode, rotate, encode path on the planes; nullopt when the JPEG's layout doesn't fit
// (planes_fit), damage as ImageError like decode_jpeg.
std::optional<std::string> rotate_jpeg_planes(std::string_view bytes, int angle) {
  Planes planes;
  {
    jpeg_decompress_struct cinfo{};
    JpegErrors errors;
    cinfo.err = jpeg_std_error(&errors.mgr);
    errors.mgr.error_exit = stop_jpeg;
    errors.mgr.emit_message = on_jpeg_message;
    jpeg_create_decompress(&cinfo);
    errors.progress.progress_monitor = on_jpeg_progress;
    cinfo.progress = &errors.progress;
    bool fits = false;
    bool ok = run_planes_decode(&cinfo, &errors, bytes, angle, &fits, &planes);
    jpeg_destroy_decompress(&cinfo);
    if (!ok) {
      if (errors.is_truncated)
        detail::fail("truncated", "the image is truncated: JPEG data ends early");
      detail::fail("corrupt", std::string("the image is corrupt: ") + errors.message.data());
    }
    if (!fits) return std::nullopt;
  }
  Planes turned = rotated_planes(planes, angle);
  planes = Planes();  // give the memory back before encoding
  jpeg_compress_struct cinfo{};
  JpegErrors errors;
  cinfo.err = jpeg_std_error(&errors.mgr);
  errors.mgr.error_exit = stop_jpeg;
  jpeg_create_compress(&cinfo);
  unsigned char* out = nullptr;
  unsigned long out_size = 0;  // NOLINT(google-runtime-int): libjpeg's type
  bool ok = run_planes_encode(&cinfo, &errors, &turned, &out, &out_size);
  jpeg_destroy_compress(&cinfo);
  std::unique_ptr<unsigned char, void (*)(void*)> owned(out, std::free);
  if (!ok) throw std::runtime_error(std::string("JPEG encoding failed: ") + errors.message.data());
  return std::string(reinterpret_cast<const char*>(out), out_size);
}

// Output buffers up to this size are kept between transforms (per thread); bigger images get
// one of their own, so a thread never holds more than this after a large image.
constexpr std::size_t kKeptTransformBuffer = std::size_t{16} << 20;

// A TurboJPEG transform handle and the output buffer it writes into, reused.
struct TjScratch {
  tjhandle handle = tjInitTransform();
  unsigned char* buffer = nullptr;
  std::size_t capacity = 0;
  TjScratch() = default;
  TjScratch(const TjScratch&) = delete;
  TjScratch& operator=(const TjScratch&) = delete;
  ~TjScratch() {
    tjFree(buffer);
    if (handle != nullptr) tjDestroy(handle);
  }
  // A buffer of at least `size` bytes, or null when it can't be had.
  unsigned char* reserve(std::size_t size) {
    if (size > capacity) {
      tjFree(buffer);
      buffer = tjAlloc(static_cast<int>(size));
      capacity = buffer == nullptr ? 0 : size;
    }
    return buffer;
  }
};

}  // namespace

namespace detail {

std::size_t scratch_size(int width, int height) {
  // The largest baseline JPEG of either orientation at full-resolution chroma: what a transform
  // of this image can write (TJFLAG_NOREALLOC needs it); 0 when over the kept size.
  constexpr auto kError = static_cast<unsigned long>(-1);  // NOLINT(google-runtime-int)
  const auto a = tjBufSize(width, height, TJSAMP_444);
  const auto b = tjBufSize(height, width, TJSAMP_444);
  if (a == kError || b == kError) return 0;
  const std::size_t size = std::max(a, b);
  return size <= kKeptTransformBuffer ? size : 0;
}

}  // namespace detail

namespace {

ImageError refused_by_opencv(const ImageInfo& info) {
  return {"corrupt", 400,
          "the image is corrupt: its " + format_name(info.format) + " pixel data does not decode"};
}

// verify_checksums: PNG chunk CRCs, for validate(); the operations leave them to libpng,
// which checks those of the chunks it needs as it reads them.
cv::Mat decode(std::string_view bytes, const ImageInfo& info, bool gray, bool verify_checksums) {
  if (info.format == Format::jpeg) {
    cv::Mat m = detail::decode_jpeg(bytes, gray);
    if (m.channels() == 4) {  // CMYK
      m = cmyk_to_bgr(m);
      if (gray) cv::cvtColor(m, m, cv::COLOR_BGR2GRAY);
    }
    return m;
  }
  detail::check_container(bytes, info, verify_checksums);
  // UNCHANGED keeps alpha, 16-bit depth and gray PNGs as they are and reads no EXIF. Gray is
  // made by cv::cvtColor afterwards: SIMD, unlike libpng's own rgb-to-gray.
  cv::Mat buf(1, static_cast<int>(bytes.size()), CV_8UC1, const_cast<char*>(bytes.data()));
  cv::Mat m = cv::imdecode(buf, cv::IMREAD_UNCHANGED);
  if (m.empty()) throw refused_by_opencv(info);
  if (gray && m.channels() == 3) cv::cvtColor(m, m, cv::COLOR_BGR2GRAY);
  if (gray && m.channels() == 4) cv::cvtColor(m, m, cv::COLOR_BGRA2GRAY);
  if (gray && m.channels() == 2) cv::extractChannel(m, m, 0);
  return m;
}

std::string encode(const cv::Mat& m, const ImageInfo& info, std::string_view original) {
  std::vector<int> params;
  std::string ext;
  switch (info.format) {
    case Format::jpeg:
      return encode_jpeg(m, 0);
    case Format::png:
      ext = ".png";
      break;
    case Format::bmp:
      ext = ".bmp";
      break;
    case Format::webp:
      ext = ".webp";
      // Quality above 100 is OpenCV's switch to lossless.
      params = {cv::IMWRITE_WEBP_QUALITY,
                detail::webp_is_lossless(original) ? 101 : kWebpLossyQuality};
      break;
  }
  std::vector<unsigned char> out;
  if (!cv::imencode(ext, m, out, params)) {
    throw std::runtime_error("OpenCV could not encode the result as " + format_name(info.format));
  }
  return {out.begin(), out.end()};
}

void check_angle(int angle) {
  if (angle != 90 && angle != 180 && angle != 270) {
    throw std::invalid_argument("rotation angle must be 90, 180 or 270 (clockwise), not " +
                                std::to_string(angle));
  }
}

}  // namespace

namespace detail {

cv::Mat decode_jpeg(std::string_view bytes, bool gray) {
  jpeg_decompress_struct cinfo{};
  JpegErrors errors;
  cinfo.err = jpeg_std_error(&errors.mgr);
  errors.mgr.error_exit = stop_jpeg;
  errors.mgr.emit_message = on_jpeg_message;
  jpeg_create_decompress(&cinfo);
  errors.progress.progress_monitor = on_jpeg_progress;
  cinfo.progress = &errors.progress;
  cv::Mat out;
  bool ok = run_jpeg_decode(&cinfo, &errors, bytes, gray, &out);
  jpeg_destroy_decompress(&cinfo);
  if (!ok) {
    if (errors.is_truncated) fail("truncated", "the image is truncated: JPEG data ends early");
    fail("corrupt", std::string("the image is corrupt: ") + errors.message.data());
  }
  return out;
}

// Entropy decoding only: every coefficient of every scan read, no IDCT, upsampling or colour
// conversion. Every libjpeg warning that means damage (data ending early, a bad Huffman code, a
// marker inside entropy-coded data, lost restart sync) comes from the input side that this
// runs in full; the output side computes pixels from whatever coefficients it is given and has
// nothing to report. So it refuses exactly what a full decode refuses, at about half the cost.
bool run_jpeg_check(jpeg_decompress_struct* cinfo, JpegErrors* errors, std::string_view bytes) {
  if (setjmp(errors->jump) != 0) return false;
  jpeg_mem_src(cinfo, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  jpeg_read_header(cinfo, TRUE);
  jpeg_read_coefficients(cinfo);
  jpeg_finish_decompress(cinfo);
  return true;
}

std::pair<int, int> check_jpeg(std::string_view bytes) {
  jpeg_decompress_struct cinfo{};
  JpegErrors errors;
  cinfo.err = jpeg_std_error(&errors.mgr);
  errors.mgr.error_exit = stop_jpeg;
  errors.mgr.emit_message = on_jpeg_message;
  jpeg_create_decompress(&cinfo);
  errors.progress.progress_monitor = on_jpeg_progress;
  cinfo.progress = &errors.progress;
  const bool ok = run_jpeg_check(&cinfo, &errors, bytes);
  const std::pair<int, int> size{static_cast<int>(cinfo.image_width),
                                 static_cast<int>(cinfo.image_height)};
  jpeg_destroy_decompress(&cinfo);
  if (!ok) {
    if (errors.is_truncated) fail("truncated", "the image is truncated: JPEG data ends early");
    fail("corrupt", std::string("the image is corrupt: ") + errors.message.data());
  }
  return size;
}

std::optional<std::string> transform_jpeg(std::string_view bytes, int angle, bool gray) {
  // The handle and the output buffer outlive the call, one of each per thread: TurboJPEG would
  // otherwise allocate a worst-case buffer (tjBufSize, about 6 bytes a pixel) and fault its
  // pages in for every image, which measured 7-14% of a 0.3 MP transform's CPU.
  thread_local TjScratch scratch;
  if (scratch.handle == nullptr) return std::nullopt;
  tjtransform xf{};
  xf.op = angle == 90    ? TJXOP_ROT90
          : angle == 180 ? TJXOP_ROT180
          : angle == 270 ? TJXOP_ROT270
                         : TJXOP_NONE;
  xf.options = TJXOPT_PERFECT | TJXOPT_COPYNONE | (gray ? TJXOPT_GRAY : 0);
  const ImageInfo info = probe(bytes);
  unsigned long out_size = scratch_size(info.width, info.height);  // NOLINT(google-runtime-int)
  int flags = TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS;
  unsigned char* out = nullptr;
  std::unique_ptr<unsigned char, void (*)(unsigned char*)> owned(nullptr, tjFree);
  if (out_size > 0) {
    out = scratch.reserve(out_size);
    if (out != nullptr) flags |= TJFLAG_NOREALLOC;
  }
  if (out == nullptr) out_size = 0;  // too big to keep: TurboJPEG allocates, freed below
  const int rc = tjTransform(scratch.handle, reinterpret_cast<const unsigned char*>(bytes.data()),
                             bytes.size(), 1, &out, &out_size, &xf, flags);
  if ((flags & TJFLAG_NOREALLOC) == 0) owned.reset(out);
  if (rc != 0 || out == nullptr) return std::nullopt;
  return std::string(reinterpret_cast<const char*>(out), out_size);
}

}  // namespace detail

ImageInfo validate(std::string_view bytes, const Limits& limits) {
  ImageInfo info = detail::check_header(bytes, limits);
  int width = 0;
  int height = 0;
  if (info.format == Format::jpeg) {
    std::tie(width, height) = detail::check_jpeg(bytes);
  } else {
    const cv::Mat pixels = decode(bytes, info, false, true);
    width = pixels.cols;
    height = pixels.rows;
  }
  if (width != info.width || height != info.height) {
    detail::fail("corrupt", "the image is corrupt: its header says " + std::to_string(info.width) +
                                "x" + std::to_string(info.height) + ", its pixels are " +
                                std::to_string(width) + "x" + std::to_string(height));
  }
  return info;
}

std::string rotate(std::string_view bytes, int angle_clockwise, const Limits& limits) {
  check_angle(angle_clockwise);
  ImageInfo info = detail::check_header(bytes, limits);
  if (info.format == Format::jpeg) {
    if (auto lossless = detail::transform_jpeg(bytes, angle_clockwise, false)) return *lossless;
    if (auto planar = rotate_jpeg_planes(bytes, angle_clockwise)) return *planar;
  }
  cv::Mat pixels = decode(bytes, info, false, false);
  if (info.format == Format::jpeg) return encode_jpeg(pixels, angle_clockwise);
  return encode(rotated(pixels, angle_clockwise), info, bytes);
}

std::string grayscale(std::string_view bytes, const Limits& limits) {
  ImageInfo info = detail::check_header(bytes, limits);
  if (info.format == Format::jpeg) {
    if (auto lossless = detail::transform_jpeg(bytes, 0, true)) return *lossless;
  }
  return encode(decode(bytes, info, true, false), info, bytes);
}

}  // namespace pipewright::imaging
