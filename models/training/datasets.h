#ifndef DLF_MODELS_TRAINING_DATASETS_H_
#define DLF_MODELS_TRAINING_DATASETS_H_

// The data sets the tools can train and evaluate on, by name: "cifar10", "fashion_mnist",
// "synthetic" (generated, learnable, for smoke runs and tests) and "folder" (your images in
// torchvision's ImageFolder layout, streamed from disk).

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "data/dataset.h"
#include "data/transforms.h"

namespace dlf::training {

// An error naming the known data sets unless `name` is one.
absl::Status CheckDatasetName(const std::string& name);

// Where a data set lives when --data_dir is not given (relative to the workspace for CIFAR-10;
// empty for synthetic).
std::string DefaultDataDir(const std::string& dataset);

// Loads one split of `dataset` from `dir` and fits its images to `image_shape` [c, h, w]
// (data::FitToShape: channels converted, smaller images padded, larger ones resized and
// center-cropped). The synthetic set is generated at that shape.
absl::StatusOr<data::Dataset> LoadSplit(const std::string& dataset, const std::string& dir,
                                        bool train, const std::vector<int64_t>& image_shape);

// Per-channel mean and standard deviation of the pixels in [0, 1] (ImageNet's for a set
// streamed from files).
data::Normalization MeasureNormalization(const data::Dataset& dataset);

}  // namespace dlf::training

#endif  // DLF_MODELS_TRAINING_DATASETS_H_
