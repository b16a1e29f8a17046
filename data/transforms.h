#ifndef DLF_DATA_TRANSFORMS_H_
#define DLF_DATA_TRANSFORMS_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "data/dataset.h"
#include "data/color_jitter.h"
#include "data/image.h"

namespace dlf::data {

// Per-channel normalization (x/255 - mean[c]) / std[c]. One value applies to every channel.
struct Normalization {
  std::vector<float> mean = {0.0f};
  std::vector<float> std = {1.0f};

  static Normalization ImageNet() { return {{0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}}; }
  static Normalization Cifar10() { return {{0.4914f, 0.4822f, 0.4465f}, {0.2470f, 0.2435f, 0.2616f}}; }
  static Normalization FashionMnist() { return {{0.2860f}, {0.3530f}}; }
};

absl::Status ValidateNormalization(const Normalization& n, int64_t channels);

// Random crop after zero padding by `crop_padding` on every side, and a random horizontal
// flip with probability 1/2; each is off unless asked for.
struct Augmentation {
  bool random_crop = false;
  int64_t crop_padding = 4;
  bool horizontal_flip = false;
  // What the random crop's padding holds (torchvision's RandomCrop padding_mode): `fill`
  // (constant), the nearest edge pixel (edge), or the image mirrored without repeating its
  // edge (reflect).
  enum class Padding { kConstant, kEdge, kReflect };
  Padding padding_mode = Padding::kConstant;
  uint8_t padding_fill = 0;
  // torchvision's RandomResizedCrop(size, scale, ratio) when set (in-memory sets: instead of the
  // padded random crop, back to their size); images streamed from files otherwise (and for
  // evaluation) get Resize(size / crop_fraction) of the shorter side + CenterCrop(size).
  bool random_resized_crop = false;
  double scale_min = 0.08, scale_max = 1.0;
  double ratio_min = 3.0 / 4.0, ratio_max = 4.0 / 3.0;
  double crop_fraction = 0.875;  // resize_size = size / crop_fraction, as timm's crop_pct
  Interpolation interpolation = Interpolation::kBilinear;
  // After the crop and flip, in this order: TrivialAugmentWide, ColorJitter on the pixels,
  // then (normalized) RandomErasing with this probability (torchvision's: area 2-33%, ratio
  // 0.3-3.3, value 0).
  bool trivial_augment = false;
  ColorJitterOptions color_jitter;
  double random_erase = 0;
  bool enabled() const {
    return random_crop || horizontal_flip || random_resized_crop || trivial_augment || color_jitter.enabled() ||
           random_erase > 0;
  }
};

// Writes image `index` of `ds` as normalized f32 [c, h, w] to `out`, augmented with randomness
// drawn only from `sample_seed` (so a sample's augmentation does not depend on threads). A
// streamed set's file is read and decoded here (image_transforms.h): errors name it.
absl::Status MakeSample(const Dataset& ds, int64_t index, const Normalization& norm,
                        const Augmentation& aug, uint64_t sample_seed, float* out);

}  // namespace dlf::data

#endif  // DLF_DATA_TRANSFORMS_H_
