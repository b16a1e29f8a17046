#ifndef DLF_TESTS_FUZZ_ONNX_ENTRY_H_
#define DLF_TESTS_FUZZ_ONNX_ENTRY_H_

// What the ONNX fuzz target does with its bytes, shared with regression_test: both entry points
// of the import on the same file.

#include <string>

#include "absl/status/status.h"

namespace dlf::fuzz {

struct OnnxImportResults {
  absl::Status classifier;  // onnx_import::ParseModel: --model=net.onnx's image -> logits path
  absl::Status network;     // onnx_import::BuildNetwork on inputs of the declared shapes
};

// Imports `bytes` both ways; the network only when the file parses and its declared inputs are
// float (given as zeros) or integer tensors (given as ones) of fixed sizes (a dynamic one taken
// as 1) of at most 2^16 elements.
OnnxImportResults ImportBothWays(const std::string& bytes, const std::string& path);

}  // namespace dlf::fuzz

#endif  // DLF_TESTS_FUZZ_ONNX_ENTRY_H_
