#ifndef DLF_DATA_JPEG_H_
#define DLF_DATA_JPEG_H_

// JPEG through libjpeg-turbo (Debian's libjpeg62-turbo), with the two things a training
// pipeline needs from it: DCT-domain scaling (a photo decoded at the smallest of 1/8, 1/4, 1/2
// and 1 of its size that still covers what is needed) and region decoding (only the rows and
// the 8- or 16-pixel column blocks a crop touches are decoded).

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "data/image.h"

namespace dlf::data {

bool IsJpeg(const std::string& bytes);

struct JpegHeader {
  int64_t height = 0, width = 0;
  bool gray = false;
};
absl::StatusOr<JpegHeader> ReadJpegHeader(const std::string& bytes, const std::string& name);

// The eighths (1, 2, 4 or 8) to decode at so that a region of region_h x region_w pixels of the full
// image still has at least need_h x need_w pixels.
int JpegScaleEighths(int64_t region_h, int64_t region_w, int64_t need_h, int64_t need_w);

// A part of an image: [top, top + height) x [left, left + width).
struct PixelRegion {
  int64_t top = 0, left = 0, height = 0, width = 0;
};

// Decodes at `eighths`/8 of the full size to 1 channel (gray) or 3 (RGB; CMYK and YCCK are
// converted as Pillow converts Adobe's inverted CMYK). With a `region` (in the scaled image's
// pixels), only what covers it is decoded: the result holds at least the region, and `origin`
// receives where the result's (0, 0) lies in the scaled image. Errors name `name`.
absl::StatusOr<Image> DecodeJpeg(const std::string& bytes, const std::string& name, int eighths = 8,
                                 const PixelRegion* region = nullptr, PixelRegion* origin = nullptr);

// The size of the image decoded at `eighths`/8 (libjpeg rounds up).
int64_t JpegScaledSize(int64_t size, int eighths);

}  // namespace dlf::data

#endif  // DLF_DATA_JPEG_H_
