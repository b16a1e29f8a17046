#include "data/image.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include "absl/strings/str_cat.h"
#include "data/file_io.h"
#include "data/png.h"
#include "graph/status_macros.h"
#include "stb/stb_image.h"

namespace dlf::data {

absl::StatusOr<Image> DecodeImage(const std::string& bytes, const std::string& name) {
  auto error = [&](const std::string& what) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": ", what));
  };
  if (static_cast<int64_t>(bytes.size()) > kMaxImageFileBytes) {
    return error(absl::StrCat(bytes.size(), " bytes, more than the ", kMaxImageFileBytes,
                              " an image may have"));
  }
  if (IsPng(bytes)) return DecodePng(bytes, name);
  const auto* data = reinterpret_cast<const stbi_uc*>(bytes.data());
  const int len = static_cast<int>(bytes.size());
  int w = 0, h = 0, comp = 0;
  if (!stbi_info_from_memory(data, len, &w, &h, &comp)) {
    return error(absl::StrCat("not an image stb can decode (expected PNG, JPEG or BMP): ",
                              stbi_failure_reason()));
  }
  if (w <= 0 || h <= 0 || int64_t{w} * h > kMaxImagePixels) {
    return error(absl::StrCat(w, "x", h, " pixels; at most ", kMaxImagePixels,
                              " pixels are decoded"));
  }
  const int channels = comp >= 3 ? 3 : 1;
  std::unique_ptr<stbi_uc, void (*)(void*)> pixels(
      stbi_load_from_memory(data, len, &w, &h, &comp, channels), stbi_image_free);
  if (pixels == nullptr) return error(absl::StrCat("cannot decode: ", stbi_failure_reason()));
  Image image{h, w, channels, {}};
  image.pixels.assign(pixels.get(), pixels.get() + int64_t{w} * h * channels);
  return image;
}

absl::StatusOr<Image> ReadImage(const std::string& path) {
  DLF_ASSIGN_OR_RETURN(const std::string bytes, ReadFile(path, kMaxImageFileBytes));
  return DecodeImage(bytes, path);
}

absl::StatusOr<Image> ConvertChannels(const Image& image, int64_t channels) {
  if (image.channels == channels) return image;
  const int64_t n = image.height * image.width;
  Image out{image.height, image.width, channels, std::vector<uint8_t>(n * channels)};
  const uint8_t* src = image.pixels.data();
  if (image.channels == 1 && channels == 3) {
    for (int64_t i = 0; i < n; ++i) std::fill_n(&out.pixels[3 * i], 3, src[i]);
    return out;
  }
  if (image.channels == 3 && channels == 1) {
    for (int64_t i = 0; i < n; ++i) {
      const double y = 0.299 * src[3 * i] + 0.587 * src[3 * i + 1] + 0.114 * src[3 * i + 2];
      out.pixels[i] = static_cast<uint8_t>(std::lround(y));
    }
    return out;
  }
  return absl::InvalidArgumentError(absl::StrCat("cannot convert an image of ", image.channels,
                                                 " channels to ", channels,
                                                 " (1 and 3 channels are supported)"));
}

Image ResizeAndCenterCrop(const Image& image, int64_t height, int64_t width) {
  const double scale = std::max(static_cast<double>(height) / image.height,
                                static_cast<double>(width) / image.width);
  const int64_t h = std::max(height, static_cast<int64_t>(std::lround(image.height * scale)));
  const int64_t w = std::max(width, static_cast<int64_t>(std::lround(image.width * scale)));
  const Image resized = h == image.height && w == image.width ? image : ResizeBilinear(image, h, w);
  const int64_t top = (h - height) / 2, left = (w - width) / 2, c = image.channels;
  Image out{height, width, c, std::vector<uint8_t>(height * width * c)};
  for (int64_t y = 0; y < height; ++y) {
    std::copy_n(&resized.pixels[((y + top) * w + left) * c], width * c, &out.pixels[y * width * c]);
  }
  return out;
}

Image PadCentered(const Image& image, int64_t height, int64_t width) {
  const int64_t top = (height - image.height) / 2, left = (width - image.width) / 2;
  const int64_t c = image.channels;
  Image out{height, width, c, std::vector<uint8_t>(height * width * c, 0)};
  for (int64_t y = 0; y < image.height; ++y) {
    std::copy_n(&image.pixels[y * image.width * c], image.width * c,
                &out.pixels[((y + top) * width + left) * c]);
  }
  return out;
}

absl::StatusOr<Image> FitImage(const Image& image, int64_t channels, int64_t height, int64_t width) {
  DLF_ASSIGN_OR_RETURN(Image out, ConvertChannels(image, channels));
  if (out.height == height && out.width == width) return out;
  if (out.height <= height && out.width <= width) return PadCentered(out, height, width);
  return ResizeAndCenterCrop(out, height, width);
}

void ToPlanar(const Image& image, uint8_t* chw) {
  const int64_t n = image.height * image.width, c = image.channels;
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t i = 0; i < n; ++i) chw[ch * n + i] = image.pixels[i * c + ch];
}

Image FromPlanar(const uint8_t* chw, int64_t channels, int64_t height, int64_t width) {
  const int64_t n = height * width;
  Image image{height, width, channels, std::vector<uint8_t>(n * channels)};
  for (int64_t ch = 0; ch < channels; ++ch)
    for (int64_t i = 0; i < n; ++i) image.pixels[i * channels + ch] = chw[ch * n + i];
  return image;
}

}  // namespace dlf::data
