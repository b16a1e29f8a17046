#include "models/data_sources.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "data/cifar10.h"
#include "data/idx.h"
#include "data/synthetic.h"

namespace dlf::models {
namespace {

data::Dataset Fit(data::Dataset d, int64_t size, int64_t channels) {
  if (d.height() == size && d.channels() == channels) return d;
  return data::PadAndReplicate(d, size, channels);
}

}  // namespace

std::string ResolveUserPath(const std::string& path) {
  const char* workspace = std::getenv("BUILD_WORKSPACE_DIRECTORY");
  if (path.empty() || path[0] == '/' || workspace == nullptr) return path;
  return (std::filesystem::path(workspace) / path).string();
}

absl::StatusOr<DataSplits> LoadDataset(const std::string& dataset, const std::string& data_dir,
                                       bool explicitly_asked, int64_t size, int64_t channels,
                                       bool verbose) {
  DataSplits s;
  s.name = dataset;
  if (dataset == "cifar10") {
    absl::StatusOr<data::Dataset> train = data::LoadCifar10(data_dir, true);
    if (train.ok()) {
      absl::StatusOr<data::Dataset> test = data::LoadCifar10(data_dir, false);
      if (!test.ok()) return test.status();
      s.train = Fit(*std::move(train), size, channels);
      s.test = Fit(*std::move(test), size, channels);
      return s;
    }
    if (explicitly_asked || !absl::IsNotFound(train.status())) return train.status();
    if (verbose) {
      std::printf("CIFAR-10 was not found in %s.\n%s\nFor now: a short run on Fashion-MNIST "
                  "(installed by tools/setup.sh), padded to 32x32 with its channel replicated.\n\n",
                  data_dir.c_str(), data::kCifar10Help);
    }
    return LoadDataset("fashion_mnist", data::kFashionMnistDir, false, size, channels, verbose);
  }
  if (dataset == "fashion_mnist") {
    absl::StatusOr<data::Dataset> train = data::LoadFashionMnist(data_dir, true);
    if (!train.ok()) return train.status();
    absl::StatusOr<data::Dataset> test = data::LoadFashionMnist(data_dir, false);
    if (!test.ok()) return test.status();
    s.train = Fit(*std::move(train), size, channels);
    s.test = Fit(*std::move(test), size, channels);
    return s;
  }
  if (dataset == "synthetic") {
    s.train = data::MakeSyntheticDataset(2048, channels, size, 10, 1);
    s.test = data::MakeSyntheticDataset(512, channels, size, 10, 2);
    return s;
  }
  return absl::InvalidArgumentError("--dataset must be cifar10, fashion_mnist or synthetic, found '" +
                                    dataset + "'");
}

}  // namespace dlf::models
