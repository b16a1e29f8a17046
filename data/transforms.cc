#include "data/transforms.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "data/image_transforms.h"
#include "graph/random.h"

namespace dlf::data {

absl::Status ValidateNormalization(const Normalization& n, int64_t channels) {
  if (n.mean.size() != n.std.size() ||
      (n.mean.size() != 1 && static_cast<int64_t>(n.mean.size()) != channels)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "normalization has ", n.mean.size(), " means and ", n.std.size(),
        " standard deviations; expected 1 or ", channels, " of each"));
  }
  for (float s : n.std) {
    if (!(s > 0)) return absl::InvalidArgumentError(absl::StrCat("normalization std ", s, " must be > 0"));
  }
  return absl::OkStatus();
}

namespace {

// The source index of position `i` of a padded axis of `n` pixels (-1: the constant fill).
int64_t PaddedIndex(int64_t i, int64_t n, Augmentation::Padding mode) {
  if (i >= 0 && i < n) return i;
  switch (mode) {
    case Augmentation::Padding::kEdge:
      return std::clamp<int64_t>(i, 0, n - 1);
    case Augmentation::Padding::kReflect:
      if (n == 1) return 0;
      while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;
      return i;
    default:
      return -1;
  }
}

// An in-memory image, shifted by (dy, dx) with the padding the mode asks for (interleaved).
Image CropPadded(const Dataset& ds, int64_t index, int64_t dy, int64_t dx, const Augmentation& aug) {
  const int64_t c = ds.channels(), h = ds.height(), w = ds.width();
  const uint8_t* src = static_cast<const uint8_t*>(ds.images.raw()) + index * c * h * w;
  Image image{h, w, c, std::vector<uint8_t>(h * w * c)};
  for (int64_t y = 0; y < h; ++y) {
    const int64_t sy = PaddedIndex(y + dy, h, aug.padding_mode);
    for (int64_t x = 0; x < w; ++x) {
      const int64_t sx = PaddedIndex(x + dx, w, aug.padding_mode);
      for (int64_t ch = 0; ch < c; ++ch) {
        image.pixels[(y * w + x) * c + ch] = sy < 0 || sx < 0 ? aug.padding_fill : src[(ch * h + sy) * w + sx];
      }
    }
  }
  return image;
}

}  // namespace

absl::Status MakeSample(const Dataset& ds, int64_t index, const Normalization& norm,
                        const Augmentation& aug, uint64_t sample_seed, float* out) {
  if (ds.streamed()) return MakeFileSample(ds, index, norm, aug, sample_seed, out);
  // The crop and flip draw from the seed's first mix; jitter and erasing from a stream of
  // their own, so that adding them leaves the crops and flips as they were.
  const uint64_t r = SplitMix64(sample_seed);
  const int64_t range = 2 * aug.crop_padding + 1;
  const int64_t dy = aug.random_crop ? static_cast<int64_t>(r % range) - aug.crop_padding : 0;
  const int64_t dx = aug.random_crop ? static_cast<int64_t>((r >> 16) % range) - aug.crop_padding : 0;
  const bool flip = aug.horizontal_flip && ((r >> 40) & 1);
  SampleRandom random(SplitMix64(sample_seed ^ 0x6a09e667f3bcc909ull));
  if (aug.random_resized_crop) {  // torchvision's RandomResizedCrop back to the set's size
    const int64_t c = ds.channels(), h = ds.height(), w = ds.width();
    const Image image = FromPlanar(static_cast<const uint8_t*>(ds.images.raw()) + index * c * h * w, c, h, w);
    const Image crop = CropAndResize(image, RandomResizedCropBox(h, w, aug, random), h, w, aug.interpolation);
    FinishSample(crop, flip, norm, aug, random, out);
    return absl::OkStatus();
  }
  FinishSample(CropPadded(ds, index, dy, dx, aug), flip, norm, aug, random, out);
  return absl::OkStatus();
}

}  // namespace dlf::data
