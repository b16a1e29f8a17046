#ifndef DLF_MODELS_DATA_SOURCES_H_
#define DLF_MODELS_DATA_SOURCES_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "data/dataset.h"

namespace dlf::models {

// A relative path under `bazel run` means relative to the workspace (where the user typed the
// command), not to Bazel's runfiles directory.
std::string ResolveUserPath(const std::string& path);

// Loads the train and test splits of --dataset from --data_dir (see the flags).
struct DataSplits {
  data::Dataset train, test;
  std::string name;  // the dataset actually used
};
absl::StatusOr<DataSplits> LoadDataset(const std::string& dataset, const std::string& data_dir,
                                       bool explicitly_asked, int64_t image_size,
                                       int64_t channels, bool verbose);

}  // namespace dlf::models

#endif  // DLF_MODELS_DATA_SOURCES_H_
