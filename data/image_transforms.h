#ifndef DLF_DATA_IMAGE_TRANSFORMS_H_
#define DLF_DATA_IMAGE_TRANSFORMS_H_

// torchvision's transforms on decoded images, by its definitions (transforms.py,
// functional.py), and the sample pipeline of a set streamed from files: read, decode (JPEG at
// the smallest DCT scale that covers the crop), crop and resize, flip, normalize.

#include <cstdint>
#include <utility>

#include "absl/status/status.h"
#include "data/dataset.h"
#include "data/image.h"
#include "data/transforms.h"

namespace dlf::data {

struct CropBox {
  int64_t top = 0, left = 0, height = 0, width = 0;
};

// Uniform draws in [0, 1) from a SplitMix64 stream: every draw of a sample's augmentation
// comes from its seed alone.
class SampleRandom {
 public:
  explicit SampleRandom(uint64_t seed) : state_(seed) {}
  double Uniform();
  double Uniform(double lo, double hi) { return lo + (hi - lo) * Uniform(); }
  int64_t Below(int64_t n);  // in [0, n)

 private:
  uint64_t state_;
};

// RandomResizedCrop.get_params: up to 10 tries of an area fraction in [scale_min, scale_max]
// and a log-uniform aspect ratio in [ratio_min, ratio_max]; then the central crop of the
// clamped ratio.
CropBox RandomResizedCropBox(int64_t height, int64_t width, const Augmentation& aug, SampleRandom& random);
// Resize(size) with an int: the shorter side becomes `size`, the longer int(size * long / short).
std::pair<int64_t, int64_t> ShorterSideSize(int64_t height, int64_t width, int64_t size);
// CenterCrop: top = int(round((height - crop_height) / 2)), as torchvision.
CropBox CenterCropBox(int64_t height, int64_t width, int64_t crop_height, int64_t crop_width);
// The box cut out and resized to out_height x out_width.
Image CropAndResize(const Image& image, const CropBox& box, int64_t out_height, int64_t out_width,
                    Interpolation interpolation);

// The evaluation transform of image folders: Resize(size / crop_fraction) of the shorter side,
// then CenterCrop(out_h x out_w), with aug's filter.
Image EvaluationCrop(const Image& image, int64_t out_h, int64_t out_w, const Augmentation& aug);

// RandomErasing on a normalized [c, h, w] sample: with `probability`, a box of 2-33% of the
// area with an aspect ratio in [0.3, 3.3] (log-uniform; ten tries) is set to 0.
void RandomErase(float* chw, int64_t c, int64_t h, int64_t w, double probability, SampleRandom& random);

// The common end of every sample: ColorJitter (if asked), normalized into `out` as [c, h, w]
// (mirrored when `flip`), RandomErasing (if asked).
void FinishSample(Image image, bool flip, const Normalization& norm, const Augmentation& aug, SampleRandom& random,
                  float* out);

// The streamed sample `index` of `ds` as normalized f32 [c, h, w] (see MakeSample).
absl::Status MakeFileSample(const Dataset& ds, int64_t index, const Normalization& norm,
                            const Augmentation& aug, uint64_t sample_seed, float* out);

}  // namespace dlf::data

#endif  // DLF_DATA_IMAGE_TRANSFORMS_H_
