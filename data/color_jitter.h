#ifndef DLF_DATA_COLOR_JITTER_H_
#define DLF_DATA_COLOR_JITTER_H_

// torchvision's ColorJitter on images, with Pillow's arithmetic (torchvision's functional ops
// on PIL images: ImageEnhance's blends and Pillow's HSV conversion), so that a factor gives
// the same pixels as torchvision.transforms.functional.adjust_*.

#include "data/image.h"

namespace dlf::data {

class SampleRandom;

// Each the size of its random range: brightness, contrast and saturation factors are drawn from
// [max(0, 1 - v), 1 + v], the hue shift from [-hue, hue] (hue <= 0.5).
struct ColorJitterOptions {
  double brightness = 0, contrast = 0, saturation = 0, hue = 0;
  bool enabled() const { return brightness > 0 || contrast > 0 || saturation > 0 || hue > 0; }
};

void AdjustBrightness(Image& image, double factor);
void AdjustContrast(Image& image, double factor);
void AdjustSaturation(Image& image, double factor);  // 3 channels; gray images are left as they are
void AdjustHue(Image& image, double shift);          // 3 channels; shift in [-0.5, 0.5]

// ColorJitter: the four in a random order with random factors (those whose range is 0 skipped).
void ColorJitter(Image& image, const ColorJitterOptions& options, SampleRandom& random);

}  // namespace dlf::data

#endif  // DLF_DATA_COLOR_JITTER_H_
