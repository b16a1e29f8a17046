#ifndef DLF_DATA_SAFETENSORS_H_
#define DLF_DATA_SAFETENSORS_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "graph/tensor.h"

namespace dlf::data {

// The safetensors format: an 8-byte little-endian header length, a JSON header mapping each
// tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets into the data that
// follows) plus an optional "__metadata__" of string values, then the raw little-endian data.
struct TensorFile {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, std::string> metadata;
};

// Writes atomically: to "<path>.tmp", flushed to disk, then renamed over `path`, so a crash
// leaves either the old file or the new one, never a partial one.
absl::Status WriteSafetensors(const std::string& path, const TensorFile& file);

// Reads and validates a file: every error names the file and what is wrong.
absl::StatusOr<TensorFile> ReadSafetensors(const std::string& path);
// Parses a whole file held in memory (the fuzz target's entry point).
absl::StatusOr<TensorFile> ParseSafetensors(const std::string& bytes, const std::string& name);

}  // namespace dlf::data

#endif  // DLF_DATA_SAFETENSORS_H_
