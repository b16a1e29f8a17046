#include "models/training/transform_flags.h"

#include <algorithm>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

ABSL_FLAG(std::string, padding_mode, "constant",
          "--augment's random crop: constant (--padding_fill) | edge | reflect, as torchvision's RandomCrop");
ABSL_FLAG(bool, random_resized_crop, false,
          "--augment on an in-memory set (CIFAR-10, Fashion-MNIST): RandomResizedCrop (scale 0.08-1, "
          "ratio 3/4-4/3) back to the image size instead of the padded random crop (image folders "
          "always use it)");
ABSL_FLAG(int, padding_fill, 0, "--padding_mode=constant: the padding's pixel value (0-255)");
ABSL_FLAG(std::vector<std::string>, color_jitter, {},
          "ColorJitter: B,C,S,H (brightness, contrast, saturation, hue ranges) or one value V for "
          "V,V,V,0 as timm's --color-jitter; e.g. 0.4");
ABSL_FLAG(std::string, auto_augment, "",
          "ta_wide: TrivialAugmentWide (torchvision's; after the crop and flip); empty: none");
ABSL_FLAG(double, random_erase, 0.0, "RandomErasing's probability (torchvision's, value 0), e.g. 0.25");
ABSL_FLAG(double, mixup_alpha, 0.0, "batch-level mixup with lambda ~ Beta(alpha, alpha) (0: off), e.g. 0.2");
ABSL_FLAG(double, cutmix_alpha, 0.0, "batch-level cutmix with lambda ~ Beta(alpha, alpha) (0: off), e.g. 1.0; with --mixup_alpha one of the two per batch");
ABSL_FLAG(std::string, interpolation, "bilinear", "bilinear | bicubic: the resampling of image folders (Pillow's)");
ABSL_FLAG(int, val_resize_size, 0,
          "--dataset=folder: evaluation resizes the shorter side to this, then center-crops "
          "--val_crop_size (default: crop / 0.875, 256 for 224)");
ABSL_FLAG(int, val_crop_size, 0,
          "--dataset=folder: the evaluation's center crop (default: the training size); models "
          "ending in global pooling take any");
ABSL_FLAG(int, decode_threads, 0, "--dataset=folder: threads reading and decoding images (0: one per core)");
ABSL_FLAG(bool, skip_bad_images, false,
          "--dataset=folder: a training image that cannot be decoded (corrupt, truncated, vanished) "
          "is replaced by the next image of the epoch's order and counted at the epoch's end, "
          "instead of ending the run; a bad test image is still an error (its metrics would be "
          "wrong)");

namespace dlf::training {
namespace {

absl::StatusOr<data::ColorJitterOptions> ColorJitterFromFlag() {
  const std::vector<std::string> items = absl::GetFlag(FLAGS_color_jitter);
  if (items.empty()) return data::ColorJitterOptions{};
  std::vector<double> v;
  for (const std::string& item : items) {
    double x = 0;
    if (!absl::SimpleAtod(item, &x) || !(x >= 0)) v.push_back(-1);
    else v.push_back(x);
  }
  const std::string given = absl::StrJoin(items, ",");
  if ((v.size() != 1 && v.size() != 4) || std::count(v.begin(), v.end(), -1) > 0 || (v.size() == 4 && v[3] > 0.5)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--color_jitter must be one value >= 0 or four B,C,S,H (hue at most 0.5), found '", given, "'"));
  }
  if (v.size() == 1) return data::ColorJitterOptions{v[0], v[0], v[0], 0};
  return data::ColorJitterOptions{v[0], v[1], v[2], v[3]};
}

}  // namespace

absl::StatusOr<data::Augmentation> ImageTransformFromFlags(const std::vector<int64_t>& input_shape) {
  data::Augmentation a;
  const std::string padding = absl::GetFlag(FLAGS_padding_mode);
  if (padding != "constant" && padding != "edge" && padding != "reflect") {
    return absl::InvalidArgumentError(absl::StrCat("--padding_mode must be constant, edge or reflect, found '", padding, "'"));
  }
  a.padding_mode = padding == "edge"      ? data::Augmentation::Padding::kEdge
                   : padding == "reflect" ? data::Augmentation::Padding::kReflect
                                          : data::Augmentation::Padding::kConstant;
  const int fill = absl::GetFlag(FLAGS_padding_fill);
  if (fill < 0 || fill > 255) return absl::InvalidArgumentError(absl::StrCat("--padding_fill must be in [0, 255], found ", fill));
  a.padding_fill = static_cast<uint8_t>(fill);
  a.random_resized_crop = absl::GetFlag(FLAGS_random_resized_crop);
  auto jitter = ColorJitterFromFlag();
  if (!jitter.ok()) return jitter.status();
  a.color_jitter = *jitter;
  const std::string auto_augment = absl::GetFlag(FLAGS_auto_augment);
  if (!auto_augment.empty() && auto_augment != "ta_wide") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--auto_augment takes ta_wide (TrivialAugmentWide), found '", auto_augment,
        "' (torchvision's ra and autoaugment policies are not implemented)"));
  }
  a.trivial_augment = auto_augment == "ta_wide";
  a.random_erase = absl::GetFlag(FLAGS_random_erase);
  if (!(a.random_erase >= 0 && a.random_erase <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat("--random_erase must be a probability in [0, 1], found ", a.random_erase));
  }
  const std::string interpolation = absl::GetFlag(FLAGS_interpolation);
  if (interpolation != "bilinear" && interpolation != "bicubic") {
    return absl::InvalidArgumentError(absl::StrCat("--interpolation must be bilinear or bicubic, found '", interpolation, "'"));
  }
  a.interpolation = interpolation == "bicubic" ? data::Interpolation::kBicubic : data::Interpolation::kBilinear;
  if (const int resize = absl::GetFlag(FLAGS_val_resize_size); resize != 0) {
    const int64_t size = std::max(input_shape[1], input_shape[2]);
    if (resize < size) {
      return absl::InvalidArgumentError(absl::StrCat("--val_resize_size=", resize, " is below the crop it is cut to (", size, ")"));
    }
    a.crop_fraction = static_cast<double>(size) / resize;
  }
  return a;
}

int DecodeThreadsFromFlags() { return absl::GetFlag(FLAGS_decode_threads); }
bool SkipBadImagesFromFlags() { return absl::GetFlag(FLAGS_skip_bad_images); }
int64_t ValCropSizeFromFlags() { return absl::GetFlag(FLAGS_val_crop_size); }

std::pair<double, double> MixingFromFlags() { return {absl::GetFlag(FLAGS_mixup_alpha), absl::GetFlag(FLAGS_cutmix_alpha)}; }

}  // namespace dlf::training
