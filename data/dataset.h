#ifndef DLF_DATA_DATASET_H_
#define DLF_DATA_DATASET_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "graph/tensor.h"

namespace dlf::data {

// An image classification set with one label per image, either in memory as raw u8 pixels
// [n, channels, height, width] (kept as bytes: CIFAR-10's 50,000 images are 150 MB so, 600 MB
// as f32), or streamed: image files, read and decoded as batches are made (image_folder.h),
// whatever their number.
struct Dataset {
  Tensor images;  // u8 [n, c, h, w]; empty when streamed from files
  std::shared_ptr<const std::vector<std::string>> files;  // streamed: one path per image
  Shape file_shape;  // streamed: the [c, h, w] the loader's transforms make of each file
  std::vector<int32_t> labels;
  int num_classes = 0;
  std::vector<std::string> class_names;
  std::string description;  // e.g. "CIFAR-10 train (5 files)"

  bool streamed() const { return files != nullptr; }
  int64_t size() const { return static_cast<int64_t>(labels.size()); }
  int64_t channels() const { return streamed() ? file_shape[0] : images.dim(1); }
  int64_t height() const { return streamed() ? file_shape[1] : images.dim(2); }
  int64_t width() const { return streamed() ? file_shape[2] : images.dim(3); }
};

// Images [begin, end) of `in` (copied; for files, their paths), e.g. one rank's share of a test set.
Dataset Slice(const Dataset& in, int64_t begin, int64_t end);

// The dataset with every image converted to [channels, height, width] as data::FitImage does:
// channels replicated (1 -> 3) or reduced to luma (3 -> 1); smaller images zero-padded
// (centred), as Fashion-MNIST's 28x28 feeds a 32x32 model; larger ones resized and
// center-cropped, as CIFAR-10's 32x32 feeds LeNet's 28x28. A streamed set only records the
// shape: its files are fitted as they are loaded.
absl::StatusOr<Dataset> FitToShape(const Dataset& in, int64_t channels, int64_t height,
                                   int64_t width);

}  // namespace dlf::data

#endif  // DLF_DATA_DATASET_H_
