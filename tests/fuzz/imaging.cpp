// Uploaded images as pkg/imaging checks them, each format (JPEG, PNG, BMP, WebP; the seeds hold
// each, also gray, alpha and 16-bit): probe() from the header, validate() on the whole file,
// and for what validate() accepts the operations the rotate and grayscale workers run on it.
// The documented failure is ImageError; any other exception escapes and is a finding.

#include <string>

#include "pkg/imaging/image.h"
#include "tests/fuzz/fuzz.h"

PW_FUZZ_TARGET(imaging) {
  namespace img = pipewright::imaging;
  const auto bytes = pipewright::fuzz::as_text(data, size);
  std::optional<img::ImageInfo> probed;
  try {
    probed = img::probe(bytes);
  } catch (const img::ImageError&) {
  }
  img::Limits limits;
  limits.max_pixels = 1'000'000;  // keeps each run short; the check itself is the same
  img::ImageInfo info{};
  try {
    info = img::validate(bytes, limits);
  } catch (const img::ImageError& e) {
    pipewright::fuzz::check(e.http_status() >= 400 && e.http_status() < 500,
                            "an ImageError that is not a 4xx");
    return;
  }
  pipewright::fuzz::check(probed.has_value(), "validate accepted what probe refused");
  pipewright::fuzz::check(
      probed->format == info.format && probed->width == info.width && probed->height == info.height,
      "validate and probe disagree on the header");
  for (const int angle : {90, 180}) {
    try {
      const auto out = img::rotate(bytes, angle, limits);
      const auto back = img::probe(out);
      pipewright::fuzz::check(back.format == info.format, "rotate changed the format");
      pipewright::fuzz::check(angle == 180 ? back.width == info.width : back.width == info.height,
                              "rotate gave the wrong size");
    } catch (const img::ImageError&) {
    }
  }
  try {
    const auto gray = img::grayscale(bytes, limits);
    const auto back = img::probe(gray);
    pipewright::fuzz::check(back.width == info.width && back.height == info.height,
                            "grayscale changed the size");
  } catch (const img::ImageError&) {
  }
}
