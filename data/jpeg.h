#ifndef DLF_DATA_JPEG_H_
#define DLF_DATA_JPEG_H_

// JPEG through libjpeg-turbo's TurboJPEG API (Debian's libturbojpeg0-dev), with its DCT-domain
// scaling: a large photo is decoded at the smallest of 1/8, 2/8 ... 8/8 of its size that still
// covers what the caller needs, which costs a fraction of a full decode.

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

// The eighths (1..8) to decode at so that a region of region_h x region_w pixels of the full
// image still has at least need_h x need_w pixels.
int JpegScaleEighths(int64_t region_h, int64_t region_w, int64_t need_h, int64_t need_w);

// Decodes at `eighths`/8 of the full size to 1 channel (gray) or 3 (RGB; CMYK and YCCK are
// converted as PIL converts Adobe's inverted CMYK). Errors name `name`.
absl::StatusOr<Image> DecodeJpeg(const std::string& bytes, const std::string& name, int eighths = 8);

}  // namespace dlf::data

#endif  // DLF_DATA_JPEG_H_
