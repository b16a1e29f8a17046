#ifndef DLF_TESTS_MODELS_ONNX_ONNX_TESTING_H_
#define DLF_TESTS_MODELS_ONNX_ONNX_TESTING_H_

// Checking an ONNX file with the peers the tests trust: ONNX's own checker (python3-onnx) and
// ONNX Runtime (from PyPI), both run by tools/python.sh in the environment tools/setup.sh makes.

#include <string>

#include "data/dataset.h"
#include "data/transforms.h"
#include "graph/tensor.h"
#include "tests/testing/subprocess.h"

namespace dlf::testing {

// tools/onnx_check.py on `file`: the full checker and strict shape inference.
ProcessResult CheckWithOnnx(const std::string& file);

// The images of `dataset` as the evaluator feeds them (normalized f32 [n, c, h, w]).
Tensor NormalizedImages(const data::Dataset& dataset, const data::Normalization& normalization);

// Runs `file` in ONNX Runtime on `input` and compares its output with `expected` to `rtol`
// (max |difference| / max |expected|): the result exits 0 when they match, and says by how much.
ProcessResult CompareInOnnxRuntime(const std::string& file, const Tensor& input, const Tensor& expected,
                                   const std::string& scratch_dir, double rtol = 1e-4);

}  // namespace dlf::testing

#endif  // DLF_TESTS_MODELS_ONNX_ONNX_TESTING_H_
