#include "tests/fuzz/onnx_entry.h"

#include <map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "graph/graph.h"
#include "models/onnx/import.h"
#include "onnx/onnx_pb.h"

namespace dlf::fuzz {
namespace {

constexpr int64_t kMaxInputElements = int64_t{1} << 16;

// Inputs for the file's declared ones: float zeros, integer ones (not initializers), or an error saying why not.
absl::Status InputsFor(const onnx::ModelProto& model, std::vector<std::pair<std::string, Tensor>>& out) {
  std::map<std::string, bool> initializer;
  for (const onnx::TensorProto& t : model.graph().initializer()) initializer[t.name()] = true;
  for (const onnx::ValueInfoProto& in : model.graph().input()) {
    if (initializer.count(in.name())) continue;
    const onnx::TypeProto_Tensor& type = in.type().tensor_type();
    const int elem = type.elem_type();
    const bool integer = elem == onnx::TensorProto::INT64 || elem == onnx::TensorProto::INT32 ||
                         elem == onnx::TensorProto::BOOL;
    if (!integer && elem != onnx::TensorProto::FLOAT) return absl::InvalidArgumentError("an input of another dtype");
    Shape shape;
    int64_t count = 1;
    for (const onnx::TensorShapeProto_Dimension& d : type.shape().dim()) {
      const int64_t size = d.has_dim_value() ? d.dim_value() : 1;
      if (size < 0 || size > kMaxInputElements || (count *= std::max<int64_t>(size, 1)) > kMaxInputElements) {
        return absl::InvalidArgumentError("an input too large to make");
      }
      shape.push_back(size);
    }
    Tensor t(integer ? DType::kI64 : DType::kF32, shape);
    if (integer) {
      std::fill(t.i64(), t.i64() + t.num_elements(), 1);  // ones: valid steps, sizes and indices
    } else {
      std::fill(t.f32(), t.f32() + t.num_elements(), 0.0f);
    }
    out.emplace_back(in.name(), std::move(t));
  }
  return absl::OkStatus();
}

}  // namespace

OnnxImportResults ImportBothWays(const std::string& bytes, const std::string& path) {
  OnnxImportResults results;
  results.classifier = onnx_import::ParseModel(bytes, path).status();
  onnx::ModelProto model;
  std::vector<std::pair<std::string, Tensor>> inputs;
  if (!model.ParseFromString(bytes)) {
    results.network = absl::InvalidArgumentError(absl::StrCat(path, ": not an ONNX model"));
    return results;
  }
  if (absl::Status s = InputsFor(model, inputs); !s.ok()) {
    results.network = absl::Status(s.code(), absl::StrCat(path, ": ", s.message()));
    return results;
  }
  std::map<std::string, const Tensor*> given;
  for (const auto& [name, t] : inputs) given[name] = &t;
  Graph g;
  results.network = onnx_import::BuildNetwork(bytes, path, g, given).status();
  return results;
}

}  // namespace dlf::fuzz
