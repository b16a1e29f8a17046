#ifndef DLF_DATA_IMAGE_H_
#define DLF_DATA_IMAGE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace dlf::data {

// An 8-bit image with interleaved channels (row-major [height, width, channels]), as decoders
// and resizers deliver it. Models take planar [channels, height, width]: see ToPlanar.
struct Image {
  int64_t height = 0, width = 0, channels = 0;
  std::vector<uint8_t> pixels;
};

// Decoding limits: larger files or pictures are rejected before any pixel is decoded.
inline constexpr int64_t kMaxImageFileBytes = int64_t{64} << 20;
inline constexpr int64_t kMaxImagePixels = int64_t{8192} * 8192;

// Decodes PNG, JPEG, BMP (and the other formats of Debian's stb: GIF, TGA, PSD, PNM, HDR) to
// 1 channel (gray, gray + alpha) or 3 (RGB, RGBA: alpha dropped). Errors name `name`.
absl::StatusOr<Image> DecodeImage(const std::string& bytes, const std::string& name);
absl::StatusOr<Image> ReadImage(const std::string& path);

// 1 -> 3 channels replicates gray; 3 -> 1 takes the luma (ITU-R BT.601 weights).
absl::StatusOr<Image> ConvertChannels(const Image& image, int64_t channels);
// Resampling filters, antialiased when shrinking as PIL's are (torchvision's on PIL images):
// bilinear is a triangle filter, bicubic the Catmull-Rom cubic (PIL's a = -0.5).
enum class Interpolation { kBilinear, kBicubic };
// Resampling to exactly height x width.
Image ResizeImage(const Image& image, int64_t height, int64_t width, Interpolation interpolation);
inline Image ResizeBilinear(const Image& image, int64_t height, int64_t width) {
  return ResizeImage(image, height, width, Interpolation::kBilinear);
}
// Scales (bilinear) so the image covers height x width with its aspect ratio kept, then cuts
// the centre: torchvision's Resize + CenterCrop.
Image ResizeAndCenterCrop(const Image& image, int64_t height, int64_t width);
// Places the image in the centre of a zero height x width canvas; needs it to fit.
Image PadCentered(const Image& image, int64_t height, int64_t width);

// Converts a model input image's channels and size: smaller images are zero-padded (centred),
// any other size is resized and center-cropped (ResizeAndCenterCrop).
absl::StatusOr<Image> FitImage(const Image& image, int64_t channels, int64_t height, int64_t width);

// Interleaved <-> planar [channels, height, width].
void ToPlanar(const Image& image, uint8_t* chw);
Image FromPlanar(const uint8_t* chw, int64_t channels, int64_t height, int64_t width);

}  // namespace dlf::data

#endif  // DLF_DATA_IMAGE_H_
