#ifndef DLF_DATA_DATASET_H_
#define DLF_DATA_DATASET_H_

#include <cstdint>
#include <string>
#include <vector>

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

// Pads every image with zeros to `size` x `size` (centred) and replicates a single channel to
// `channels`: how Fashion-MNIST's 1x28x28 images feed a 3x32x32 model.
Dataset PadAndReplicate(const Dataset& in, int64_t size, int64_t channels);

}  // namespace dlf::data

#endif  // DLF_DATA_DATASET_H_
