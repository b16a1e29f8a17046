#include "data/image_transforms.h"

#include <algorithm>
#include <cmath>

#include "data/auto_augment.h"
#include "data/color_jitter.h"
#include "data/file_io.h"
#include "data/jpeg.h"
#include "graph/random.h"
#include "graph/status_macros.h"

namespace dlf::data {
namespace {

// Python's round(): halves go to the even neighbour (torchvision's sizes are computed with it).
int64_t PyRound(double x) { return static_cast<int64_t>(std::nearbyint(x)); }

}  // namespace

double SampleRandom::Uniform() {
  state_ = SplitMix64(state_);
  return static_cast<double>(state_ >> 11) * 0x1.0p-53;
}

int64_t SampleRandom::Below(int64_t n) { return std::min<int64_t>(n - 1, static_cast<int64_t>(Uniform() * n)); }

CropBox RandomResizedCropBox(int64_t height, int64_t width, const Augmentation& aug, SampleRandom& random) {
  const double area = static_cast<double>(height) * width;
  const double log_lo = std::log(aug.ratio_min), log_hi = std::log(aug.ratio_max);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target_area = area * random.Uniform(aug.scale_min, aug.scale_max);
    const double ratio = std::exp(random.Uniform(log_lo, log_hi));
    const int64_t w = PyRound(std::sqrt(target_area * ratio));
    const int64_t h = PyRound(std::sqrt(target_area / ratio));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const int64_t top = random.Below(height - h + 1), left = random.Below(width - w + 1);
      return {top, left, h, w};
    }
  }
  const double in_ratio = static_cast<double>(width) / height;
  int64_t w = width, h = height;
  if (in_ratio < aug.ratio_min) {
    h = PyRound(w / aug.ratio_min);
  } else if (in_ratio > aug.ratio_max) {
    w = PyRound(h * aug.ratio_max);
  }
  return {(height - h) / 2, (width - w) / 2, h, w};
}

std::pair<int64_t, int64_t> ShorterSideSize(int64_t height, int64_t width, int64_t size) {
  if (height <= width) return {size, static_cast<int64_t>(static_cast<double>(size) * width / height)};
  return {static_cast<int64_t>(static_cast<double>(size) * height / width), size};
}

CropBox CenterCropBox(int64_t height, int64_t width, int64_t crop_height, int64_t crop_width) {
  return {PyRound((height - crop_height) / 2.0), PyRound((width - crop_width) / 2.0), crop_height, crop_width};
}

Image CropAndResize(const Image& image, const CropBox& box, int64_t out_height, int64_t out_width,
                    Interpolation interpolation) {
  const int64_t c = image.channels;
  Image crop{box.height, box.width, c, std::vector<uint8_t>(box.height * box.width * c)};
  for (int64_t y = 0; y < box.height; ++y) {
    std::copy_n(&image.pixels[((box.top + y) * image.width + box.left) * c], box.width * c, &crop.pixels[y * box.width * c]);
  }
  if (box.height == out_height && box.width == out_width) return crop;
  return ResizeImage(crop, out_height, out_width, interpolation);
}

Image EvaluationCrop(const Image& image, int64_t out_h, int64_t out_w, const Augmentation& aug) {
  const int64_t resize = static_cast<int64_t>(std::floor(std::max(out_h, out_w) / aug.crop_fraction));
  const auto [rh, rw] = ShorterSideSize(image.height, image.width, resize);
  const Image resized = ResizeImage(image, rh, rw, aug.interpolation);
  CropBox box = CenterCropBox(rh, rw, out_h, out_w);
  if (box.top < 0 || box.left < 0) box = {0, 0, rh, rw};  // a crop larger than the image: resize it all
  return CropAndResize(resized, box, out_h, out_w, aug.interpolation);
}

namespace {

// RandomResizedCrop on a JPEG: the box is drawn on the header's size; then only the blocks
// the box touches are decoded, at the smallest DCT scale that keeps the crop's size.
absl::StatusOr<Image> RandomCropJpeg(const std::string& bytes, const std::string& name, const Augmentation& aug,
                                     int64_t out_h, int64_t out_w, SampleRandom& random) {
  DLF_ASSIGN_OR_RETURN(const JpegHeader header, ReadJpegHeader(bytes, name));
  const CropBox box = RandomResizedCropBox(header.height, header.width, aug, random);
  const int m = JpegScaleEighths(box.height, box.width, out_h, out_w);
  const int64_t scaled_h = JpegScaledSize(header.height, m), scaled_w = JpegScaledSize(header.width, m);
  const int64_t top = box.top * m / 8, left = box.left * m / 8;
  const int64_t bottom = std::min(scaled_h, JpegScaledSize(box.top + box.height, m));
  const int64_t right = std::min(scaled_w, JpegScaledSize(box.left + box.width, m));
  const PixelRegion region{top, left, std::max<int64_t>(1, bottom - top), std::max<int64_t>(1, right - left)};
  PixelRegion origin;
  DLF_ASSIGN_OR_RETURN(const Image decoded, DecodeJpeg(bytes, name, m, &region, &origin));
  const CropBox in_decoded{region.top - origin.top, region.left - origin.left, region.height, region.width};
  return CropAndResize(decoded, in_decoded, out_h, out_w, aug.interpolation);
}

// Decodes `bytes`, cropped as the transform asks and resized to out_h x out_w.
absl::StatusOr<Image> CropFromFile(const std::string& bytes, const std::string& name, const Augmentation& aug,
                                   int64_t out_h, int64_t out_w, SampleRandom& random) {
  const bool jpeg = IsJpeg(bytes);
  if (aug.random_resized_crop && jpeg) return RandomCropJpeg(bytes, name, aug, out_h, out_w, random);
  Image decoded;
  if (jpeg) {
    // Resize(crop / crop_fraction) + CenterCrop(crop), on a decode at least that large.
    DLF_ASSIGN_OR_RETURN(const JpegHeader header, ReadJpegHeader(bytes, name));
    const int64_t resize = static_cast<int64_t>(std::floor(std::max(out_h, out_w) / aug.crop_fraction));
    const int64_t shorter = std::min(header.height, header.width);
    DLF_ASSIGN_OR_RETURN(decoded, DecodeJpeg(bytes, name, JpegScaleEighths(shorter, shorter, resize, resize)));
  } else {
    DLF_ASSIGN_OR_RETURN(decoded, DecodeImage(bytes, name));
  }
  if (aug.random_resized_crop) {
    return CropAndResize(decoded, RandomResizedCropBox(decoded.height, decoded.width, aug, random), out_h, out_w,
                         aug.interpolation);
  }
  return EvaluationCrop(decoded, out_h, out_w, aug);
}

}  // namespace

void RandomErase(float* chw, int64_t c, int64_t h, int64_t w, double probability, SampleRandom& random) {
  if (random.Uniform() >= probability) return;
  const double area = static_cast<double>(h) * w, log_lo = std::log(0.3), log_hi = std::log(3.3);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double erase_area = area * random.Uniform(0.02, 0.33);
    const double ratio = std::exp(random.Uniform(log_lo, log_hi));
    const int64_t eh = PyRound(std::sqrt(erase_area * ratio)), ew = PyRound(std::sqrt(erase_area / ratio));
    if (!(eh < h && ew < w)) continue;
    const int64_t top = random.Below(h - eh + 1), left = random.Below(w - ew + 1);
    for (int64_t ch = 0; ch < c; ++ch) {
      for (int64_t y = top; y < top + eh; ++y) std::fill_n(chw + (ch * h + y) * w + left, ew, 0.0f);
    }
    return;
  }
}

namespace {

Image Mirrored(const Image& in) {
  Image out = in;
  const int64_t w = in.width, c = in.channels;
  for (int64_t y = 0; y < in.height; ++y) {
    for (int64_t x = 0; x < w; ++x) std::copy_n(&in.pixels[(y * w + w - 1 - x) * c], c, &out.pixels[(y * w + x) * c]);
  }
  return out;
}

}  // namespace

void FinishSample(Image image, bool flip, const Normalization& norm, const Augmentation& aug, SampleRandom& random,
                  float* out) {
  if (aug.trivial_augment) {  // its shears and rotations see the flipped image, as torchvision's
    if (flip) image = Mirrored(image);
    flip = false;
    TrivialAugmentWide(image, random);
  }
  if (aug.color_jitter.enabled()) ColorJitter(image, aug.color_jitter, random);
  const int64_t c = image.channels, h = image.height, w = image.width;
  for (int64_t ch = 0; ch < c; ++ch) {
    const size_t k = norm.mean.size() == 1 ? 0 : ch;
    const float scale = 1.0f / (255.0f * norm.std[k]), shift = -norm.mean[k] / norm.std[k];
    for (int64_t y = 0; y < h; ++y) {
      const uint8_t* row = &image.pixels[y * w * c];
      float* dst = out + (ch * h + y) * w;
      for (int64_t x = 0; x < w; ++x) dst[x] = row[(flip ? w - 1 - x : x) * c + ch] * scale + shift;
    }
  }
  if (aug.random_erase > 0) RandomErase(out, c, h, w, aug.random_erase, random);
}

absl::Status MakeFileSample(const Dataset& ds, int64_t index, const Normalization& norm, const Augmentation& aug,
                            uint64_t sample_seed, float* out) {
  const std::string& path = (*ds.files)[index];
  const int64_t c = ds.channels(), h = ds.height(), w = ds.width();
  DLF_ASSIGN_OR_RETURN(const std::string bytes, ReadFile(path, kMaxImageFileBytes));
  SampleRandom random(sample_seed);
  DLF_ASSIGN_OR_RETURN(Image image, CropFromFile(bytes, path, aug, h, w, random));
  DLF_ASSIGN_OR_RETURN(image, ConvertChannels(image, c));
  const bool flip = aug.horizontal_flip && random.Uniform() < 0.5;
  FinishSample(std::move(image), flip, norm, aug, random, out);
  return absl::OkStatus();
}

}  // namespace dlf::data
