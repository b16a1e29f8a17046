#ifndef DLF_DATA_AUTO_AUGMENT_H_
#define DLF_DATA_AUTO_AUGMENT_H_

// TrivialAugmentWide (Müller and Hutter 2021) as torchvision defines it: one of 14 operations,
// chosen uniformly, at one of 31 magnitudes, chosen uniformly (negated half the time for the
// signed ones), applied with Pillow's arithmetic (nearest-neighbour affine maps in 16.16 fixed
// point, ImageOps' lookup tables, ImageEnhance's blends), so that an operation at a magnitude
// gives torchvision's pixels (torchvision.transforms.autoaugment._apply_op on PIL images).

#include <string>

#include "data/image.h"

namespace dlf::data {

class SampleRandom;

enum class AugmentOp {
  kIdentity, kShearX, kShearY, kTranslateX, kTranslateY, kRotate, kBrightness, kColor, kContrast,
  kSharpness, kPosterize, kSolarize, kAutoContrast, kEqualize
};

// One operation at `magnitude` (torchvision's units: shear factor, pixels, degrees, enhance
// offset, bits, threshold), the uncovered area black.
void ApplyAugmentOp(Image& image, AugmentOp op, double magnitude);

// TrivialAugmentWide: the operation and magnitude drawn from `random`.
void TrivialAugmentWide(Image& image, SampleRandom& random);

}  // namespace dlf::data

#endif  // DLF_DATA_AUTO_AUGMENT_H_
