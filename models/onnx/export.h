#ifndef DLF_MODELS_ONNX_EXPORT_H_
#define DLF_MODELS_ONNX_EXPORT_H_

// ONNX export: an inference graph (images -> logits) as an ONNX model, built with the protobuf
// classes Debian's libonnx-dev generates from onnx.proto.

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "graph/graph.h"
#include "onnx/onnx_pb.h"

namespace dlf::onnx_export {

inline constexpr int kOpsetVersion = 13;

struct ExportOptions {
  std::string graph_name = "dlf";
  // The ONNX name of the graph's input (a language model's: "ids").
  std::string input_name = "images";
  // Free-form key/value pairs for the model's metadata_props (class names, normalization ...).
  std::map<std::string, std::string> metadata;
};

// The nodes `logits` depends on, from the input `images` [n, c, h, w] (or any input whose first
// axis is the batch, e.g. a language model's i32 ids [n, t]), as ONNX nodes at opset
// kOpsetVersion, one rule per dlf op (ExportedOps()); Dropout is left out (inference). Parameters and
// buffers become initializers under their own names (PyTorch's). The batch axis of the input
// and the output is dynamic ("batch"). An op without an ONNX form is an error naming it.
absl::StatusOr<onnx::ModelProto> ExportModel(const Graph& g, Value images, Value logits,
                                             const ExportOptions& options);

// The dlf ops ExportModel writes (the keys of its table), sorted.
std::vector<std::string> ExportedOps();

// Serializes `model` to `path` atomically (no partial file on failure).
absl::Status WriteModel(const onnx::ModelProto& model, const std::string& path);

}  // namespace dlf::onnx_export

#endif  // DLF_MODELS_ONNX_EXPORT_H_
