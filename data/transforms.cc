#include "data/transforms.h"

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

absl::Status MakeSample(const Dataset& ds, int64_t index, const Normalization& norm,
                        const Augmentation& aug, uint64_t sample_seed, float* out) {
  if (ds.streamed()) return MakeFileSample(ds, index, norm, aug, sample_seed, out);
  const int64_t c = ds.channels(), h = ds.height(), w = ds.width();
  const uint64_t r = SplitMix64(sample_seed);
  const int64_t range = 2 * aug.crop_padding + 1;
  const int64_t dy = aug.random_crop ? static_cast<int64_t>(r % range) - aug.crop_padding : 0;
  const int64_t dx = aug.random_crop ? static_cast<int64_t>((r >> 16) % range) - aug.crop_padding : 0;
  const bool flip = aug.horizontal_flip && ((r >> 40) & 1);
  const uint8_t* src = static_cast<const uint8_t*>(ds.images.raw()) + index * c * h * w;
  for (int64_t ch = 0; ch < c; ++ch) {
    const size_t k = norm.mean.size() == 1 ? 0 : ch;
    const float scale = 1.0f / (255.0f * norm.std[k]);
    const float shift = -norm.mean[k] / norm.std[k];
    const float zero = shift;  // a padded (black) pixel after normalization
    for (int64_t y = 0; y < h; ++y) {
      const int64_t sy = y + dy;
      for (int64_t x = 0; x < w; ++x) {
        const int64_t sx = (flip ? w - 1 - x : x) + dx;
        float v = zero;
        if (sy >= 0 && sy < h && sx >= 0 && sx < w) v = src[(ch * h + sy) * w + sx] * scale + shift;
        out[(ch * h + y) * w + x] = v;
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace dlf::data
