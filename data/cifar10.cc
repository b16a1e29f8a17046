#include "data/cifar10.h"

#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "data/file_io.h"
#include "graph/status_macros.h"

namespace dlf::data {
namespace {

constexpr int64_t kImageBytes = 3 * 32 * 32;
constexpr int64_t kRecordBytes = 1 + kImageBytes;

bool FileExists(const std::string& path) {
  std::error_code ec;
  return std::filesystem::is_regular_file(path, ec);
}

}  // namespace

const std::vector<std::string>& Cifar10ClassNames() {
  static const auto* names = new std::vector<std::string>{
      "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"};
  return *names;
}

absl::StatusOr<Dataset> ReadCifar10File(const std::string& path) {
  // 100x the official file size: anything larger is not a CIFAR-10 batch.
  DLF_ASSIGN_OR_RETURN(const std::string bytes, ReadFile(path, 100 * 10000 * kRecordBytes));
  return ParseCifar10(std::vector<uint8_t>(bytes.begin(), bytes.end()), path);
}

absl::StatusOr<Dataset> ParseCifar10(const std::vector<uint8_t>& bytes, const std::string& path) {
  if (bytes.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": file is empty"));
  if (bytes.size() % kRecordBytes != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": size ", bytes.size(), " is not a whole number of CIFAR-10 records (",
        kRecordBytes, " bytes each: 1 label + 3072 pixels); the file is truncated or not CIFAR-10"));
  }
  const int64_t n = static_cast<int64_t>(bytes.size()) / kRecordBytes;
  Dataset d;
  d.images = Tensor(DType::kU8, {n, 3, 32, 32});
  d.labels.resize(n);
  d.num_classes = 10;
  d.class_names = Cifar10ClassNames();
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* record = bytes.data() + i * kRecordBytes;
    if (record[0] >= 10) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": record ", i, " has label ",
                                                     int{record[0]}, ", expected 0..9"));
    }
    d.labels[i] = record[0];
    std::memcpy(d.images.u8() + i * kImageBytes, record + 1, kImageBytes);
  }
  return d;
}

absl::StatusOr<Dataset> LoadCifar10(const std::string& dir, bool train) {
  std::vector<std::string> files;
  if (train) {
    for (int i = 1; i <= 5; ++i) {
      const std::string path = absl::StrCat(dir, "/data_batch_", i, ".bin");
      if (FileExists(path)) files.push_back(path);
    }
  } else if (FileExists(dir + "/test_batch.bin")) {
    files.push_back(dir + "/test_batch.bin");
  }
  if (files.empty()) {
    return absl::NotFoundError(absl::StrCat(
        "no CIFAR-10 ", train ? "training files (data_batch_1.bin .. data_batch_5.bin)"
                              : "test file (test_batch.bin)",
        " in '", dir, "'. ", kCifar10Help));
  }
  std::vector<Dataset> parts;
  int64_t total = 0;
  for (const std::string& f : files) {
    DLF_ASSIGN_OR_RETURN(Dataset part, ReadCifar10File(f));
    total += part.size();
    parts.push_back(std::move(part));
  }
  Dataset d;
  d.images = Tensor(DType::kU8, {total, 3, 32, 32});
  d.num_classes = 10;
  d.class_names = Cifar10ClassNames();
  d.description = absl::StrCat("CIFAR-10 ", train ? "train" : "test", " (", files.size(),
                               files.size() == 1 ? " file, " : " files, ", total, " images)");
  int64_t offset = 0;
  for (const Dataset& p : parts) {
    std::memcpy(d.images.u8() + offset * kImageBytes, p.images.raw(), p.images.num_bytes());
    d.labels.insert(d.labels.end(), p.labels.begin(), p.labels.end());
    offset += p.size();
  }
  return d;
}

}  // namespace dlf::data
