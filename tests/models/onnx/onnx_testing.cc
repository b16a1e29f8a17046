#include "tests/models/onnx/onnx_testing.h"

#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "data/loader.h"

namespace dlf::testing {
namespace {

void WriteF32(const std::string& path, const Tensor& t) {
  std::ofstream(path, std::ios::binary).write(static_cast<const char*>(t.raw()), t.num_bytes());
}

}  // namespace

ProcessResult CheckWithOnnx(const std::string& file) {
  return RunProcess(PythonPath(), {BinaryPath("tools/onnx_check.py"), file});
}

Tensor NormalizedImages(const data::Dataset& dataset, const data::Normalization& normalization) {
  auto loader = data::Loader::Create(&dataset, {.batch_size = dataset.size(), .shuffle = false,
                                                .normalization = normalization});
  if (!loader.ok()) return Tensor();
  (*loader)->StartEpoch(0);
  return (*loader)->Next()->images.Clone();
}

ProcessResult CompareInOnnxRuntime(const std::string& file, const Tensor& input, const Tensor& expected,
                                   const std::string& scratch_dir, double rtol) {
  WriteF32(scratch_dir + "/input.f32", input);
  WriteF32(scratch_dir + "/expected.f32", expected);
  return RunProcess(PythonPath(), {BinaryPath("tools/onnx_run.py"), file, scratch_dir + "/input.f32",
                                   absl::StrJoin(input.shape(), ","), "--expect", scratch_dir + "/expected.f32",
                                   "--rtol", absl::StrCat(rtol)});
}

}  // namespace dlf::testing
