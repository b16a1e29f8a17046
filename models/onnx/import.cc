#include "models/onnx/import.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <tuple>
#include <type_traits>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "data/file_io.h"
#include "graph/status_macros.h"
#include "models/onnx/attributes.h"
#include "nlohmann/json.hpp"
#include "onnx/onnx_pb.h"
#include "ops/op_util.h"  // BroadcastShapes
#include "ops/ops.h"

namespace dlf::onnx_import {
namespace {

using Ints = std::vector<int64_t>;

constexpr int64_t kMaxFileBytes = int64_t{2} << 30;  // protobuf's own limit

struct OnnxFile {
  std::string path;
  onnx::ModelProto model;
  int64_t opset = 0;
  std::map<std::string, const onnx::TensorProto*> initializers;
  Shape input_shape;  // [c, h, w]; 0 where the file leaves the size open
  std::string dynamic;  // names the first open size, if any
  int64_t classes = 0;
  std::set<std::string> read;  // the values some node or the graph's outputs read
};

// The values of `t`, stored either as raw little-endian bytes or in its typed list `values`,
// as a tensor of `dtype` (elements of type Out); their count is checked against the shape
// before anything is allocated.
template <typename Stored, typename Out, typename List>
absl::StatusOr<Tensor> TensorData(const onnx::TensorProto& t, DType dtype, const List& values) {
  auto bad = [&](const std::string& why) {
    return absl::InvalidArgumentError(absl::StrCat("initializer '", t.name(), "' ", why));
  };
  Shape shape;
  int64_t n = 1;
  for (int64_t d : t.dims()) {
    if (d < 0 || (d > 0 && n > (int64_t{1} << 40) / d)) return bad(absl::StrCat("has a bad dimension ", d));
    shape.push_back(d);
    n *= d;
  }
  const std::string& raw = t.raw_data();
  const int64_t stored = t.has_raw_data() ? static_cast<int64_t>(raw.size() / sizeof(Stored)) : values.size();
  if (stored != n || (t.has_raw_data() && raw.size() % sizeof(Stored) != 0)) {
    return bad(absl::StrCat("holds ", stored, " values for its shape ", ShapeString(shape)));
  }
  Tensor out(dtype, shape);
  if constexpr (std::is_same_v<Stored, Out>) {  // weights: one copy, not an element loop
    if (t.has_raw_data()) {
      std::memcpy(out.raw(), raw.data(), raw.size());
      return out;
    }
  }
  Out* dst = static_cast<Out*>(out.raw());
  for (int64_t i = 0; i < n; ++i) {
    Stored v;
    if (t.has_raw_data()) {
      std::memcpy(&v, raw.data() + i * sizeof(Stored), sizeof(Stored));
    } else {
      v = static_cast<Stored>(values[i]);
    }
    dst[i] = static_cast<Out>(v);
  }
  return out;
}

// Float tensors as f32; int64, int32 and bool ones as int64 (dlf evaluates them at import).
absl::StatusOr<Tensor> ToTensor(const onnx::TensorProto& t) {
  if (t.data_location() == onnx::TensorProto::EXTERNAL) {
    return absl::InvalidArgumentError(absl::StrCat("initializer '", t.name(), "' keeps its data in another file; not supported"));
  }
  switch (t.data_type()) {
    case onnx::TensorProto::FLOAT: return TensorData<float, float>(t, DType::kF32, t.float_data());
    case onnx::TensorProto::INT64: return TensorData<int64_t, int64_t>(t, DType::kI64, t.int64_data());
    case onnx::TensorProto::INT32: return TensorData<int32_t, int64_t>(t, DType::kI64, t.int32_data());
    case onnx::TensorProto::BOOL: return TensorData<uint8_t, int64_t>(t, DType::kI64, t.int32_data());
    default: break;
  }
  using DataType = onnx::TensorProto::DataType;
  const std::string type = onnx::TensorProto::DataType_IsValid(t.data_type())
                               ? onnx::TensorProto::DataType_Name(static_cast<DataType>(t.data_type()))
                               : absl::StrCat(t.data_type());
  return absl::UnimplementedError(absl::StrCat("tensor '", t.name(), "' has ONNX data type ", type,
                                               "; dlf imports float, and int64, int32 and bool as integers"));
}

std::string NodeName(const onnx::NodeProto& n) {
  return n.name().empty() ? absl::StrCat(n.op_type(), " -> ", n.output_size() ? n.output(0) : "") : n.name();
}

// Negative axes counted from the end; each axis in range.
absl::StatusOr<Ints> Axes(const onnx::NodeProto& n, Ints axes, int64_t rank) {
  for (int64_t& a : axes) {
    if (a < -rank || a >= rank) {
      return absl::InvalidArgumentError(absl::StrCat("axis ", a, " out of range for rank ", rank));
    }
    if (a < 0) a += rank;
  }
  return axes;
}

// The element-wise ops of one input that map to one dlf op.
const std::map<std::string, Value (*)(Graph&, Value)>& UnaryOps() {
  static const auto* ops = new std::map<std::string, Value (*)(Graph&, Value)>{
      {"Relu", ops::Relu},   {"Sigmoid", ops::Sigmoid}, {"Tanh", ops::Tanh},         {"Sqrt", ops::Sqrt},
      {"Erf", ops::Erf},
      {"Exp", ops::Exp},     {"Log", ops::Log},         {"Neg", ops::Neg},           {"Abs", ops::Abs},
      {"Softplus", ops::Softplus}, {"HardSwish", ops::HardSwish},
      {"Reciprocal", [](Graph& g, Value x) { return ops::Pow(g, x, -1.0); }},
      {"Identity", [](Graph&, Value x) { return x; }}};
  return *ops;
}

const std::map<std::string, Value (*)(Graph&, Value, Value)>& BinaryOps() {
  static const auto* ops = new std::map<std::string, Value (*)(Graph&, Value, Value)>{
      {"Add", ops::Add}, {"Sub", ops::Sub}, {"Mul", ops::Mul}, {"Div", ops::Div}};
  return *ops;
}

// Builds one graph of the file's network on `images`.
class Builder {
 public:
  Builder(const OnnxFile& file, Graph& g, const models::ModelOptions& options)
      : file_(file), g_(g), options_(options) {}

  absl::StatusOr<Value> Build(Value images);
  // The general form: float inputs bound to `inputs`, int64 ones known; the outputs in order.
  absl::StatusOr<Network> BuildNetwork(const std::map<std::string, const Tensor*>& inputs);
  static bool Importable(const std::string& op);  // an op Dispatch has a function for
  static std::vector<std::string> ImportableOps();

 private:
  // Checks the node's attributes against what dlf understands (attributes.h) around Dispatch.
  absl::Status AddNode(const onnx::NodeProto& n);
  absl::Status AddNodes();  // every node of the file, in order; errors name the node
  absl::StatusOr<Value> Output(const std::string& name) const;
  absl::Status Dispatch(const onnx::NodeProto& n);
  // A float input of `n` (an earlier node's output, or an initializer made a parameter).
  absl::StatusOr<Value> In(const onnx::NodeProto& n, int i);
  // In(), or an invalid value when the optional input i is absent.
  absl::StatusOr<Value> OptionalIn(const onnx::NodeProto& n, int i) {
    if (i >= n.input_size() || n.input(i).empty()) return Value{};
    return In(n, i);
  }
  // BatchNormalization's running statistics, as buffers.
  absl::StatusOr<Value> Statistic(const onnx::NodeProto& n, int i);
  // An int64 input known when the graph is built (an initializer, a Constant, a Shape ...).
  absl::StatusOr<Ints> Known(const onnx::NodeProto& n, int i);
  absl::Status Unsupported(const onnx::NodeProto& n, const std::string& why = "");
  void Set(const onnx::NodeProto& n, Value v) { values_[n.output(0)] = v; }
  absl::Status Conv(const onnx::NodeProto& n);  // Conv and ConvTranspose
  absl::StatusOr<ops::ConvTranspose2DOptions> ConvAttributes(const onnx::NodeProto& n, Value x, Value w);
  absl::Status Pool(const onnx::NodeProto& n);
  absl::Status BatchNorm(const onnx::NodeProto& n);
  absl::Status Gemm(const onnx::NodeProto& n);
  absl::Status Reshape(const onnx::NodeProto& n);
  absl::Status Fold(const onnx::NodeProto& n);  // Constant, Shape, Gather, Unsqueeze, Concat of int64s
  // Equal, Mod, Not, Where (KnownLogicOps()) and Add, Sub, Mul, Div of known ints, with NumPy
  // broadcasting: the values and their shape.
  absl::StatusOr<std::pair<Ints, Shape>> FoldElementwise(const onnx::NodeProto& n);
  // One function per ONNX op (or family), found in Rules() by the node's op type.
  absl::Status Unary(const onnx::NodeProto& n);     // Relu, Sigmoid, Tanh, Sqrt, Exp, ... (UnaryOps())
  absl::Status Binary(const onnx::NodeProto& n);    // Add, Sub, Mul, Div, with NumPy broadcasting
  absl::Status Variadic(const onnx::NodeProto& n);  // Max, Min, Sum, Mean
  absl::Status GlobalAveragePool(const onnx::NodeProto& n);
  absl::Status Softmax(const onnx::NodeProto& n);
  absl::Status Dropout(const onnx::NodeProto& n);
  absl::Status Lrn(const onnx::NodeProto& n);
  absl::Status MatMul(const onnx::NodeProto& n);
  absl::Status Concat(const onnx::NodeProto& n);
  absl::Status Clip(const onnx::NodeProto& n);
  absl::Status HardSigmoid(const onnx::NodeProto& n);
  absl::Status ReduceMean(const onnx::NodeProto& n);  // and ReduceSum, ReduceMax
  absl::Status CastValues(const onnx::NodeProto& n);
  absl::Status Activation(const onnx::NodeProto& n);  // LeakyRelu, Elu
  absl::Status Transpose(const onnx::NodeProto& n);
  absl::Status Pad(const onnx::NodeProto& n);
  absl::Status Slice(const onnx::NodeProto& n);
  absl::Status Pow(const onnx::NodeProto& n);
  absl::Status Expand(const onnx::NodeProto& n);
  absl::Status GatherValues(const onnx::NodeProto& n);  // of a float tensor (known ints: Fold)
  absl::Status Squeeze(const onnx::NodeProto& n);       // and Unsqueeze, of a float tensor
  absl::Status Split(const onnx::NodeProto& n);
  // Slice's [begin, end) per dimension of `shape` from its starts, ends, axes and steps inputs.
  absl::StatusOr<std::pair<Ints, Ints>> SliceBounds(const onnx::NodeProto& n, const Shape& shape);
  // Slice and Transpose of a known int tensor: its values and shape.
  absl::StatusOr<std::pair<Ints, Shape>> SliceKnown(const onnx::NodeProto& n, const Ints& data, const Shape& shape);
  absl::StatusOr<std::pair<Ints, Shape>> TransposeKnown(const onnx::NodeProto& n, const Ints& data,
                                                        const Shape& shape);
  // A float scalar input known when the graph is built (an initializer or a Constant), or
  // `fallback` when the optional input is absent.
  absl::StatusOr<double> KnownScalar(const onnx::NodeProto& n, int i, double fallback);
  using Rule = absl::Status (Builder::*)(const onnx::NodeProto&);
  static const std::map<std::string, Rule>& Rules();

  const OnnxFile& file_;
  Graph& g_;
  NodeAttributes* attrs_ = nullptr;  // the attributes of the node being added
  const models::ModelOptions& options_;
  std::map<std::string, Value> values_;
  std::map<std::string, Ints> known_;
  std::map<std::string, double> scalars_;  // float Constants of one element
  // The shape of a known int tensor of other than one dimension (F.pad's pads as [n, 2]).
  std::map<std::string, Shape> known_shapes_;
  std::set<std::string> known_scalars_;  // known ints of shape [] (a Gather by one index drops its axis)
  void RecordKnownShape(const std::string& name, const Shape& shape) {
    if (shape.empty()) known_scalars_.insert(name);
    if (shape.size() > 1) known_shapes_[name] = shape;
  }
  Shape KnownShape(const std::string& name) const {
    auto it = known_shapes_.find(name);
    return it != known_shapes_.end() ? it->second : Shape{static_cast<int64_t>(known_.at(name).size())};
  }
};

absl::Status Builder::Unsupported(const onnx::NodeProto& n, const std::string& why) {
  return absl::UnimplementedError(absl::StrCat(
      file_.path, ": node '", NodeName(n), "': op ", n.op_type(), " (opset ", file_.opset, ")",
      why.empty() ? " is not supported by dlf's ONNX import" : absl::StrCat(": ", why)));
}

absl::StatusOr<Value> Builder::In(const onnx::NodeProto& n, int i) {
  if (i >= n.input_size() || n.input(i).empty()) {
    return absl::InvalidArgumentError(absl::StrCat(file_.path, ": node '", NodeName(n), "' lacks input ", i));
  }
  const std::string& name = n.input(i);
  if (auto it = values_.find(name); it != values_.end()) return it->second;
  if (known_.count(name)) {
    return Unsupported(n, absl::StrCat("its input '", name, "' is an integer tensor; dlf computes in float"));
  }
  auto init = file_.initializers.find(name);
  if (init == file_.initializers.end()) {
    return absl::InvalidArgumentError(absl::StrCat(file_.path, ": node '", NodeName(n), "' reads '", name,
                                                   "', which no earlier node writes"));
  }
  DLF_ASSIGN_OR_RETURN(Tensor t, ToTensor(*init->second));
  if (t.dtype() != DType::kF32) return Unsupported(n, absl::StrCat("input '", name, "' must be float"));
  const Value p = g_.Parameter(name, t.shape(), Initializer::Zeros());
  DLF_RETURN_IF_ERROR(g_.status());
  std::memcpy(g_.parameter_value(p).raw(), t.raw(), t.num_bytes());
  return values_[name] = p;
}

absl::StatusOr<Value> Builder::Statistic(const onnx::NodeProto& n, int i) {
  if (i >= n.input_size()) return Unsupported(n, absl::StrCat("input ", i, " is missing"));
  const std::string& name = n.input(i);
  auto init = file_.initializers.find(name);
  if (init == file_.initializers.end()) {
    return Unsupported(n, absl::StrCat("its statistic '", name, "' must be an initializer"));
  }
  DLF_ASSIGN_OR_RETURN(Tensor t, ToTensor(*init->second));
  const Value b = g_.Buffer(name, DType::kF32, t.shape());
  DLF_RETURN_IF_ERROR(g_.status());
  std::memcpy(g_.parameter_value(b).raw(), t.raw(), t.num_bytes());
  return b;
}

absl::StatusOr<Ints> Builder::Known(const onnx::NodeProto& n, int i) {
  if (i >= n.input_size()) return Unsupported(n, absl::StrCat("input ", i, " is missing"));
  const std::string& name = n.input(i);
  if (auto it = known_.find(name); it != known_.end()) return it->second;
  if (auto init = file_.initializers.find(name); init != file_.initializers.end()) {
    DLF_ASSIGN_OR_RETURN(Tensor t, ToTensor(*init->second));
    if (t.dtype() == DType::kI64) {
      RecordKnownShape(name, t.shape());
      return known_[name] = Ints(t.i64(), t.i64() + t.num_elements());
    }
  }
  return Unsupported(n, absl::StrCat("input '", name, "' must be int64 values known before the run"));
}

// Row-major strides of `shape`.
Ints Strides(const Shape& shape) {
  Ints strides(shape.size(), 1);
  for (int i = static_cast<int>(shape.size()) - 2; i >= 0; --i) strides[i] = strides[i + 1] * shape[i + 1];
  return strides;
}

// The comparisons and selections of shape subgraphs (torch.onnx's expand(n, -1, -1): Equal the
// shape to -1, Where it is, take the input's size), on known int tensors with NumPy
// broadcasting (FoldElementwise). Booleans are 0 and 1.
const std::map<std::string, int>& KnownLogicOps() {  // op -> number of inputs
  static const auto* ops = new std::map<std::string, int>{{"Equal", 2}, {"Mod", 2}, {"Not", 1}, {"Where", 3}};
  return *ops;
}

// One element of each element-wise op on known ints, from its inputs' elements `v`; an error
// says why there is none (the caller names the node).
using KnownElementFn = absl::StatusOr<int64_t> (*)(const int64_t* v);
absl::StatusOr<int64_t> Overflow(int64_t x, const char* op, int64_t y) {
  return absl::UnimplementedError(absl::StrCat(x, " ", op, " ", y, " overflows int64"));
}
const std::map<std::string, KnownElementFn>& KnownElementOps() {
  static const auto* ops = new std::map<std::string, KnownElementFn>{
      {"Equal", [](const int64_t* v) -> absl::StatusOr<int64_t> { return int64_t{v[0] == v[1]}; }},
      {"Not", [](const int64_t* v) -> absl::StatusOr<int64_t> { return int64_t{!v[0]}; }},
      {"Where", [](const int64_t* v) -> absl::StatusOr<int64_t> { return v[0] ? v[1] : v[2]; }},
      // With fmod 0: the result takes the divisor's sign, as Python's %.
      {"Mod", [](const int64_t* v) -> absl::StatusOr<int64_t> {
         if (v[1] == 0) return absl::UnimplementedError("modulo by zero");
         const int64_t r = v[0] % v[1];
         return r != 0 && ((r < 0) != (v[1] < 0)) ? r + v[1] : r;
       }},
      {"Add", [](const int64_t* v) -> absl::StatusOr<int64_t> {
         int64_t r;
         return __builtin_add_overflow(v[0], v[1], &r) ? Overflow(v[0], "Add", v[1]) : r;
       }},
      {"Sub", [](const int64_t* v) -> absl::StatusOr<int64_t> {
         int64_t r;
         return __builtin_sub_overflow(v[0], v[1], &r) ? Overflow(v[0], "Sub", v[1]) : r;
       }},
      {"Mul", [](const int64_t* v) -> absl::StatusOr<int64_t> {
         int64_t r;
         return __builtin_mul_overflow(v[0], v[1], &r) ? Overflow(v[0], "Mul", v[1]) : r;
       }},
      {"Div", [](const int64_t* v) -> absl::StatusOr<int64_t> {  // truncating, as C++'s
         if (v[1] == 0 || (v[0] == INT64_MIN && v[1] == -1)) {
           return absl::UnimplementedError("division by zero or overflow");
         }
         return v[0] / v[1];
       }},
  };
  return *ops;
}

absl::StatusOr<std::pair<Ints, Shape>> Builder::FoldElementwise(const onnx::NodeProto& n) {
  const std::string& op = n.op_type();
  const int arity = KnownLogicOps().count(op) ? KnownLogicOps().at(op) : 2;
  if (n.input_size() != arity) return Unsupported(n, absl::StrCat("expected ", arity, " inputs, found ", n.input_size()));
  std::vector<Ints> in(arity);
  std::vector<Shape> shapes(arity);
  Shape out_shape;
  for (int i = 0; i < arity; ++i) {
    DLF_ASSIGN_OR_RETURN(in[i], Known(n, i));
    shapes[i] = known_scalars_.count(n.input(i)) ? Shape{} : KnownShape(n.input(i));
    absl::StatusOr<Shape> joined = ops::BroadcastShapes(out_shape, shapes[i]);
    if (!joined.ok()) return Unsupported(n, std::string(joined.status().message()));
    out_shape = *joined;
  }
  // Each input's strides over the output's axes: 0 where it is broadcast.
  const int64_t rank = static_cast<int64_t>(out_shape.size());
  std::vector<Ints> strides(arity, Ints(rank, 0));
  for (int i = 0; i < arity; ++i) {
    const Ints own = Strides(shapes[i]);
    const int64_t offset = rank - static_cast<int64_t>(shapes[i].size());
    for (int64_t d = offset; d < rank; ++d) strides[i][d] = shapes[i][d - offset] == 1 ? 0 : own[d - offset];
  }
  const Ints out_strides = Strides(out_shape);
  Ints out(NumElements(out_shape));
  std::vector<int64_t> args(arity);
  for (int64_t e = 0; e < static_cast<int64_t>(out.size()); ++e) {
    for (int i = 0; i < arity; ++i) {
      int64_t at = 0;
      for (int64_t d = 0; d < rank; ++d) at += (e / out_strides[d] % out_shape[d]) * strides[i][d];
      args[i] = in[i][at];
    }
    const absl::StatusOr<int64_t> value = KnownElementOps().at(op)(args.data());
    if (!value.ok()) return Unsupported(n, std::string(value.status().message()));
    out[e] = *value;
  }
  return std::make_pair(out, out_shape);
}

absl::Status Builder::Fold(const onnx::NodeProto& n) {
  const std::string& op = n.op_type();
  Ints out;
  Shape out_shape;  // empty: one dimension
  if (op == "Constant") {
    const onnx::AttributeProto* value = attrs_->Get("value");
    if (value == nullptr) return Unsupported(n, "only the 'value' form of Constant is supported");
    DLF_ASSIGN_OR_RETURN(Tensor t, ToTensor(value->t()));
    if (t.dtype() == DType::kF32) {
      if (t.num_elements() == 1) scalars_[n.output(0)] = t.f32()[0];
      Set(n, g_.Constant(std::move(t), n.output(0)));
      return g_.status();
    }
    out.assign(t.i64(), t.i64() + t.num_elements());
    RecordKnownShape(n.output(0), t.shape());
  } else if (op == "Shape") {
    if (n.input_size() > 0 && known_.count(n.input(0))) {  // of a known int tensor
      out = KnownShape(n.input(0));
    } else {
      DLF_ASSIGN_OR_RETURN(const Value x, In(n, 0));
      out = g_.shape(x);
    }
    // Opset 15's start and end: a slice of the dimensions, negative counting from the end, clamped.
    const int64_t rank = static_cast<int64_t>(out.size());
    auto clamp = [rank](int64_t v) { return std::clamp<int64_t>(v < 0 ? v + rank : v, 0, rank); };
    const int64_t start = clamp(attrs_->Int("start")), end = clamp(attrs_->Int("end", rank));
    out = Ints(out.begin() + start, out.begin() + std::max(start, end));
  } else if (op == "Gather") {
    DLF_ASSIGN_OR_RETURN(const Ints data, Known(n, 0));
    DLF_ASSIGN_OR_RETURN(const Ints indices, Known(n, 1));
    if (KnownShape(n.input(0)).size() > 1) return Unsupported(n, "a gather from known ints of more than one dimension");
    for (int64_t i : indices) {
      if (i < -static_cast<int64_t>(data.size()) || i >= static_cast<int64_t>(data.size())) return Unsupported(n, "index out of range");
      out.push_back(data[i < 0 ? i + data.size() : i]);
    }
  } else if (KnownLogicOps().count(op) || BinaryOps().count(op)) {  // shape arithmetic, masks
    DLF_ASSIGN_OR_RETURN(std::tie(out, out_shape), FoldElementwise(n));
    if (out_shape.empty()) known_scalars_.insert(n.output(0));
  } else if (op == "Slice") {  // of a known int tensor, any step
    DLF_ASSIGN_OR_RETURN(const Ints data, Known(n, 0));
    DLF_ASSIGN_OR_RETURN(std::tie(out, out_shape), SliceKnown(n, data, KnownShape(n.input(0))));
  } else if (op == "Range") {  // of known ints: start, start + delta, ... before limit
    std::vector<int64_t> args(3);
    for (int i = 0; i < 3; ++i) {
      DLF_ASSIGN_OR_RETURN(const Ints v, Known(n, i));
      if (v.size() != 1) return Unsupported(n, absl::StrCat("input ", i, " must be one value"));
      args[i] = v[0];
    }
    const int64_t start = args[0], limit = args[1], delta = args[2];
    if (delta == 0) return Unsupported(n, "delta 0");
    const int64_t count = std::max<int64_t>(0, (limit - start + delta + (delta > 0 ? -1 : 1)) / delta);
    if (count > (int64_t{1} << 24)) return Unsupported(n, absl::StrCat(count, " values (expected at most 2^24)"));
    for (int64_t i = 0; i < count; ++i) out.push_back(start + i * delta);
  } else if (op == "ConstantOfShape") {
    DLF_ASSIGN_OR_RETURN(const Ints dims, Known(n, 0));
    const onnx::AttributeProto* value = attrs_->Get("value");
    Tensor fill(DType::kF32, {1});
    fill.f32()[0] = 0;
    if (value != nullptr) {
      DLF_ASSIGN_OR_RETURN(fill, ToTensor(value->t()));
    }
    if (fill.num_elements() != 1) return Unsupported(n, "its value must be one element");
    int64_t count = 1;
    for (int64_t d : dims) {
      if (d < 0 || d > (int64_t{1} << 24) || (count *= d) > (int64_t{1} << 24)) {
        return Unsupported(n, absl::StrCat("shape ", ShapeString(dims), " (expected at most 2^24 elements)"));
      }
    }
    if (fill.dtype() == DType::kF32) {
      Tensor t(DType::kF32, dims);
      std::fill(t.f32(), t.f32() + count, fill.f32()[0]);
      Set(n, g_.Constant(std::move(t), n.output(0)));
      return g_.status();
    }
    out.assign(count, fill.i64()[0]);
    out_shape = dims;
  } else if (op == "Reshape") {  // of a known int tensor
    DLF_ASSIGN_OR_RETURN(out, Known(n, 0));
    DLF_ASSIGN_OR_RETURN(out_shape, Known(n, 1));
    const Shape in = KnownShape(n.input(0));
    int64_t rest = static_cast<int64_t>(out.size()), unknown = -1;
    for (size_t i = 0; i < out_shape.size(); ++i) {
      if (out_shape[i] == 0 && i < in.size()) out_shape[i] = in[i];
      if (out_shape[i] == -1) {
        unknown = static_cast<int64_t>(i);
      } else if (out_shape[i] > 0 && rest % out_shape[i] == 0) {
        rest /= out_shape[i];
      } else {
        return Unsupported(n, absl::StrCat("cannot reshape ", out.size(), " known values to ", ShapeString(out_shape)));
      }
    }
    if (unknown >= 0) out_shape[unknown] = rest;
    if (NumElements(out_shape) != static_cast<int64_t>(out.size())) {
      return Unsupported(n, absl::StrCat("cannot reshape ", out.size(), " known values to ", ShapeString(out_shape)));
    }
  } else if (op == "Transpose") {  // of a known int tensor
    DLF_ASSIGN_OR_RETURN(const Ints data, Known(n, 0));
    DLF_ASSIGN_OR_RETURN(std::tie(out, out_shape), TransposeKnown(n, data, KnownShape(n.input(0))));
  } else if (op == "Cast") {  // of known ints: to an integer type they stay as they are
    const int64_t to = attrs_->Int("to");
    DLF_ASSIGN_OR_RETURN(out, Known(n, 0));
    if (to == onnx::TensorProto::FLOAT) {  // a constant, e.g. torch.clamp's integer bounds
      Tensor t(DType::kF32, {static_cast<int64_t>(out.size())});
      for (size_t i = 0; i < out.size(); ++i) t.f32()[i] = static_cast<float>(out[i]);
      if (out.size() == 1) scalars_[n.output(0)] = static_cast<double>(out[0]);
      Set(n, g_.Constant(std::move(t), n.output(0)));
      return g_.status();
    }
    if (to != onnx::TensorProto::INT64 && to != onnx::TensorProto::INT32) {
      return Unsupported(n, absl::StrCat("a cast of known integers to ONNX type ", to));
    }
  } else if (op == "Unsqueeze" || op == "Squeeze" || op == "Identity") {
    attrs_->Get("axes");  // a list of known ints keeps its values (their shape is not tracked)
    DLF_ASSIGN_OR_RETURN(out, Known(n, 0));
  } else {  // Concat of lists
    if (const int64_t axis = attrs_->Int("axis"); axis != 0 && axis != -1) {
      return Unsupported(n, absl::StrCat("a concat of known ints along axis ", axis, " (dlf joins lists)"));
    }
    for (int i = 0; i < n.input_size(); ++i) {
      DLF_ASSIGN_OR_RETURN(const Ints part, Known(n, i));
      out.insert(out.end(), part.begin(), part.end());
    }
  }
  if (out_shape.size() > 1) known_shapes_[n.output(0)] = out_shape;
  known_[n.output(0)] = std::move(out);
  return absl::OkStatus();
}

absl::StatusOr<std::pair<Ints, Shape>> Builder::SliceKnown(const onnx::NodeProto& n, const Ints& data,
                                                           const Shape& shape) {
  const int64_t rank = static_cast<int64_t>(shape.size());
  DLF_ASSIGN_OR_RETURN(const Ints starts, Known(n, 1));
  DLF_ASSIGN_OR_RETURN(const Ints ends, Known(n, 2));
  Ints axes(starts.size()), steps(starts.size(), 1);
  for (size_t i = 0; i < axes.size(); ++i) axes[i] = static_cast<int64_t>(i);
  if (n.input_size() > 3 && !n.input(3).empty()) {
    DLF_ASSIGN_OR_RETURN(axes, Known(n, 3));
  }
  if (n.input_size() > 4 && !n.input(4).empty()) {
    DLF_ASSIGN_OR_RETURN(steps, Known(n, 4));
  }
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size()) {
    return Unsupported(n, "starts, ends, axes and steps differ in length");
  }
  absl::StatusOr<Ints> checked = Axes(n, axes, rank);
  if (!checked.ok()) return Unsupported(n, std::string(checked.status().message()));
  // Per dimension: the first index, the step and the count taken (ONNX's clamping rules).
  Ints first(rank, 0), step(rank, 1), count(shape.begin(), shape.end());
  for (size_t i = 0; i < starts.size(); ++i) {
    const int64_t a = (*checked)[i], dim = shape[a], st = steps[i];
    if (st == 0 || st == INT64_MIN) return Unsupported(n, absl::StrCat("a step of ", st));
    auto fix = [dim](int64_t v) { return v < 0 ? v + dim : v; };
    int64_t b = fix(starts[i]), e = fix(ends[i]);
    if (st > 0) {
      b = std::clamp<int64_t>(b, 0, dim);
      e = std::clamp<int64_t>(e, 0, dim);
      count[a] = e > b ? (e - b - 1) / st + 1 : 0;
    } else {
      b = std::clamp<int64_t>(b, -1, dim - 1);
      e = std::clamp<int64_t>(e, -1, dim - 1);
      count[a] = b > e ? (b - e - 1) / -st + 1 : 0;
    }
    first[a] = b;
    step[a] = st;
  }
  const Ints strides = Strides(shape);
  Ints out;
  for (int64_t k = 0; k < NumElements(count); ++k) {
    int64_t rem = k, offset = 0;
    for (int64_t d = rank - 1; d >= 0; --d) {
      offset += (first[d] + (rem % count[d]) * step[d]) * strides[d];
      rem /= count[d];
    }
    out.push_back(data[offset]);
  }
  return std::make_pair(out, Shape(count.begin(), count.end()));
}

absl::StatusOr<std::pair<Ints, Shape>> Builder::TransposeKnown(const onnx::NodeProto& n, const Ints& data,
                                                               const Shape& shape) {
  const int64_t rank = static_cast<int64_t>(shape.size());
  Ints reversed(rank);
  for (int64_t i = 0; i < rank; ++i) reversed[i] = rank - 1 - i;
  absl::StatusOr<Ints> perm = Axes(n, attrs_->Ints("perm", reversed), rank);
  if (!perm.ok() || !std::is_permutation(perm->begin(), perm->end(), reversed.begin(), reversed.end())) {
    return Unsupported(n, absl::StrCat("perm must order the ", rank, " axes"));
  }
  Shape out_shape(rank);
  for (int64_t i = 0; i < rank; ++i) out_shape[i] = shape[(*perm)[i]];
  const Ints strides = Strides(shape);
  Ints out;
  for (int64_t k = 0; k < NumElements(out_shape); ++k) {
    int64_t rem = k, offset = 0;
    for (int64_t d = rank - 1; d >= 0; --d) {
      offset += (rem % out_shape[d]) * strides[(*perm)[d]];
      rem /= out_shape[d];
    }
    out.push_back(data[offset]);
  }
  return std::make_pair(out, out_shape);
}

// The attributes Conv and ConvTranspose share, with ONNX's defaults, and the explicit pads
// that auto_pad (and ConvTranspose's output_shape) stand for, from the shapes of x and w.
absl::StatusOr<ops::ConvTranspose2DOptions> Builder::ConvAttributes(const onnx::NodeProto& n, Value x, Value w) {
  const bool transposed = n.op_type() == "ConvTranspose";
  ops::ConvTranspose2DOptions o;
  o.stride = attrs_->Ints("strides");
  o.dilation = attrs_->Ints("dilations");
  o.groups = attrs_->Int("group");
  o.output_padding = transposed ? attrs_->Ints("output_padding") : Ints{0, 0};
  Ints pads = attrs_->Ints("pads");  // [top, left, bottom, right]
  const std::string mode = attrs_->String("auto_pad");
  const Ints output_shape = transposed ? attrs_->Ints("output_shape") : Ints{};
  if (o.stride.size() != 2 || o.dilation.size() != 2 || pads.size() != 4 || o.output_padding.size() != 2 ||
      !(output_shape.empty() || output_shape.size() == 2)) {
    return Unsupported(n, "dlf takes 2-D convolutions (2 strides, 2 dilations, 4 pads, 2 output_padding, 2 output_shape)");
  }
  const bool same = mode == "SAME_UPPER" || mode == "SAME_LOWER";
  if (mode != "NOTSET" && mode != "VALID" && !same) {
    return Unsupported(n, "auto_pad '" + mode + "' (expected NOTSET, VALID, SAME_UPPER or SAME_LOWER)");
  }
  if (mode == "VALID") pads = {0, 0, 0, 0};
  const Shape xs = g_.shape(x);
  const Shape ws = g_.shape(w);
  if (xs.size() != 4 || ws.size() != 4) {
    return Unsupported(n, absl::StrCat("dlf convolves 2-D images [n, c, h, w] with [o, i, kh, kw] weights, found ",
                                       ShapeString(xs), " and ", ShapeString(ws)));
  }
  if (const Ints kernel = attrs_->Ints("kernel_shape");
      !kernel.empty() && kernel != Ints{ws[2], ws[3]}) {
    return Unsupported(n, absl::StrCat("kernel_shape ", ShapeString(kernel), " disagrees with the weight's ",
                                       ShapeString(ws)));
  }
  for (int i = 0; i < 2 && (same || !output_shape.empty()); ++i) {
    const int64_t in = xs[2 + i], k = ws[2 + i];
    const int64_t span = (k - 1) * o.dilation[i] + 1, s = o.stride[i];
    int64_t total = 0;
    if (!transposed) {  // output size ceil(in / stride)
      total = std::max<int64_t>(0, ((in + s - 1) / s - 1) * s + span - in);
    } else {  // the spec's total_padding, for output_shape or (SAME) in * stride
      const int64_t out = output_shape.empty() ? in * s : output_shape[i];
      total = s * (in - 1) + o.output_padding[i] + span - out;
    }
    // SAME_UPPER puts the odd one at the end; ConvTranspose's output_shape without SAME_UPPER
    // at the start, as SAME_LOWER.
    if (total < 0) {  // an output_shape beyond the natural size: output_padding's extra rows
      o.output_padding[i] -= total;
      total = 0;
    }
    const int64_t small = total / 2;
    pads[i] = mode == "SAME_UPPER" ? small : total - small;
    pads[2 + i] = total - pads[i];
  }
  o.padding = {pads[0], pads[1]};
  o.padding_end = {pads[2], pads[3]};
  return o;
}

absl::Status Builder::Conv(const onnx::NodeProto& n) {
  DLF_ASSIGN_OR_RETURN(const Value x, In(n, 0));
  DLF_ASSIGN_OR_RETURN(const Value w, In(n, 1));
  DLF_ASSIGN_OR_RETURN(const Value b, OptionalIn(n, 2));
  DLF_ASSIGN_OR_RETURN(const ops::ConvTranspose2DOptions o, ConvAttributes(n, x, w));
  if (n.op_type() == "ConvTranspose") {
    Set(n, ops::ConvTranspose2D(g_, x, w, b, o));
  } else {
    Set(n, ops::Conv2D(g_, x, w, b, o));
  }
  return g_.status();
}

absl::Status Builder::Pool(const onnx::NodeProto& n) {
  DLF_ASSIGN_OR_RETURN(const Value x, In(n, 0));
  if (g_.shape(x).size() != 4) {
    return Unsupported(n, absl::StrCat("dlf pools 2-D images [n, c, h, w], found ", ShapeString(g_.shape(x))));
  }
  const bool max = n.op_type() == "MaxPool";
  const Ints pads = attrs_->Ints("pads");
  const bool padded = pads != Ints{0, 0, 0, 0};
  // auto_pad is left unread: only its default, NOTSET, passes.
  if (n.output_size() > 1 || attrs_->Ints("dilations", {1, 1}) != Ints{1, 1} || pads.size() != 4 ||
      pads[0] != pads[2] || pads[1] != pads[3] || (!max && padded && attrs_->Int("count_include_pad") != 0)) {
    return Unsupported(n, "dlf takes 2-D pooling with symmetric explicit pads, no indices output, and "
                          "averages that exclude the padding");
  }
  const Ints kernel = attrs_->Ints("kernel_shape");
  if (kernel.size() != 2 || 2 * pads[0] > kernel[0] || 2 * pads[1] > kernel[1]) {
    return Unsupported(n, absl::StrCat("kernel ", ShapeString(kernel), " with pads ", ShapeString(pads),
                                       " (dlf pads at most half a 2-D kernel)"));
  }
  ops::Pool2DOptions o{.kernel = kernel, .stride = attrs_->Ints("strides"), .padding = {pads[0], pads[1]},
                       .ceil_mode = attrs_->Int("ceil_mode") != 0};
  Set(n, max ? ops::MaxPool2D(g_, x, o) : ops::AvgPool2D(g_, x, o));
  return g_.status();
}

absl::Status Builder::BatchNorm(const onnx::NodeProto& n) {
  if (n.output_size() > 1 || attrs_->Int("training_mode") != 0) {
    return Unsupported(n, "export the network in inference mode (one output)");
  }
  std::vector<Value> in(6);
  for (int i = 0; i < 3; ++i) {
    DLF_ASSIGN_OR_RETURN(in[i], In(n, i));
  }
  DLF_ASSIGN_OR_RETURN(in[3], Statistic(n, 3));
  DLF_ASSIGN_OR_RETURN(in[4], Statistic(n, 4));
  // PyTorch's name for the count beside running_mean; a name of its own otherwise.
  std::string count = n.input(3);
  count = absl::EndsWith(count, ".running_mean") ? absl::StrCat(count.substr(0, count.size() - 13), ".num_batches_tracked")
                                                 : absl::StrCat(count, ".num_batches_tracked");
  in[5] = g_.Buffer(count, DType::kI64, {});
  const double momentum = 1.0 - attrs_->Float("momentum");  // ONNX weighs the old value
  Set(n, g_.Op("BatchNorm", in, {{"eps", attrs_->Float("epsilon")}, {"momentum", momentum}})[0]);
  return g_.status();
}

// alpha * A' * B' + beta * C, with A' and B' transposed where transA and transB say.
absl::Status Builder::Gemm(const onnx::NodeProto& n) {
  DLF_ASSIGN_OR_RETURN(Value a, In(n, 0));
  DLF_ASSIGN_OR_RETURN(const Value w, In(n, 1));
  DLF_ASSIGN_OR_RETURN(Value c, OptionalIn(n, 2));
  const bool trans_b = attrs_->Int("transB") != 0;
  const double alpha = attrs_->Float("alpha"), beta = attrs_->Float("beta");
  if (attrs_->Int("transA") != 0) a = ops::Transpose(g_, a, {1, 0});
  if (c.valid() && beta != 1) c = ops::Scale(g_, c, beta);
  if (trans_b && alpha == 1 && (!c.valid() || g_.shape(c).size() == 1)) {
    Set(n, ops::Linear(g_, a, w, c));  // PyTorch's nn.Linear: weight [out, in]
  } else {
    Value y = ops::MatMul(g_, a, w, false, trans_b);
    if (alpha != 1) y = ops::Scale(g_, y, alpha);
    Set(n, c.valid() ? ops::Add(g_, y, c) : y);
  }
  return g_.status();
}

absl::Status Builder::Reshape(const onnx::NodeProto& n) {
  DLF_ASSIGN_OR_RETURN(const Value x, In(n, 0));
  const Shape in = g_.shape(x);
  Ints shape;
  if (n.op_type() == "Flatten") {
    int64_t axis = attrs_->Int("axis");
    if (axis < 0) axis += static_cast<int64_t>(in.size());
    if (axis < 0 || axis > static_cast<int64_t>(in.size())) return Unsupported(n, "axis out of range");
    shape = {NumElements(Shape(in.begin(), in.begin() + axis)), NumElements(Shape(in.begin() + axis, in.end()))};
  } else {
    if (attrs_->Int("allowzero") != 0) return Unsupported(n, "allowzero 1 (dlf's 0 copies the input's dimension)");
    DLF_ASSIGN_OR_RETURN(shape, Known(n, 1));
    for (size_t i = 0; i < shape.size(); ++i) {
      if (shape[i] == 0 && i < in.size()) shape[i] = in[i];  // 0 copies the input's dimension
    }
  }
  Set(n, ops::Reshape(g_, x, shape));
  return g_.status();
}

const std::map<std::string, Builder::Rule>& Builder::Rules() {
  static const auto* rules = new std::map<std::string, Rule>{
      {"Conv", &Builder::Conv},
      {"ConvTranspose", &Builder::Conv},
      {"MaxPool", &Builder::Pool},
      {"AveragePool", &Builder::Pool},
      {"BatchNormalization", &Builder::BatchNorm},
      {"Gemm", &Builder::Gemm},
      {"Reshape", &Builder::Reshape},
      {"Flatten", &Builder::Reshape},
      {"GlobalAveragePool", &Builder::GlobalAveragePool},
      {"Softmax", &Builder::Softmax},
      {"LogSoftmax", &Builder::Softmax},
      {"Dropout", &Builder::Dropout},
      {"LRN", &Builder::Lrn},
      {"MatMul", &Builder::MatMul},
      {"Concat", &Builder::Concat},
      {"Clip", &Builder::Clip},
      {"HardSigmoid", &Builder::HardSigmoid},
      {"ReduceMean", &Builder::ReduceMean},
      {"Transpose", &Builder::Transpose},
      {"Pad", &Builder::Pad},
      {"Slice", &Builder::Slice},
      {"Pow", &Builder::Pow},
      {"Expand", &Builder::Expand},
      {"Split", &Builder::Split},
      {"Max", &Builder::Variadic},
      {"Min", &Builder::Variadic},
      {"Sum", &Builder::Variadic},
      {"Mean", &Builder::Variadic},
      {"ReduceSum", &Builder::ReduceMean},
      {"ReduceMax", &Builder::ReduceMean},
      {"Cast", &Builder::CastValues},
      {"LeakyRelu", &Builder::Activation},
      {"Elu", &Builder::Activation},
  };
  static const auto* all = [] {
    auto* table = new std::map<std::string, Rule>(*rules);
    for (const auto& [name, fn] : UnaryOps()) table->emplace(name, &Builder::Unary);
    for (const auto& [name, fn] : BinaryOps()) table->emplace(name, &Builder::Binary);
    return table;
  }();
  return *all;
}

absl::Status Builder::Unary(const onnx::NodeProto& n) {
  DLF_ASSIGN_OR_RETURN(const Value x, In(n, 0));
  Set(n, UnaryOps().at(n.op_type())(g_, x));
  return g_.status();
}

absl::Status Builder::Binary(const onnx::NodeProto& n) {
  if (n.input_size() != 2) return Unsupported(n, absl::StrCat("expected 2 inputs, found ", n.input_size()));
  DLF_ASSIGN_OR_RETURN(const Value a, In(n, 0));
  DLF_ASSIGN_OR_RETURN(const Value b, In(n, 1));
  Set(n, BinaryOps().at(n.op_type())(g_, a, b));
  return g_.status();
}

// Max, Min, Sum and Mean of one or more inputs, with NumPy broadcasting.
absl::Status Builder::Variadic(const onnx::NodeProto& n) {
  const std::string& op = n.op_type();
  if (n.input_size() < 1) return Unsupported(n, "expected at least one input");
  static const auto* combines = new std::map<std::string, Value (*)(Graph&, Value, Value)>{
      {"Max", ops::Maximum}, {"Min", ops::Minimum}, {"Sum", ops::Add}, {"Mean", ops::Add}};
  const auto combine = combines->at(op);
  DLF_ASSIGN_OR_RETURN(Value y, In(n, 0));
  for (int i = 1; i < n.input_size(); ++i) {
    DLF_ASSIGN_OR_RETURN(const Value x, In(n, i));
    y = combine(g_, y, x);
  }
  Set(n, op == "Mean" ? ops::Scale(g_, y, 1.0 / n.input_size()) : y);
  return g_.status();
}

absl::Status Builder::GlobalAveragePool(const onnx::NodeProto& n) {
  DLF_ASSIGN_OR_RETURN(const Value x, In(n, 0));
  Set(n, ops::ReduceMean(g_, x, {2, 3}, true));
  return g_.status();
}

absl::Status Builder::Softmax(const onnx::NodeProto& n) {
  DLF_ASSIGN_OR_RETURN(const Value x, In(n, 0));
  const int64_t axis = attrs_->Int("axis", file_.opset >= 13 ? -1 : 1);
  // Before opset 13 Softmax flattened the axes from `axis` on: the same as one axis only for the last.
  const int64_t rank = static_cast<int64_t>(g_.shape(x).size());
  if (file_.opset < 13 && axis != -1 && axis != rank - 1) return Unsupported(n, "softmax before opset 13 over the last axis only");
  Set(n, (n.op_type() == "Softmax" ? ops::Softmax : ops::LogSoftmax)(g_, x, axis));
  return g_.status();
}

absl::Status Builder::Dropout(const onnx::NodeProto& n) {
  DLF_ASSIGN_OR_RETURN(const Value x, In(n, 0));
  if (n.output_size() > 1 && file_.read.count(n.output(1))) {
    return Unsupported(n, "its mask output (dlf's dropout keeps its mask inside)");
  }
  DLF_ASSIGN_OR_RETURN(const double ratio, KnownScalar(n, 1, attrs_->Float("ratio")));
  attrs_->Has("seed");  // dlf draws every dropout mask from its run's seed, step and sample
  // training_mode: dlf's run decides, as for its own Dropout, where a constant false (an
  // eval-mode export) or a ratio of 0 (Swin's F.dropout(p=0.0)) makes them agree.
  if (ratio != 0 && n.input_size() > 2 && !n.input(2).empty()) {
    const absl::StatusOr<Ints> mode = Known(n, 2);
    if (!mode.ok() || mode->size() != 1 || (*mode)[0] != 0) {
      return Unsupported(n, "a training_mode other than a constant false (dlf drops in training runs only)");
    }
  }
  Set(n, ratio == 0 ? x : ops::Dropout(g_, x, ratio));
  return g_.status();
}

absl::Status Builder::Lrn(const onnx::NodeProto& n) {
  DLF_ASSIGN_OR_RETURN(const Value x, In(n, 0));
  if (!attrs_->Has("size")) return Unsupported(n, "its attribute 'size' (required) is missing");
  Set(n, ops::LocalResponseNorm(g_, x, {.size = attrs_->Int("size"), .alpha = attrs_->Float("alpha"),
                                        .beta = attrs_->Float("beta"), .k = attrs_->Float("bias")}));
  return g_.status();
}

absl::Status Builder::MatMul(const onnx::NodeProto& n) {
  DLF_ASSIGN_OR_RETURN(const Value a, In(n, 0));
  DLF_ASSIGN_OR_RETURN(const Value b, In(n, 1));
  const Shape as = g_.shape(a);  // copies: adding nodes may move the graph's shapes
  if (as.size() > 2 && g_.shape(b).size() == 2) {  // [*, k] x [k, n], as a linear layer on the last axis
    const Value flat = ops::Reshape(g_, a, {-1, as.back()});
    Shape out(as.begin(), as.end() - 1);
    out.push_back(g_.shape(b)[1]);
    Set(n, ops::Reshape(g_, ops::MatMul(g_, flat, b), out));
    return g_.status();
  }
  const Shape bs = g_.shape(b);
  if (as.size() > 2 && bs.size() == as.size() && std::equal(as.begin(), as.end() - 2, bs.begin())) {
    // [*, m, k] x [*, k, n] with the same leading axes: a batched product over them.
    const size_t r = as.size();
    const Value a3 = ops::Reshape(g_, a, {-1, as[r - 2], as[r - 1]}), b3 = ops::Reshape(g_, b, {-1, bs[r - 2], bs[r - 1]});
    Shape out(as.begin(), as.end() - 1);
    out.push_back(bs[r - 1]);
    Set(n, ops::Reshape(g_, ops::BatchMatMul(g_, a3, b3), out));
    return g_.status();
  }
  Set(n, ops::MatMul(g_, a, b));
  return g_.status();
}

// Gather of a float tensor by indices known when the graph is built: one index (torch's x[:, 0])
// is a Slice that drops the axis; indices into the rows of a [rows, dim] table (an embedding,
// Swin's relative position bias) are an Embedding of those ids.
absl::Status Builder::GatherValues(const onnx::NodeProto& n) {
  DLF_ASSIGN_OR_RETURN(const Value x, In(n, 0));
  DLF_ASSIGN_OR_RETURN(Ints indices, Known(n, 1));
  const Shape shape = g_.shape(x);
  const int64_t rank = static_cast<int64_t>(shape.size());
  int64_t axis = attrs_->Int("axis");
  if (axis < -rank || axis >= rank) return Unsupported(n, absl::StrCat("axis ", axis, " for rank ", rank));
  if (axis < 0) axis += rank;
  for (int64_t& i : indices) {
    if (i < -shape[axis] || i >= shape[axis]) return Unsupported(n, absl::StrCat("index ", i, " outside axis ", axis, " of ", ShapeString(shape)));
    if (i < 0) i += shape[axis];
  }
  if (known_scalars_.count(n.input(1))) {
    Ints begin(rank, 0), size = shape;
    begin[axis] = indices[0];
    size[axis] = 1;
    Shape out = shape;
    out.erase(out.begin() + axis);
    Set(n, ops::Reshape(g_, ops::Slice(g_, x, begin, size), out));
    return g_.status();
  }
  // Several indices: an Embedding of the rows of [rows, rest] with the gathered axis moved first.
  Ints perm(rank);
  for (int64_t i = 0; i < rank; ++i) perm[i] = i;
  std::rotate(perm.begin(), perm.begin() + axis, perm.begin() + axis + 1);  // [axis, 0 .. axis-1, axis+1 ..]
  const Value front = axis == 0 ? x : ops::Transpose(g_, x, perm);
  const Shape moved = g_.shape(front);
  const Value table = ops::Reshape(g_, front, {moved[0], NumElements(moved) / std::max<int64_t>(moved[0], 1)});
  const Shape index_shape = KnownShape(n.input(1));
  Tensor ids(DType::kI32, {static_cast<int64_t>(indices.size())});
  for (size_t i = 0; i < indices.size(); ++i) ids.i32()[i] = static_cast<int32_t>(indices[i]);
  const Value rows = ops::Embedding(g_, table, g_.Constant(std::move(ids), n.output(0) + ".ids"));
  // [indices..., the other axes in order], then the indices' axes moved to where `axis` was.
  Shape gathered = index_shape;
  gathered.insert(gathered.end(), moved.begin() + 1, moved.end());
  Value y = ops::Reshape(g_, rows, gathered);
  if (axis > 0) {
    const int64_t q = static_cast<int64_t>(index_shape.size());
    Ints back;
    for (int64_t i = 0; i < axis; ++i) back.push_back(q + i);
    for (int64_t i = 0; i < q; ++i) back.push_back(i);
    for (int64_t i = q + axis; i < static_cast<int64_t>(gathered.size()); ++i) back.push_back(i);
    y = ops::Transpose(g_, y, back);
  }
  Set(n, y);
  return g_.status();
}

// Unsqueeze inserts axes of size 1 at `axes` (of the output); Squeeze removes `axes` (all of size
// 1 when absent). Opset 13 gives the axes as an input, earlier ones as an attribute.
absl::Status Builder::Squeeze(const onnx::NodeProto& n) {
  DLF_ASSIGN_OR_RETURN(const Value x, In(n, 0));
  Ints axes;
  if (n.input_size() > 1 && !n.input(1).empty()) {
    DLF_ASSIGN_OR_RETURN(axes, Known(n, 1));
  } else if (const onnx::AttributeProto* a = attrs_->Get("axes"); a != nullptr) {
    axes.assign(a->ints().begin(), a->ints().end());
  }
  const Shape in = g_.shape(x);
  const bool unsqueeze = n.op_type() == "Unsqueeze";
  const int64_t rank = static_cast<int64_t>(in.size()) + (unsqueeze ? static_cast<int64_t>(axes.size()) : 0);
  std::vector<bool> listed(rank, false);
  for (int64_t a : axes) {
    if (a < -rank || a >= rank) return Unsupported(n, absl::StrCat("axis ", a, " for rank ", rank));
    if (listed[a < 0 ? a + rank : a]) return Unsupported(n, absl::StrCat("axis ", a, " is listed twice"));
    listed[a < 0 ? a + rank : a] = true;
  }
  Shape out;
  if (unsqueeze) {
    for (int64_t i = 0, j = 0; i < rank; ++i) out.push_back(listed[i] ? 1 : in[j++]);
  } else {
    for (int64_t i = 0; i < rank; ++i) {
      const bool drop = axes.empty() ? in[i] == 1 : listed[i];
      if (drop && in[i] != 1) return Unsupported(n, absl::StrCat("axis ", i, " of ", ShapeString(in), " is not of size 1"));
      if (!drop) out.push_back(in[i]);
    }
  }
  Set(n, ops::Reshape(g_, x, out));
  return g_.status();
}

// Expand(x, shape): x broadcast with `shape` both ways (ONNX's rule: the output is their
// broadcast), the shape known when the graph is built (e.g. from Shape(images)).
absl::Status Builder::Expand(const onnx::NodeProto& n) {
  DLF_ASSIGN_OR_RETURN(const Value x, In(n, 0));
  DLF_ASSIGN_OR_RETURN(const Ints shape, Known(n, 1));
  absl::StatusOr<Shape> target = ops::BroadcastShapes(g_.shape(x), shape);
  if (!target.ok()) return Unsupported(n, std::string(target.status().message()));
  Set(n, *target == g_.shape(x) ? x : ops::BroadcastTo(g_, x, *target));
  return g_.status();
}

// Split(x, split) along `axis`: the sizes from the input (opset 13) or attribute (before), or
// equal parts, one per output.
absl::Status Builder::Split(const onnx::NodeProto& n) {
  DLF_ASSIGN_OR_RETURN(const Value x, In(n, 0));
  const int64_t rank = static_cast<int64_t>(g_.shape(x).size());
  int64_t axis = attrs_->Int("axis");
  if (axis < -rank || axis >= rank) return Unsupported(n, absl::StrCat("axis ", axis, " for rank ", rank));
  if (axis < 0) axis += rank;
  Ints sizes;
  if (n.input_size() > 1 && !n.input(1).empty()) {
    DLF_ASSIGN_OR_RETURN(sizes, Known(n, 1));
  } else if (const onnx::AttributeProto* a = attrs_->Get("split"); a != nullptr) {
    sizes.assign(a->ints().begin(), a->ints().end());
  } else {
    const int64_t parts = n.output_size(), dim = g_.shape(x)[axis];
    if (dim % parts != 0) return Unsupported(n, absl::StrCat(parts, " equal parts of ", dim));
    sizes.assign(parts, dim / parts);
  }
  if (static_cast<int>(sizes.size()) != n.output_size()) {
    return Unsupported(n, absl::StrCat(sizes.size(), " sizes for ", n.output_size(), " outputs"));
  }
  const std::vector<Value> parts = ops::Split(g_, x, axis, sizes);
  for (size_t i = 0; i < parts.size() && static_cast<int>(i) < n.output_size(); ++i) values_[n.output(i)] = parts[i];
  return g_.status();
}

absl::Status Builder::Concat(const onnx::NodeProto& n) {
  std::vector<Value> in;
  for (int i = 0; i < n.input_size(); ++i) {
    DLF_ASSIGN_OR_RETURN(const Value v, In(n, i));
    in.push_back(v);
  }
  Set(n, ops::Concat(g_, in, attrs_->Int("axis")));
  return g_.status();
}

absl::StatusOr<double> Builder::KnownScalar(const onnx::NodeProto& n, int i, double fallback) {
  if (i >= n.input_size() || n.input(i).empty()) return fallback;
  const std::string& name = n.input(i);
  if (auto it = scalars_.find(name); it != scalars_.end()) return it->second;
  if (auto init = file_.initializers.find(name); init != file_.initializers.end()) {
    DLF_ASSIGN_OR_RETURN(const Tensor t, ToTensor(*init->second));
    if (t.dtype() == DType::kF32 && t.num_elements() == 1) return static_cast<double>(t.f32()[0]);
  }
  return Unsupported(n, absl::StrCat("input '", name, "' must be one float known before the run"));
}

// min and max: inputs from opset 11 (attributes before), each known (a clip on oneDNN's eltwise)
// or a value of the run (then max(x, min) and min(., max), broadcast).
absl::Status Builder::Clip(const onnx::NodeProto& n) {
  DLF_ASSIGN_OR_RETURN(const Value x, In(n, 0));
  constexpr double kMax = std::numeric_limits<float>::max();
  const absl::StatusOr<double> lo = KnownScalar(n, 1, attrs_->Float("min", -kMax));
  const absl::StatusOr<double> hi = KnownScalar(n, 2, attrs_->Float("max", kMax));
  if (lo.ok() && hi.ok()) {
    Set(n, ops::Clip(g_, x, *lo, *hi));
    return g_.status();
  }
  Value y = x;
  if (lo.ok()) y = ops::Clip(g_, y, *lo, kMax);
  if (hi.ok()) y = ops::Clip(g_, y, -kMax, *hi);
  if (!lo.ok()) {
    DLF_ASSIGN_OR_RETURN(const Value min, In(n, 1));
    y = ops::Maximum(g_, y, min);
  }
  if (!hi.ok()) {
    DLF_ASSIGN_OR_RETURN(const Value max, In(n, 2));
    y = ops::Minimum(g_, y, max);
  }
  Set(n, y);
  return g_.status();
}

absl::Status Builder::HardSigmoid(const onnx::NodeProto& n) {  // max(0, min(1, alpha x + beta))
  DLF_ASSIGN_OR_RETURN(const Value x, In(n, 0));
  Set(n, ops::HardSigmoid(g_, x, attrs_->Float("alpha"), attrs_->Float("beta")));
  return g_.status();
}

// ReduceMean, ReduceSum and ReduceMax over `axes` (all when absent): an attribute up to opset
// 17, except ReduceSum's, an input from opset 13.
absl::Status Builder::ReduceMean(const onnx::NodeProto& n) {
  DLF_ASSIGN_OR_RETURN(const Value x, In(n, 0));
  const int64_t rank = static_cast<int64_t>(g_.shape(x).size());
  Ints all(rank);
  for (int64_t i = 0; i < rank; ++i) all[i] = i;
  Ints listed = attrs_->Ints("axes", all);
  if (n.input_size() > 1 && !n.input(1).empty()) {
    DLF_ASSIGN_OR_RETURN(listed, Known(n, 1));
  }
  if (listed.empty()) {
    if (attrs_->Int("noop_with_empty_axes") != 0) {
      Set(n, x);
      return absl::OkStatus();
    }
    listed = all;
  }
  absl::StatusOr<Ints> axes = Axes(n, listed, rank);
  if (!axes.ok()) return Unsupported(n, std::string(axes.status().message()));
  const bool keepdims = attrs_->Int("keepdims") != 0;
  const std::string& op = n.op_type();
  static const auto* reductions = new std::map<std::string, Value (*)(Graph&, Value, std::vector<int64_t>, bool)>{
      {"ReduceMean", ops::ReduceMean}, {"ReduceSum", ops::ReduceSum}, {"ReduceMax", ops::ReduceMax}};
  const auto reduce = reductions->at(op);
  Set(n, reduce(g_, x, *axes, keepdims));
  return g_.status();
}

// Cast of float values: to float it is the identity; dlf computes nothing else.
absl::Status Builder::CastValues(const onnx::NodeProto& n) {
  DLF_ASSIGN_OR_RETURN(const Value x, In(n, 0));
  if (const int64_t to = attrs_->Int("to"); to != onnx::TensorProto::FLOAT) {
    return Unsupported(n, absl::StrCat("a cast of float values to ONNX type ", to, " (dlf computes in float)"));
  }
  Set(n, x);
  return absl::OkStatus();
}

// The element-wise ops of one input and an attribute alpha: LeakyRelu and Elu.
absl::Status Builder::Activation(const onnx::NodeProto& n) {
  static const auto* activations = new std::map<std::string, Value (*)(Graph&, Value, double)>{
      {"LeakyRelu", ops::LeakyRelu}, {"Elu", ops::Elu}};
  DLF_ASSIGN_OR_RETURN(const Value x, In(n, 0));
  Set(n, activations->at(n.op_type())(g_, x, attrs_->Float("alpha")));
  return g_.status();
}

absl::Status Builder::Transpose(const onnx::NodeProto& n) {
  DLF_ASSIGN_OR_RETURN(const Value x, In(n, 0));
  const int64_t rank = static_cast<int64_t>(g_.shape(x).size());
  Ints reversed(rank);
  for (int64_t i = 0; i < rank; ++i) reversed[i] = rank - 1 - i;
  absl::StatusOr<Ints> perm = Axes(n, attrs_->Ints("perm", reversed), rank);
  if (!perm.ok()) return Unsupported(n, std::string(perm.status().message()));
  Set(n, ops::Transpose(g_, x, *perm));
  return g_.status();
}

absl::Status Builder::Pad(const onnx::NodeProto& n) {  // pads: an input from opset 11, an attribute before
  DLF_ASSIGN_OR_RETURN(const Value x, In(n, 0));
  if (const std::string mode = attrs_->String("mode"); mode != "constant") {
    return Unsupported(n, "mode '" + mode + "' (dlf pads with a constant)");
  }
  Ints pads = attrs_->Ints("pads");
  if (file_.opset >= 11) {
    DLF_ASSIGN_OR_RETURN(pads, Known(n, 1));
  }
  const size_t rank = g_.shape(x).size();
  if (pads.size() != 2 * rank) {
    return Unsupported(n, absl::StrCat("expected ", 2 * rank, " pads for a rank-", rank, " input, found ", pads.size()));
  }
  DLF_ASSIGN_OR_RETURN(const double value, KnownScalar(n, 2, attrs_->Float("value")));
  Set(n, ops::Pad(g_, x, Ints(pads.begin(), pads.begin() + rank), Ints(pads.begin() + rank, pads.end()), value));
  return g_.status();
}

absl::StatusOr<std::pair<Ints, Ints>> Builder::SliceBounds(const onnx::NodeProto& n, const Shape& shape) {
  const int64_t rank = static_cast<int64_t>(shape.size());
  DLF_ASSIGN_OR_RETURN(const Ints starts, Known(n, 1));
  DLF_ASSIGN_OR_RETURN(const Ints ends, Known(n, 2));
  Ints axes(starts.size());
  for (size_t i = 0; i < axes.size(); ++i) axes[i] = static_cast<int64_t>(i);
  if (n.input_size() > 3 && !n.input(3).empty()) {
    DLF_ASSIGN_OR_RETURN(axes, Known(n, 3));
  }
  if (n.input_size() > 4 && !n.input(4).empty()) {
    DLF_ASSIGN_OR_RETURN(const Ints steps, Known(n, 4));
    for (int64_t step : steps) {
      if (step != 1) return Unsupported(n, absl::StrCat("step ", step, " (dlf slices with step 1)"));
    }
  }
  if (ends.size() != starts.size() || axes.size() != starts.size()) {
    return Unsupported(n, "starts, ends and axes differ in length");
  }
  absl::StatusOr<Ints> checked = Axes(n, axes, rank);
  if (!checked.ok()) return Unsupported(n, std::string(checked.status().message()));
  Ints begin(rank, 0), end(shape.begin(), shape.end());
  for (size_t i = 0; i < starts.size(); ++i) {
    const int64_t a = (*checked)[i], dim = shape[a];
    auto clamp = [dim](int64_t v) { return std::clamp<int64_t>(v < 0 ? v + dim : v, 0, dim); };
    begin[a] = clamp(starts[i]);
    end[a] = std::max(begin[a], clamp(ends[i]));  // ends beyond the dimension (INT64_MAX) clamp
  }
  return std::make_pair(begin, end);
}

absl::Status Builder::Slice(const onnx::NodeProto& n) {
  DLF_ASSIGN_OR_RETURN(const Value x, In(n, 0));
  DLF_ASSIGN_OR_RETURN(const auto bounds, SliceBounds(n, g_.shape(x)));
  Ints size(bounds.first.size());
  for (size_t i = 0; i < size.size(); ++i) size[i] = bounds.second[i] - bounds.first[i];
  Set(n, ops::Slice(g_, x, bounds.first, size));
  return g_.status();
}

absl::Status Builder::Pow(const onnx::NodeProto& n) {  // x to a constant power
  DLF_ASSIGN_OR_RETURN(const Value x, In(n, 0));
  if (n.input_size() < 2) return Unsupported(n, "expected 2 inputs");
  DLF_ASSIGN_OR_RETURN(const double exponent, KnownScalar(n, 1, 0.0));
  Set(n, ops::Pow(g_, x, exponent));
  return g_.status();
}

// Ops Dispatch folds when their inputs are known ints (shape subgraphs), beside Rules().
const std::set<std::string>& FoldedOps() {
  static const auto* ops = new std::set<std::string>{"Constant", "ConstantOfShape", "Shape",    "Gather",
                                                     "Unsqueeze", "Squeeze",        "Concat",   "Identity",
                                                     "Cast",     "Slice",           "Reshape",  "Transpose",
                                                     "Range"};
  return *ops;
}

bool Builder::Importable(const std::string& op) {
  static const auto* ops = [] {
    const std::vector<std::string> all = ImportableOps();
    return new std::set<std::string>(all.begin(), all.end());
  }();
  return ops->count(op) > 0;
}

std::vector<std::string> Builder::ImportableOps() {
  std::set<std::string> ops(FoldedOps().begin(), FoldedOps().end());
  for (const auto& [op, rule] : Rules()) ops.insert(op);
  for (const auto& [op, arity] : KnownLogicOps()) ops.insert(op);
  return std::vector<std::string>(ops.begin(), ops.end());
}

absl::Status Builder::AddNode(const onnx::NodeProto& n) {
  if (!Importable(n.op_type())) return Unsupported(n);
  NodeAttributes attributes(n);
  attrs_ = &attributes;
  absl::Status status = attributes.CheckListed();
  if (status.ok()) status = Dispatch(n);
  if (status.ok()) status = attributes.CheckUnread();
  attrs_ = nullptr;
  return status;
}

absl::Status Builder::Dispatch(const onnx::NodeProto& n) {
  const std::string& op = n.op_type();
  if (!n.domain().empty() && n.domain() != "ai.onnx") return Unsupported(n, absl::StrCat("domain '", n.domain(), "'"));
  if (n.output_size() < 1) return Unsupported(n, "the node has no output");
  const bool first_known = n.input_size() > 0 && known_.count(n.input(0));
  // Gather, Unsqueeze and Squeeze of float values are ops of the model; of ints, shape arithmetic.
  // (Only for them: Known() converts an initializer, which for a weight is its whole tensor.)
  if (op == "Gather" || op == "Unsqueeze" || op == "Squeeze") {
    const bool ints_in = first_known || (n.input_size() > 0 && file_.initializers.count(n.input(0)) && Known(n, 0).ok());
    if (!ints_in) return op == "Gather" ? GatherValues(n) : Squeeze(n);
  }
  if (op == "Constant" || op == "Shape" || op == "Gather" || op == "Unsqueeze" || op == "Squeeze" ||
      (op == "Concat" && first_known)) {
    return Fold(n);
  }
  if (op == "ConstantOfShape" || op == "Range") return Fold(n);
  if ((op == "Identity" || op == "Cast" || op == "Slice" || op == "Reshape" || op == "Transpose") && first_known) {
    return Fold(n);
  }
  if (BinaryOps().count(op) && n.input_size() == 2 && first_known && known_.count(n.input(1))) return Fold(n);
  if (KnownLogicOps().count(op)) {
    for (const std::string& in : n.input()) {
      if (!known_.count(in)) return Unsupported(n, absl::StrCat("input '", in, "' is not known when the graph is built (dlf evaluates ", op, " on shapes only)"));
    }
    return Fold(n);
  }
  if (op == "Identity" && file_.initializers.count(n.output(0))) return absl::OkStatus();  // a named copy
  const auto rule = Rules().find(op);
  if (rule == Rules().end()) return Unsupported(n);
  return (this->*rule->second)(n);
}

absl::Status Builder::AddNodes() {
  for (const onnx::NodeProto& n : file_.model.graph().node()) {
    if (absl::Status s = AddNode(n); !s.ok()) {
      if (absl::StrContains(s.message(), file_.path)) return s;
      return absl::Status(s.code(),
                          absl::StrCat(file_.path, ": node '", NodeName(n), "' (", n.op_type(), "): ", s.message()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Value> Builder::Output(const std::string& name) const {
  if (auto out = values_.find(name); out != values_.end()) return out->second;
  if (known_.count(name)) {
    return absl::UnimplementedError(absl::StrCat(
        file_.path, ": the output '", name, "' is an integer tensor, which dlf evaluates when the graph is built"));
  }
  return absl::InvalidArgumentError(absl::StrCat(file_.path, ": no node writes the output '", name, "'"));
}

absl::StatusOr<Value> Builder::Build(Value images) {
  const onnx::GraphProto& graph = file_.model.graph();
  for (const onnx::ValueInfoProto& in : graph.input()) {
    if (!file_.initializers.count(in.name())) {
      values_[in.name()] = images;
      break;
    }
  }
  DLF_RETURN_IF_ERROR(AddNodes());
  DLF_ASSIGN_OR_RETURN(const Value logits, Output(graph.output(0).name()));
  if (options_.num_classes != file_.classes) {
    return absl::InvalidArgumentError(absl::StrCat(
        file_.path, ": the network has ", file_.classes, " outputs, but the data has ", options_.num_classes,
        " classes"));
  }
  return logits;
}

absl::StatusOr<Network> Builder::BuildNetwork(const std::map<std::string, const Tensor*>& inputs) {
  const onnx::GraphProto& graph = file_.model.graph();
  for (const onnx::ValueInfoProto& in : graph.input()) {
    if (file_.initializers.count(in.name())) continue;
    auto given = inputs.find(in.name());
    if (given == inputs.end()) {
      return absl::InvalidArgumentError(absl::StrCat(file_.path, ": no value given for the input '", in.name(), "'"));
    }
    const Tensor& t = *given->second;
    if (t.dtype() == DType::kI64) {
      RecordKnownShape(in.name(), t.shape());
      known_[in.name()] = Ints(t.i64(), t.i64() + t.num_elements());
    } else if (t.dtype() == DType::kF32) {
      values_[in.name()] = g_.Input(in.name(), DType::kF32, t.shape());
    } else {
      return absl::UnimplementedError(absl::StrCat(file_.path, ": the input '", in.name(), "' is ",
                                                   DTypeName(t.dtype()), "; dlf takes float and int64 inputs"));
    }
  }
  DLF_RETURN_IF_ERROR(g_.status());
  DLF_RETURN_IF_ERROR(AddNodes());
  Network network;
  for (const onnx::ValueInfoProto& out : graph.output()) {
    if (auto known = known_.find(out.name()); known != known_.end()) {
      Tensor t(DType::kI64, known_scalars_.count(out.name()) ? Shape{} : KnownShape(out.name()));
      if (t.num_elements() != static_cast<int64_t>(known->second.size())) {
        return Unsupported(graph.node(graph.node_size() - 1),
                           absl::StrCat("the shape of the integer output '", out.name(), "' is not tracked"));
      }
      std::copy(known->second.begin(), known->second.end(), t.i64());
      network.known.emplace(static_cast<int>(network.outputs.size()), std::move(t));
      network.outputs.push_back(Value{});
      continue;
    }
    DLF_ASSIGN_OR_RETURN(const Value v, Output(out.name()));
    network.outputs.push_back(v);
  }
  return network;
}

// The [c, h, w] of the image input and the number of outputs; a dynamic axis other than the
// batch is an error naming it.
absl::Status ReadSignature(OnnxFile& f) {
  const onnx::GraphProto& graph = f.model.graph();
  const onnx::ValueInfoProto* input = nullptr;
  for (const onnx::ValueInfoProto& in : graph.input()) {
    if (!f.initializers.count(in.name())) {
      input = &in;
      break;
    }
  }
  if (input == nullptr || graph.output_size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(f.path, ": expected one image input and one output, found ",
                                                   graph.input_size() - f.initializers.size(), " and ",
                                                   graph.output_size()));
  }
  const auto& dims = input->type().tensor_type().shape().dim();
  if (dims.size() != 4) {
    return absl::InvalidArgumentError(absl::StrCat(f.path, ": the input '", input->name(),
                                                   "' must be images [batch, c, h, w], found rank ", dims.size()));
  }
  for (int i = 1; i < 4; ++i) {
    const bool fixed = dims[i].has_dim_value() && dims[i].dim_value() > 0;
    if (!fixed && f.dynamic.empty()) {
      f.dynamic = absl::StrCat("the input '", input->name(), "' has a dynamic dimension ", i, " ('",
                               dims[i].dim_param(), "')");
    }
    f.input_shape.push_back(fixed ? dims[i].dim_value() : 0);
  }
  const auto& out = graph.output(0).type().tensor_type().shape().dim();
  if (out.size() != 2 || !out[1].has_dim_value()) {
    return absl::InvalidArgumentError(absl::StrCat(f.path, ": the output '", graph.output(0).name(),
                                                   "' must be logits [batch, classes]"));
  }
  f.classes = out[1].dim_value();
  return absl::OkStatus();
}

// The file's model; a classifier's input and output read into input_shape and classes.
absl::StatusOr<std::shared_ptr<const OnnxFile>> ParseOnnxFile(const std::string& bytes, const std::string& path,
                                                             bool classifier) {
  auto f = std::make_shared<OnnxFile>();
  f->path = path;
  if (!f->model.ParseFromString(bytes) || !f->model.has_graph()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not an ONNX model (not a protobuf ModelProto with a graph)"));
  }
  for (const onnx::OperatorSetIdProto& o : f->model.opset_import()) {
    if (o.domain().empty() || o.domain() == "ai.onnx") f->opset = o.version();
  }
  if (f->opset < kMinOpset || f->opset > kMaxOpset) {
    return absl::UnimplementedError(absl::StrCat(path, ": opset ", f->opset, "; dlf imports opsets ", kMinOpset,
                                                 " to ", kMaxOpset));
  }
  for (const onnx::TensorProto& t : f->model.graph().initializer()) f->initializers[t.name()] = &t;
  for (const onnx::NodeProto& n : f->model.graph().node()) f->read.insert(n.input().begin(), n.input().end());
  for (const onnx::ValueInfoProto& out : f->model.graph().output()) f->read.insert(out.name());
  // torch.onnx.export stores equal initializers once and names the copies with Identity nodes
  // (every fresh BatchNorm's weight is all ones): each copy is a tensor of its own name.
  for (const onnx::NodeProto& n : f->model.graph().node()) {
    if (n.op_type() != "Identity" || n.input_size() != 1 || n.output_size() != 1) continue;
    auto source = f->initializers.find(n.input(0));
    if (source != f->initializers.end()) f->initializers[n.output(0)] = source->second;
  }
  if (classifier) DLF_RETURN_IF_ERROR(ReadSignature(*f));
  return std::shared_ptr<const OnnxFile>(std::move(f));
}

// metadata_props[key] as a JSON list of floats (dlf's export writes the normalization so).
std::vector<float> FloatList(const std::map<std::string, std::string>& meta, const std::string& key) {
  auto it = meta.find(key);
  if (it == meta.end()) return {};
  const nlohmann::json j = nlohmann::json::parse(it->second, nullptr, false);
  std::vector<float> out;
  if (!j.is_array()) return out;
  for (const auto& v : j) {
    if (!v.is_number()) return {};
    out.push_back(v.get<float>());
  }
  return out;
}

// Builds the network once on a scratch graph, so that an unsupported op fails when the file is
// read, naming the node; returns the number of parameters.
absl::StatusOr<int64_t> CheckBuild(const OnnxFile& file, const Shape& image) {
  Graph check;
  const Value images = check.Input("images", DType::kF32, {1, image[0], image[1], image[2]});
  models::ModelOptions options;
  options.num_classes = file.classes;
  DLF_RETURN_IF_ERROR(Builder(file, check, options).Build(images).status());
  int64_t parameters = 0;
  for (Value p : check.parameters()) parameters += NumElements(check.shape(p));
  return parameters;
}

}  // namespace

absl::StatusOr<models::ModelSpec> ImportModel(const std::string& path) {
  DLF_ASSIGN_OR_RETURN(const std::string bytes, data::ReadFile(path, kMaxFileBytes));
  return ParseModel(bytes, path);
}

absl::StatusOr<models::ModelSpec> ParseModel(const std::string& bytes, const std::string& path) {
  DLF_ASSIGN_OR_RETURN(std::shared_ptr<const OnnxFile> file, ParseOnnxFile(bytes, path, /*classifier=*/true));
  std::map<std::string, std::string> meta;
  for (const auto& p : file->model.metadata_props()) meta[p.key()] = p.value();
  models::ModelSpec spec;
  spec.name = path;
  spec.description = absl::StrCat("ONNX file (", file->model.producer_name(), ")");
  spec.input_shape = file->input_shape;
  spec.mean = FloatList(meta, "normalization_mean");
  spec.std = FloatList(meta, "normalization_std");
  const size_t channels = static_cast<size_t>(file->input_shape[0]);
  if (spec.mean.size() == channels && spec.std.size() == channels && meta.count("dataset")) {
    spec.default_dataset = meta.at("dataset");
  } else {  // no default data set: training measures the normalization on its data
    spec.mean.assign(channels, 0.0f);
    spec.std.assign(channels, 1.0f);
  }
  spec.parameters = 0;
  if (!file->dynamic.empty()) {  // the user gives the size (--input_shape); built then
    spec.description = absl::StrCat(path, ": ", file->dynamic);
  } else {
    DLF_ASSIGN_OR_RETURN(spec.parameters, CheckBuild(*file, spec.input_shape));
  }
  spec.build = [file](Graph& g, Value images, const models::ModelOptions& options) -> Value {
    absl::StatusOr<Value> logits = Builder(*file, g, options).Build(images);
    if (!logits.ok()) {
      g.RecordError(logits.status());
      return Value{};
    }
    return *logits;
  };
  return spec;
}

std::vector<std::string> ImportedOps() { return Builder::ImportableOps(); }

absl::StatusOr<Network> BuildNetwork(const std::string& bytes, const std::string& path, Graph& g,
                                     const std::map<std::string, const Tensor*>& inputs) {
  DLF_ASSIGN_OR_RETURN(std::shared_ptr<const OnnxFile> file, ParseOnnxFile(bytes, path, /*classifier=*/false));
  const models::ModelOptions options;
  return Builder(*file, g, options).BuildNetwork(inputs);
}

absl::Status CheckTensorSignature(const std::string& bytes, const std::string& path) {
  DLF_ASSIGN_OR_RETURN(std::shared_ptr<const OnnxFile> file, ParseOnnxFile(bytes, path, /*classifier=*/false));
  const onnx::GraphProto& graph = file->model.graph();
  for (const auto* list : {&graph.input(), &graph.output()}) {
    for (const onnx::ValueInfoProto& v : *list) {
      if (!v.type().has_tensor_type()) {
        return absl::UnimplementedError(absl::StrCat(path, ": '", v.name(), "' is not a tensor (a sequence, map or ",
                                                     "optional: dlf's graphs hold tensors)"));
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Tensor> ParseTensor(const std::string& bytes, const std::string& path) {
  onnx::TensorProto t;
  if (!t.ParseFromString(bytes)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not an ONNX TensorProto"));
  }
  absl::StatusOr<Tensor> tensor = ToTensor(t);
  if (!tensor.ok()) return absl::Status(tensor.status().code(), absl::StrCat(path, ": ", tensor.status().message()));
  return tensor;
}

std::string TensorName(const std::string& bytes) {
  onnx::TensorProto t;
  return t.ParseFromString(bytes) ? t.name() : "";
}

[[maybe_unused]] const bool registered = models::RegisterModelFileLoader(".onnx", ImportModel);

}  // namespace dlf::onnx_import
