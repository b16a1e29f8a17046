#ifndef DLF_DATA_MIXING_H_
#define DLF_DATA_MIXING_H_

// Batch-level mixup and cutmix as torchvision's classification references define them
// (references/classification/transforms.py, RandomMixup and RandomCutmix with p = 1, one of
// the two chosen at random per batch when both are on): every sample is mixed with the one
// before it in the global batch (torch.roll(1)), with lambda ~ Beta(alpha, alpha); targets
// become lambda * onehot(own) + (1 - lambda) * onehot(partner).

#include <cstdint>

#include "data/image_transforms.h"

namespace dlf::data {

struct Mixing {
  double mixup_alpha = 0, cutmix_alpha = 0;
  int num_classes = 0;
  bool enabled() const { return mixup_alpha > 0 || cutmix_alpha > 0; }
};

// One batch's draw: mixup (the whole image) or cutmix (the box, whose area sets lambda).
struct MixPlan {
  bool cutmix = false;
  double lambda = 1;  // the own sample's share
  CropBox box;        // cutmix: the partner's region
};

// Beta(a, a) through two Gamma draws (Marsaglia and Tsang).
double SampleBeta(double a, SampleRandom& random);

// The plan of a global batch from its own random stream; h x w images.
MixPlan DrawMix(const Mixing& mixing, int64_t height, int64_t width, SampleRandom& random);

// own <- the mix of own and partner ([c, h, w] each) as `plan` says.
void MixImages(const MixPlan& plan, const float* partner, int64_t c, int64_t h, int64_t w, float* own);
// The soft target row of a sample with label `own` mixed with `partner`.
void MixTargets(const MixPlan& plan, int32_t own, int32_t partner, int num_classes, float* row);

}  // namespace dlf::data

#endif  // DLF_DATA_MIXING_H_
