#ifndef DLF_DATA_DATASET_H_
#define DLF_DATA_DATASET_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "graph/tensor.h"

namespace dlf::data {

// An in-memory image classification set: raw u8 pixels [n, channels, height, width] (kept as
// bytes: CIFAR-10's 50,000 images are 150 MB so, 600 MB as f32) and one label per image.
struct Dataset {
  Tensor images;  // u8 [n, c, h, w]
  std::vector<int32_t> labels;
  int num_classes = 0;
  std::vector<std::string> class_names;
  std::string description;  // e.g. "CIFAR-10 train (5 files)"

  int64_t size() const { return static_cast<int64_t>(labels.size()); }
  int64_t channels() const { return images.dim(1); }
  int64_t height() const { return images.dim(2); }
  int64_t width() const { return images.dim(3); }
};

// Images [begin, end) of `in` (copied), e.g. one rank's share of a test set.
Dataset Slice(const Dataset& in, int64_t begin, int64_t end);

// The dataset with every image converted to [channels, height, width] as data::FitImage does:
// channels replicated (1 -> 3) or reduced to luma (3 -> 1); smaller images zero-padded
// (centred), as Fashion-MNIST's 28x28 feeds a 32x32 model; larger ones resized and
// center-cropped, as CIFAR-10's 32x32 feeds LeNet's 28x28.
absl::StatusOr<Dataset> FitToShape(const Dataset& in, int64_t channels, int64_t height,
                                   int64_t width);

}  // namespace dlf::data

#endif  // DLF_DATA_DATASET_H_
