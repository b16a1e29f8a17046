#ifndef DLF_DATA_CIFAR10_H_
#define DLF_DATA_CIFAR10_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "data/dataset.h"

namespace dlf::data {

// Where to get CIFAR-10 and what the directory must hold; printed when it is missing.
inline constexpr char kCifar10Help[] =
    "CIFAR-10 comes as the official binary version, cifar-10-binary.tar.gz "
    "(https://www.cs.toronto.edu/~kriz/cifar.html). Unpack it with "
    "`tar xzf cifar-10-binary.tar.gz` and pass the directory that holds data_batch_1.bin .. "
    "data_batch_5.bin and test_batch.bin (cifar-10-batches-bin) as --data_dir.";

// Reads the official binary format: records of 1 label byte + 3072 pixel bytes (1024 R, then
// G, then B, each 32x32 row-major). The train split reads whichever of data_batch_1..5.bin are
// present (at least one); the test split reads test_batch.bin.
absl::StatusOr<Dataset> LoadCifar10(const std::string& dir, bool train);

// Reads one CIFAR-10 binary file.
absl::StatusOr<Dataset> ReadCifar10File(const std::string& path);
// Decodes one file's bytes held in memory; `path` is used in errors. The fuzz target's entry point.
absl::StatusOr<Dataset> ParseCifar10(const std::vector<uint8_t>& bytes, const std::string& path);

// The class names, in label order.
const std::vector<std::string>& Cifar10ClassNames();

}  // namespace dlf::data

#endif  // DLF_DATA_CIFAR10_H_
