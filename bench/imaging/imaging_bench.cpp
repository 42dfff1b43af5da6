// bench/imaging: imaging::rotate and imaging::grayscale against OpenCV decode + encode alone
// (cv::imdecode + cv::imencode with the same settings) in the same run, on photo-like images
// (gradients, grain, shapes, a blur) of 0.3, 3 and 12 megapixels, JPEG and PNG. Targets:
// rotate at most 1.05x, grayscale at most 0.5x of the peer; rows over target are flagged.
//
// Usage: PIPEWRIGHT_BENCH_REPS=5 build/bench/imaging/imaging_bench
// PIPEWRIGHT_BENCH_SIZES=640x480,4000x3000 picks the sizes. Medians of the repetitions; the
// three measurements are interleaved per repetition so machine noise hits them alike.
// PIPEWRIGHT_BENCH_DUMP=DIR also writes the generated inputs there.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "pkg/imaging/image.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace imaging = pipewright::imaging;

constexpr double kRotateTarget = 1.05;
constexpr double kGrayTarget = 0.5;

int reps() {
  const char* env = std::getenv("PIPEWRIGHT_BENCH_REPS");
  return env != nullptr ? std::max(1, std::atoi(env)) : 5;
}

std::vector<cv::Size> sizes() {
  // 480 is a multiple of the 16-pixel MCU, so 640x480 rotates in the DCT domain; 1500 and
  // 3000 are not, so those JPEGs rotate by decode, rotate, encode; 4032x3024 (a 12 MP phone
  // sensor) is again a multiple.
  const char* env = std::getenv("PIPEWRIGHT_BENCH_SIZES");
  std::stringstream ss(env != nullptr ? env : "640x480,2000x1500,4000x3000,4032x3024");
  std::vector<cv::Size> out;
  for (std::string item; std::getline(ss, item, ',');) {
    auto x = item.find('x');
    out.emplace_back(std::stoi(item.substr(0, x)), std::stoi(item.substr(x + 1)));
  }
  return out;
}

// What a camera gives: large smooth gradients (sky, walls), shapes with edges, a slight blur
// (optics) and sensor grain, so entropy coders work as hard as on a photo.
cv::Mat photo(cv::Size size) {
  cv::Mat m(size, CV_8UC3);
  for (int y = 0; y < size.height; ++y) {
    auto* row = m.ptr<cv::Vec3b>(y);
    for (int x = 0; x < size.width; ++x) {
      double fx = static_cast<double>(x) / size.width;
      double fy = static_cast<double>(y) / size.height;
      row[x] = {static_cast<unsigned char>(90 + 120 * fy),
                static_cast<unsigned char>(60 + 100 * fx * fy + 40 * fx),
                static_cast<unsigned char>(30 + 160 * (1 - fy) * fx)};
    }
  }
  cv::RNG rng(42);
  int unit = std::max(4, std::min(size.width, size.height) / 20);
  for (int i = 0; i < 60; ++i) {
    cv::Point p(rng.uniform(0, size.width), rng.uniform(0, size.height));
    cv::Scalar colour(rng.uniform(0, 255), rng.uniform(0, 255), rng.uniform(0, 255));
    if (i % 3 == 0) cv::circle(m, p, rng.uniform(unit / 2, unit * 3), colour, -1, cv::LINE_AA);
    if (i % 3 == 1)
      cv::rectangle(m, p, p + cv::Point(rng.uniform(unit, unit * 5), rng.uniform(unit, unit * 4)),
                    colour, -1);
    if (i % 3 == 2)
      cv::line(m, p, {rng.uniform(0, size.width), rng.uniform(0, size.height)}, colour,
               std::max(1, unit / 8), cv::LINE_AA);
  }
  cv::GaussianBlur(m, m, {3, 3}, 0.8);
  cv::Mat grain(size, CV_16SC3);
  rng.fill(grain, cv::RNG::NORMAL, 0, 4);
  cv::Mat noisy;
  m.convertTo(noisy, CV_16SC3);
  noisy += grain;
  noisy.convertTo(m, CV_8UC3);
  return m;
}

std::vector<int> encode_params(const std::string& ext) {
  if (ext == ".jpg") return {cv::IMWRITE_JPEG_QUALITY, 92};
  return {};  // PNG: OpenCV's default, which imaging uses too
}

std::string encode(const cv::Mat& m, const std::string& ext, const std::vector<int>& params) {
  std::vector<unsigned char> buf;
  cv::imencode(ext, m, buf, params);
  return {buf.begin(), buf.end()};
}

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The peer: decode and encode again with the same settings, nothing in between.
std::size_t decode_encode(const std::string& bytes, const std::string& ext) {
  cv::Mat buf(1, static_cast<int>(bytes.size()), CV_8UC1, const_cast<char*>(bytes.data()));
  cv::Mat m = cv::imdecode(buf, cv::IMREAD_UNCHANGED);
  return encode(m, ext, encode_params(ext)).size();
}

void png_levels(const cv::Mat& m) {
  std::printf("\nPNG compression of the %dx%d photo (encode only, median of %d):\n", m.cols, m.rows,
              reps());
  std::printf("%-28s %10s %10s\n", "setting", "ms", "KiB");
  struct Setting {
    const char* name;
    std::vector<int> params;
  };
  const std::vector<Setting> settings = {
      {"OpenCV default (1, RLE, SUB)", {}},
      {"level 1", {cv::IMWRITE_PNG_COMPRESSION, 1}},
      {"level 3", {cv::IMWRITE_PNG_COMPRESSION, 3}},
      {"level 6 (zlib default)", {cv::IMWRITE_PNG_COMPRESSION, 6}},
      {"level 9", {cv::IMWRITE_PNG_COMPRESSION, 9}},
  };
  for (const auto& s : settings) {
    std::vector<double> t;
    std::size_t bytes = 0;
    for (int r = 0; r < reps(); ++r) {
      auto start = Clock::now();
      bytes = encode(m, ".png", s.params).size();
      t.push_back(ms_since(start));
    }
    std::printf("%-28s %10.1f %10zu\n", s.name, median(t), bytes / 1024);
  }
}

}  // namespace

int main() {
  std::printf(
      "imaging_bench: median of %d repetitions, ms; ratio = operation / (decode + encode)\n",
      reps());
  std::printf("%-6s %-10s %6s %9s %9s %9s %7s %9s %7s %9s %9s  %s\n", "format", "size", "MP",
              "in KiB", "dec+enc", "rotate90", "ratio", "gray", "ratio", "rot KiB", "gray KiB",
              "flag");
  bool over = false;
  cv::Mat for_png_levels;
  for (cv::Size size : sizes()) {
    cv::Mat m = photo(size);
    if (size.area() >= 2'500'000 && size.area() <= 3'500'000) for_png_levels = m;
    for (std::string ext : {".jpg", ".png"}) {
      std::string bytes = encode(m, ext, encode_params(ext));
      if (const char* dir = std::getenv("PIPEWRIGHT_BENCH_DUMP")) {  // the inputs, to look at
        std::string path = std::string(dir) + "/" + std::to_string(size.width) + "x" +
                           std::to_string(size.height) + ext;
        if (FILE* f = std::fopen(path.c_str(), "wb")) {
          std::fwrite(bytes.data(), 1, bytes.size(), f);
          std::fclose(f);
        }
      }
      std::vector<double> peer;
      std::vector<double> rot;
      std::vector<double> gray;
      std::size_t rot_size = 0;
      std::size_t gray_size = 0;
      for (int r = 0; r < reps(); ++r) {
        auto start = Clock::now();
        decode_encode(bytes, ext);
        peer.push_back(ms_since(start));
        start = Clock::now();
        rot_size = imaging::rotate(bytes, 90).size();
        rot.push_back(ms_since(start));
        start = Clock::now();
        gray_size = imaging::grayscale(bytes).size();
        gray.push_back(ms_since(start));
      }
      double p = median(peer);
      double rr = median(rot) / p;
      double gr = median(gray) / p;
      std::string flag;
      if (rr > kRotateTarget) flag += "ROTATE OVER 1.05 ";
      if (gr > kGrayTarget) flag += "GRAY OVER 0.5";
      over = over || !flag.empty();
      std::printf("%-6s %-10s %6.1f %9zu %9.1f %9.1f %7.2f %9.1f %7.2f %9zu %9zu  %s\n",
                  ext.substr(1).c_str(),
                  (std::to_string(size.width) + "x" + std::to_string(size.height)).c_str(),
                  size.area() / 1e6, bytes.size() / 1024, p, median(rot), rr, median(gray), gr,
                  rot_size / 1024, gray_size / 1024, flag.c_str());
      std::fflush(stdout);
    }
  }
  if (!for_png_levels.empty()) png_levels(for_png_levels);
  std::printf("\n%s\n", over ? "some ratios are over target" : "all ratios within target");
  return 0;
}
