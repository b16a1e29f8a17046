#include "models/training/datasets.h"

#include <filesystem>

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "data/cifar10.h"
#include "data/idx.h"
#include "data/image_folder.h"
#include "data/synthetic.h"
#include "graph/status_macros.h"

namespace dlf::training {
namespace {

constexpr int64_t kSyntheticTrain = 2048, kSyntheticTest = 512;

// ROOT/train for training; ROOT/val for evaluation, or ROOT itself when it has no val/ (a
// folder of class folders, as `evaluate --data_dir=ROOT/val` gives).
absl::StatusOr<data::Dataset> LoadFolder(const std::string& root, bool train) {
  const std::filesystem::path split = std::filesystem::path(root) / (train ? "train" : "val");
  std::error_code ec;
  if (train && !std::filesystem::is_directory(split, ec)) {
    if (!std::filesystem::exists(root, ec)) return absl::NotFoundError(absl::StrCat(root, ": no such folder"));
    return absl::NotFoundError(absl::StrCat(root, ": no train/ folder; --dataset=folder expects ", root,
                                            "/train/<class>/<image> and ", root, "/val/<class>/<image> (or --val_dir)"));
  }
  const std::string dir = std::filesystem::is_directory(split, ec) ? split.string() : root;
  DLF_ASSIGN_OR_RETURN(data::ImageFolderListing listing, data::ListImageFolder(dir));
  if (listing.ignored_files > 0) {
    absl::StrAppend(&listing.dataset.description, " [", listing.ignored_files, " other files ignored]");
  }
  return std::move(listing.dataset);
}

absl::StatusOr<data::Dataset> LoadRaw(const std::string& dataset, const std::string& dir,
                                      bool train, const std::vector<int64_t>& shape) {
  if (dataset == "folder") return LoadFolder(dir, train);
  if (dataset == "cifar10") return data::LoadCifar10(dir, train);
  if (dataset == "fashion_mnist") return data::LoadFashionMnist(dir, train);
  if (shape[1] != shape[2]) {
    return absl::InvalidArgumentError("the synthetic data set has square images only");
  }
  return data::MakeSyntheticDataset(train ? kSyntheticTrain : kSyntheticTest, shape[0], shape[1],
                                    10, train ? 1 : 2);
}

}  // namespace

absl::Status CheckDatasetName(const std::string& name) {
  if (name == "cifar10" || name == "fashion_mnist" || name == "synthetic" || name == "folder") return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "--dataset must be cifar10, fashion_mnist, synthetic or folder, found '", name, "'"));
}

std::string DefaultDataDir(const std::string& dataset) {
  if (dataset == "cifar10") return "datasets/cifar-10-batches-bin";
  if (dataset == "fashion_mnist") return data::kFashionMnistDir;
  return "";
}

absl::StatusOr<data::Dataset> LoadSplit(const std::string& dataset, const std::string& dir,
                                        bool train, const std::vector<int64_t>& image_shape) {
  DLF_RETURN_IF_ERROR(CheckDatasetName(dataset));
  DLF_ASSIGN_OR_RETURN(data::Dataset raw, LoadRaw(dataset, dir, train, image_shape));
  return data::FitToShape(raw, image_shape[0], image_shape[1], image_shape[2]);
}

data::Normalization MeasureNormalization(const data::Dataset& d) {
  // Photos streamed from a folder are not read twice: ImageNet's statistics, as torchvision's
  // reference scripts use for any photo set.
  if (d.streamed()) return d.channels() == 3 ? data::Normalization::ImageNet() : data::Normalization{{0.5f}, {0.25f}};
  const int64_t c = d.channels(), plane = d.height() * d.width();
  std::vector<double> sum(c, 0.0), sum_sq(c, 0.0);
  const uint8_t* px = static_cast<const uint8_t*>(d.images.raw());
  for (int64_t i = 0; i < d.size(); ++i)
    for (int64_t ch = 0; ch < c; ++ch) {
      const uint8_t* p = px + (i * c + ch) * plane;
      int64_t s = 0, s2 = 0;
      for (int64_t j = 0; j < plane; ++j) s += p[j], s2 += p[j] * p[j];
      sum[ch] += s / 255.0;
      sum_sq[ch] += s2 / (255.0 * 255.0);
    }
  data::Normalization n{{}, {}};
  const double count = std::max<double>(1.0, static_cast<double>(d.size() * plane));
  for (int64_t ch = 0; ch < c; ++ch) {
    const double mean = sum[ch] / count;
    const double var = std::max(sum_sq[ch] / count - mean * mean, 1e-12);
    n.mean.push_back(static_cast<float>(mean));
    n.std.push_back(static_cast<float>(std::sqrt(var)));
  }
  return n;
}

}  // namespace dlf::training
