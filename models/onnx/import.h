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

// The ONNX op types the import has a function for (some only in forms it states, e.g. Cast of
// float values to float; shape subgraphs of known ints), sorted.
std::vector<std::string> ImportedOps();

// Any ONNX network, for inference: its inputs and outputs need not be images and logits.
struct Network {
  // In the file's order: a value of the graph, or (invalid there) an integer tensor evaluated
  // when the graph was built, held in `known` by its position.
  std::vector<Value> outputs;
  std::map<int, Tensor> known;
};
// Builds the network of the file held in `bytes` on `g`. Each graph input that is not an
// initializer takes its value from `inputs` (by name): a float one becomes an Input of the
// graph named as in the file (fed when run, its shape fixed by the given tensor), an integer
// one a value known when the graph is built, as an initializer is (dlf computes in floating
// point; integer tensors are shapes, indices and masks it evaluates at import).
absl::StatusOr<Network> BuildNetwork(const std::string& bytes, const std::string& path, Graph& g,
                                     const std::map<std::string, const Tensor*>& inputs);

// OK when every input and output of the file held in `bytes` is a tensor (Unimplemented names
// one that is a sequence, map or optional).
absl::Status CheckTensorSignature(const std::string& bytes, const std::string& path);

// An ONNX TensorProto (serialized in `bytes`, e.g. a backend test's input_0.pb) as a tensor of
// the same values: float or int64 (another data type is Unimplemented, naming it).
absl::StatusOr<Tensor> ParseTensor(const std::string& bytes, const std::string& path);
// The name the TensorProto in `bytes` carries ("" when it has none or does not parse).
std::string TensorName(const std::string& bytes);

}  // namespace dlf::onnx_import

#endif  // DLF_MODELS_ONNX_IMPORT_H_
