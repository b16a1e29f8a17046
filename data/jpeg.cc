#include "data/jpeg.h"

#include <turbojpeg.h>

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace dlf::data {
namespace {

// One decompressor per thread (a handle is not thread-safe), freed when the thread ends.
struct Handle {
  tjhandle h = tjInitDecompress();
  ~Handle() { tjDestroy(h); }
};
thread_local Handle decompressor;

tjhandle Decompressor() { return decompressor.h; }

// The error, after which the handle is replaced: a failed decode can leave it unusable.
absl::Status TurboError(const std::string& name, tjhandle h) {
  absl::Status s = absl::InvalidArgumentError(absl::StrCat(name, ": not a readable JPEG (libjpeg-turbo: ", tjGetErrorStr2(h), ")"));
  tjDestroy(decompressor.h);
  decompressor.h = tjInitDecompress();
  return s;
}

}  // namespace

bool IsJpeg(const std::string& bytes) {
  return bytes.size() >= 3 && static_cast<uint8_t>(bytes[0]) == 0xFF && static_cast<uint8_t>(bytes[1]) == 0xD8 &&
         static_cast<uint8_t>(bytes[2]) == 0xFF;
}

absl::StatusOr<JpegHeader> ReadJpegHeader(const std::string& bytes, const std::string& name) {
  tjhandle h = Decompressor();
  int width = 0, height = 0, subsampling = 0, colorspace = 0;
  if (tjDecompressHeader3(h, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), &width, &height,
                          &subsampling, &colorspace) != 0) {
    return TurboError(name, h);
  }
  if (static_cast<int64_t>(width) * height > kMaxImagePixels) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": ", width, "x", height, " pixels; at most ",
                                                   kMaxImagePixels, " are decoded"));
  }
  return JpegHeader{height, width, colorspace == TJCS_GRAY};
}

int JpegScaleEighths(int64_t region_h, int64_t region_w, int64_t need_h, int64_t need_w) {
  for (int m = 1; m < 8; ++m) {
    if (region_h * m >= need_h * 8 && region_w * m >= need_w * 8) return m;
  }
  return 8;
}

absl::StatusOr<Image> DecodeJpeg(const std::string& bytes, const std::string& name, int eighths) {
  tjhandle h = Decompressor();
  int width = 0, height = 0, subsampling = 0, colorspace = 0;
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  if (tjDecompressHeader3(h, data, bytes.size(), &width, &height, &subsampling, &colorspace) != 0) {
    return TurboError(name, h);
  }
  if (static_cast<int64_t>(width) * height > kMaxImagePixels) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": ", width, "x", height, " pixels; at most ",
                                                   kMaxImagePixels, " are decoded"));
  }
  const tjscalingfactor scale{std::clamp(eighths, 1, 8), 8};
  const int w = TJSCALED(width, scale), hgt = TJSCALED(height, scale);
  const bool cmyk = colorspace == TJCS_CMYK || colorspace == TJCS_YCCK;
  const int format = colorspace == TJCS_GRAY ? TJPF_GRAY : cmyk ? TJPF_CMYK : TJPF_RGB;
  const int channels = tjPixelSize[format];
  std::vector<uint8_t> pixels(static_cast<size_t>(w) * hgt * channels);
  if (tjDecompress2(h, data, bytes.size(), pixels.data(), w, 0, hgt, format, 0) != 0 &&
      tjGetErrorCode(h) == TJERR_FATAL) {
    return TurboError(name, h);
  }
  if (!cmyk) return Image{hgt, w, channels, std::move(pixels)};
  // Adobe stores CMYK inverted; PIL's conversion then gives R = C + K - 255 (clipped).
  Image out{hgt, w, 3, std::vector<uint8_t>(static_cast<size_t>(w) * hgt * 3)};
  for (int64_t i = 0; i < static_cast<int64_t>(w) * hgt; ++i) {
    const int k = pixels[4 * i + 3];
    for (int c = 0; c < 3; ++c) out.pixels[3 * i + c] = static_cast<uint8_t>(std::max(0, pixels[4 * i + c] + k - 255));
  }
  return out;
}

}  // namespace dlf::data
