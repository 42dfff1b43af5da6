// Writes the image seeds of tests/fuzz/corpus/imaging/ with OpenCV: each format pkg/imaging
// accepts, in the layouts it treats differently (gray, alpha, 16-bit, sizes that are and are not
// a multiple of the JPEG MCU, progressive JPEG, lossy and lossless WebP), plus truncated copies.
// Not part of the build; run once after editing:
//   g++ -std=c++20 tests/fuzz/make_image_seeds.cpp -isystem /usr/include/opencv4 \
//     $(pkg-config --libs opencv4) -o /tmp/make_image_seeds && /tmp/make_image_seeds
//     tests/fuzz/corpus/imaging

#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <string>
#include <vector>

namespace {

void write(const std::string& dir, const std::string& name, const std::vector<uchar>& bytes) {
  std::ofstream(dir + "/seed-" + name, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
}

void encode(const std::string& dir, const std::string& name, const std::string& ext,
            const cv::Mat& m, const std::vector<int>& params = {}) {
  std::vector<uchar> out;
  cv::imencode(ext, m, out, params);
  write(dir, name + ext, out);
  out.resize(out.size() * 2 / 3);
  write(dir, name + "-truncated" + ext, out);
}

cv::Mat pattern(int w, int h, int type) {
  cv::Mat m(h, w, type);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < m.channels(); ++c) {
        const int v = (x * 37 + y * 11 + c * 71) % 256;
        if (m.depth() == CV_16U)
          m.ptr<ushort>(y)[x * m.channels() + c] = static_cast<ushort>(v * 257);
        else
          m.ptr<uchar>(y)[x * m.channels() + c] = static_cast<uchar>(v);
      }
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : ".";
  encode(dir, "jpeg-16x16", ".jpg", pattern(16, 16, CV_8UC3), {cv::IMWRITE_JPEG_QUALITY, 80});
  encode(dir, "jpeg-7x5", ".jpg", pattern(7, 5, CV_8UC3));
  encode(dir, "jpeg-gray", ".jpg", pattern(9, 8, CV_8UC1));
  encode(dir, "jpeg-progressive", ".jpg", pattern(16, 8, CV_8UC3),
         {cv::IMWRITE_JPEG_PROGRESSIVE, 1});
  encode(dir, "jpeg-q100", ".jpg", pattern(8, 8, CV_8UC3), {cv::IMWRITE_JPEG_QUALITY, 100});
  encode(dir, "png-rgb", ".png", pattern(5, 4, CV_8UC3));
  encode(dir, "png-rgba", ".png", pattern(4, 3, CV_8UC4));
  encode(dir, "png-16bit", ".png", pattern(3, 3, CV_16UC3));
  encode(dir, "png-gray", ".png", pattern(6, 2, CV_8UC1));
  encode(dir, "bmp-24", ".bmp", pattern(5, 3, CV_8UC3));
  encode(dir, "bmp-8", ".bmp", pattern(4, 4, CV_8UC1));
  encode(dir, "webp-lossy", ".webp", pattern(8, 6, CV_8UC3), {cv::IMWRITE_WEBP_QUALITY, 80});
  encode(dir, "webp-lossless", ".webp", pattern(5, 5, CV_8UC3), {cv::IMWRITE_WEBP_QUALITY, 101});
  encode(dir, "webp-alpha", ".webp", pattern(4, 4, CV_8UC4), {cv::IMWRITE_WEBP_QUALITY, 101});
  return 0;
}
