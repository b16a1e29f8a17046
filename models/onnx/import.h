#ifndef DLF_MODELS_ONNX_IMPORT_H_
#define DLF_MODELS_ONNX_IMPORT_H_

// ONNX import: a network described by an ONNX file as a model dlf builds, trains (autodiff
// derives its backward pass), evaluates and exports like a registered one.

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "models/registry.h"

namespace dlf::onnx_import {

// Opsets whose forms of the supported ops the importer reads.
inline constexpr int kMinOpset = 11, kMaxOpset = 17;

// Reads `path` and returns it as a model spec named by the path: the input's [c, h, w] from
// the file (a size the file leaves open is 0 there, and the description names it: the user
// gives the shape, e.g. train's --input_shape), the normalization and default data set
// from the metadata dlf's export writes (without them: no default data set, so training
// measures the normalization on its data). Initializers keep their names: parameters, except
// BatchNormalization's mean and variance, which become the running statistics (buffers, with
// a num_batches_tracked beside them). In training, BatchNormalization uses batch statistics as
// dlf's BatchNorm2d does and Dropout drops. Errors name the file, and for an op dlf cannot
// import the node, the op and the opset.
absl::StatusOr<models::ModelSpec> ImportModel(const std::string& path);
// The same for a file held in memory (the fuzz target's entry point); `path` names it.
absl::StatusOr<models::ModelSpec> ParseModel(const std::string& bytes, const std::string& path);

}  // namespace dlf::onnx_import

#endif  // DLF_MODELS_ONNX_IMPORT_H_
