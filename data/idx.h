#ifndef DLF_DATA_IDX_H_
#define DLF_DATA_IDX_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "data/dataset.h"

namespace dlf::data {

// IDX files of unsigned bytes (the MNIST format), plain or gzip-compressed:
//   magic 2049: labels [count]
//   magic 2051: grayscale images [count, rows, cols]
//   magic 2052: RGB images [count, channels, rows, cols] (channel-major, as CIFAR-10)
// The magic and dimensions are big-endian 32-bit integers.
struct IdxArray {
  int32_t magic = 0;
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;
};

inline constexpr int32_t kIdxLabels = 2049;
inline constexpr int32_t kIdxGrayImages = 2051;
inline constexpr int32_t kIdxRgbImages = 2052;

// Reads a plain or gzip'd IDX file; every error names the file and what is wrong.
absl::StatusOr<IdxArray> ReadIdx(const std::string& path);
// Decodes a whole IDX file held in memory, gzip'd (by its magic bytes) or plain; `name` is used
// in errors. The fuzz target's entry point.
absl::StatusOr<IdxArray> DecodeIdx(const std::vector<uint8_t>& file, const std::string& name);
// Decodes uncompressed IDX bytes.
absl::StatusOr<IdxArray> ParseIdx(const uint8_t* bytes, size_t size, const std::string& name);

// Writes atomically (temporary file + rename); gzip-compressed when the path ends in ".gz".
absl::Status WriteIdx(const std::string& path, const IdxArray& array);

// An image file (2051 or 2052) and a label file (2049) with the same count, labels checked
// against num_classes.
absl::StatusOr<Dataset> LoadIdxDataset(const std::string& images_path,
                                       const std::string& labels_path, int num_classes);

// Fashion-MNIST as Debian's dataset-fashion-mnist installs it.
inline constexpr char kFashionMnistDir[] = "/usr/share/datasets/fashion-mnist";
absl::StatusOr<Dataset> LoadFashionMnist(const std::string& dir, bool train);

}  // namespace dlf::data

#endif  // DLF_DATA_IDX_H_
