#ifndef DLF_MODELS_TRAINING_TRANSFORM_FLAGS_H_
#define DLF_MODELS_TRAINING_TRANSFORM_FLAGS_H_

// The training tool's flags for how images are transformed (beside --augment's crops and
// flips): torchvision's padding modes, ColorJitter, RandomErasing, the resampling filter and
// the evaluation resize of image folders, the decode threads and what a bad image does.

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "data/transforms.h"

namespace dlf::training {

// `eval_shape` [c, h, w]: the size the evaluation crop is cut to.
absl::StatusOr<data::Augmentation> ImageTransformFromFlags(const std::vector<int64_t>& eval_shape);
int DecodeThreadsFromFlags();
bool SkipBadImagesFromFlags();
int64_t ValCropSizeFromFlags();  // 0: not given
// --mixup_alpha, --cutmix_alpha (checked with the rest of the config).
std::pair<double, double> MixingFromFlags();

}  // namespace dlf::training

#endif  // DLF_MODELS_TRAINING_TRANSFORM_FLAGS_H_
