#include "data/png.h"

#include <png.h>

#include <vector>

#include "absl/strings/str_cat.h"

namespace dlf::data {

bool IsPng(const std::string& bytes) {
  return bytes.size() >= 8 && png_sig_cmp(reinterpret_cast<png_const_bytep>(bytes.data()), 0, 8) == 0;
}

absl::StatusOr<Image> DecodePng(const std::string& bytes, const std::string& name) {
  png_image png{};
  png.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&png, bytes.data(), bytes.size())) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": not a readable PNG (libpng: ", png.message, ")"));
  }
  if (static_cast<int64_t>(png.width) * png.height > kMaxImagePixels) {
    png_image_free(&png);
    return absl::InvalidArgumentError(absl::StrCat(name, ": ", png.width, "x", png.height, " pixels; at most ",
                                                   kMaxImagePixels, " are decoded"));
  }
  const bool color = png.format & PNG_FORMAT_FLAG_COLOR;
  const bool deep = png.format & PNG_FORMAT_FLAG_LINEAR;  // 16-bit samples: read as they are
  // With alpha kept (and dropped below): without it, libpng would composite onto black.
  png.format = (color ? PNG_FORMAT_RGBA : PNG_FORMAT_GA) | (deep ? PNG_FORMAT_FLAG_LINEAR : 0);
  const int in_channels = color ? 4 : 2, out_channels = color ? 3 : 1;
  const size_t samples = static_cast<size_t>(png.width) * png.height * in_channels;
  std::vector<uint8_t> buffer(samples * (deep ? 2 : 1));
  if (!png_image_finish_read(&png, nullptr, buffer.data(), 0, nullptr)) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": not a readable PNG (libpng: ", png.message, ")"));
  }
  Image out{png.height, png.width, out_channels, std::vector<uint8_t>(static_cast<size_t>(png.width) * png.height * out_channels)};
  const uint16_t* wide = reinterpret_cast<const uint16_t*>(buffer.data());
  for (size_t p = 0; p < static_cast<size_t>(png.width) * png.height; ++p) {
    for (int c = 0; c < out_channels; ++c) {
      const size_t at = p * in_channels + c;
      out.pixels[p * out_channels + c] = deep ? static_cast<uint8_t>(wide[at] >> 8) : buffer[at];
    }
  }
  return out;
}

}  // namespace dlf::data
