#ifndef DLF_MODELS_ONNX_BACKEND_TEST_H_
#define DLF_MODELS_ONNX_BACKEND_TEST_H_

// ONNX's backend-test cases run in dlf: a case is a directory with model.onnx and data sets
// test_data_set_N/ of input_K.pb and output_K.pb (TensorProtos), as ONNX's
// `python3 -m onnx.backend.test.cmd_tools generate-data` writes them.

#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace dlf::onnx_import {

enum class Verdict { kPassed, kFailed, kUnsupported };
const char* VerdictName(Verdict v);  // "passed", "failed", "unsupported"

struct CaseOutcome {
  Verdict verdict;
  std::string detail;  // the worst element of a failed output, or why the case cannot run
};

struct Tolerance {
  double rtol = 1e-3;  // ONNX's backend tests' defaults
  double atol = 1e-7;
};

// Runs every data set of the case in `dir` in inference (f32, fast math off) and compares each
// output element with numpy.testing.assert_allclose's rule (|a - e| <= atol + rtol |e|, NaN
// equal to NaN). Unsupported: the file uses an op, attribute, dtype or form dlf's import does
// not take (its Unimplemented errors); failed: any other error, or an element outside.
CaseOutcome RunCase(const std::filesystem::path& dir, const Tolerance& tolerance);

// The case directories `dir` names: itself when it holds model.onnx, else the directories
// under it that do, sorted by name. An error when there are none.
absl::StatusOr<std::vector<std::filesystem::path>> CaseDirs(const std::filesystem::path& dir);

}  // namespace dlf::onnx_import

#endif  // DLF_MODELS_ONNX_BACKEND_TEST_H_
