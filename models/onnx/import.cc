#include "models/onnx/import.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <tuple>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "data/file_io.h"
#include "graph/status_macros.h"
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
};

// The values of `t`, stored either as raw little-endian bytes or in its typed list `values`;
// their count is checked against the shape before anything is allocated.
template <typename T, typename List>
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
  const int64_t stored = t.has_raw_data() ? static_cast<int64_t>(t.raw_data().size() / sizeof(T)) : values.size();
  if (stored != n || (t.has_raw_data() && t.raw_data().size() % sizeof(T) != 0)) {
    return bad(absl::StrCat("holds ", stored, " values for its shape ", ShapeString(shape)));
  }
  Tensor out(dtype, shape);
  if (t.has_raw_data()) {
    std::memcpy(out.raw(), t.raw_data().data(), t.raw_data().size());
  } else {
    std::copy(values.begin(), values.end(), static_cast<T*>(out.raw()));
  }
  return out;
}

absl::StatusOr<Tensor> ToTensor(const onnx::TensorProto& t) {
  if (t.data_location() == onnx::TensorProto::EXTERNAL) {
    return absl::InvalidArgumentError(absl::StrCat("initializer '", t.name(), "' keeps its data in another file; not supported"));
  }
  if (t.data_type() == onnx::TensorProto::FLOAT) return TensorData<float>(t, DType::kF32, t.float_data());
  if (t.data_type() == onnx::TensorProto::INT64) return TensorData<int64_t>(t, DType::kI64, t.int64_data());
  return absl::InvalidArgumentError(absl::StrCat("initializer '", t.name(), "' has ONNX data type ", t.data_type(),
                                                 "; dlf imports float and int64"));
}

const onnx::AttributeProto* FindAttr(const onnx::NodeProto& n, const std::string& name) {
  for (const onnx::AttributeProto& a : n.attribute()) {
    if (a.name() == name) return &a;
  }
  return nullptr;
}

int64_t IntAttr(const onnx::NodeProto& n, const std::string& name, int64_t fallback) {
  const onnx::AttributeProto* a = FindAttr(n, name);
  return a ? a->i() : fallback;
}

double FloatAttr(const onnx::NodeProto& n, const std::string& name, double fallback) {
  const onnx::AttributeProto* a = FindAttr(n, name);
  return a ? a->f() : fallback;
}

Ints IntsAttr(const onnx::NodeProto& n, const std::string& name, Ints fallback) {
  const onnx::AttributeProto* a = FindAttr(n, name);
  return a ? Ints(a->ints().begin(), a->ints().end()) : fallback;
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

 private:
  absl::Status AddNode(const onnx::NodeProto& n);
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
  absl::StatusOr<Ints> FoldLogic(const onnx::NodeProto& n);  // Equal, Mod, Not, Where (KnownLogicOps())
  // One function per ONNX op (or family), found in Rules() by the node's op type.
  absl::Status Unary(const onnx::NodeProto& n);     // Relu, Sigmoid, Tanh, Sqrt, Exp, ... (UnaryOps())
  absl::Status Binary(const onnx::NodeProto& n);    // Add, Sub, Mul, Div, with NumPy broadcasting
  absl::Status GlobalAveragePool(const onnx::NodeProto& n);
  absl::Status Softmax(const onnx::NodeProto& n);
  absl::Status Dropout(const onnx::NodeProto& n);
  absl::Status Lrn(const onnx::NodeProto& n);
  absl::Status MatMul(const onnx::NodeProto& n);
  absl::Status Concat(const onnx::NodeProto& n);
  absl::Status Clip(const onnx::NodeProto& n);
  absl::Status HardSigmoid(const onnx::NodeProto& n);
  absl::Status ReduceMean(const onnx::NodeProto& n);
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

// The comparisons and selections of shape subgraphs (torch.onnx's expand(n, -1, -1): Equal the
// shape to -1, Where it is, take the input's size), on known int lists: element by element, a
// list of one value standing for every element. Booleans are 0 and 1.
const std::map<std::string, int>& KnownLogicOps() {  // op -> number of inputs
  static const auto* ops = new std::map<std::string, int>{{"Equal", 2}, {"Mod", 2}, {"Not", 1}, {"Where", 3}};
  return *ops;
}

absl::StatusOr<Ints> Builder::FoldLogic(const onnx::NodeProto& n) {
  const std::string& op = n.op_type();
  const int arity = KnownLogicOps().at(op);
  if (n.input_size() != arity) return Unsupported(n, absl::StrCat("expected ", arity, " inputs, found ", n.input_size()));
  std::vector<Ints> in(arity);
  size_t size = 1;
  for (int i = 0; i < arity; ++i) {
    DLF_ASSIGN_OR_RETURN(in[i], Known(n, i));
    if (in[i].size() != 1 && size != 1 && in[i].size() != size) return Unsupported(n, "shapes do not broadcast");
    if (in[i].size() != 1) size = in[i].size();
  }
  Ints out(size);
  for (size_t e = 0; e < size; ++e) {
    const auto at = [&](int i) { return in[i][in[i].size() == 1 ? 0 : e]; };
    if (op == "Equal") {
      out[e] = at(0) == at(1);
    } else if (op == "Not") {
      out[e] = !at(0);
    } else if (op == "Where") {
      out[e] = at(0) ? at(1) : at(2);
    } else {  // Mod with fmod 0: the result takes the divisor's sign, as Python's %
      if (at(1) == 0) return Unsupported(n, "modulo by zero");
      const int64_t r = at(0) % at(1);
      out[e] = r != 0 && ((r < 0) != (at(1) < 0)) ? r + at(1) : r;
    }
  }
  return out;
}

absl::Status Builder::Fold(const onnx::NodeProto& n) {
  const std::string& op = n.op_type();
  Ints out;
  Shape out_shape;  // empty: one dimension
  if (op == "Constant") {
    const onnx::AttributeProto* value = FindAttr(n, "value");
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
  } else if (op == "Gather") {
    DLF_ASSIGN_OR_RETURN(const Ints data, Known(n, 0));
    DLF_ASSIGN_OR_RETURN(const Ints indices, Known(n, 1));
    for (int64_t i : indices) {
      if (i < -static_cast<int64_t>(data.size()) || i >= static_cast<int64_t>(data.size())) return Unsupported(n, "index out of range");
      out.push_back(data[i < 0 ? i + data.size() : i]);
    }
  } else if (KnownLogicOps().count(op)) {
    DLF_ASSIGN_OR_RETURN(out, FoldLogic(n));
  } else if (BinaryOps().count(op)) {  // shape arithmetic (channels / groups): int64, one side may be one value
    DLF_ASSIGN_OR_RETURN(const Ints a, Known(n, 0));
    DLF_ASSIGN_OR_RETURN(const Ints b, Known(n, 1));
    if (a.size() != b.size() && a.size() != 1 && b.size() != 1) return Unsupported(n, "shapes do not broadcast");
    for (size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
      const int64_t x = a[a.size() == 1 ? 0 : i], y = b[b.size() == 1 ? 0 : i];
      if (op == "Div" && (y == 0 || (x == INT64_MIN && y == -1))) return Unsupported(n, "division by zero or overflow");
      int64_t r = 0;
      const bool overflow = op == "Add"   ? __builtin_add_overflow(x, y, &r)
                            : op == "Sub" ? __builtin_sub_overflow(x, y, &r)
                            : op == "Mul" ? __builtin_mul_overflow(x, y, &r)
                                          : (r = x / y, false);  // ONNX's integer Div truncates, as C++'s
      if (overflow) return Unsupported(n, absl::StrCat(x, " ", op, " ", y, " overflows int64"));
      out.push_back(r);
    }
  } else if (op == "Slice") {  // of a known int tensor, any step
    DLF_ASSIGN_OR_RETURN(const Ints data, Known(n, 0));
    DLF_ASSIGN_OR_RETURN(std::tie(out, out_shape), SliceKnown(n, data, KnownShape(n.input(0))));
  } else if (op == "ConstantOfShape") {
    DLF_ASSIGN_OR_RETURN(const Ints dims, Known(n, 0));
    const onnx::AttributeProto* value = FindAttr(n, "value");
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
    const int64_t to = IntAttr(n, "to", 0);
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
    DLF_ASSIGN_OR_RETURN(out, Known(n, 0));  // a list of known ints keeps its values
  } else {  // Concat
    for (int i = 0; i < n.input_size(); ++i) {
      DLF_ASSIGN_OR_RETURN(const Ints part, Known(n, i));
      out.insert(out.end(), part.begin(), part.end());
    }
  }
  if (out_shape.size() > 1) known_shapes_[n.output(0)] = out_shape;
  known_[n.output(0)] = std::move(out);
  return absl::OkStatus();
}

// Row-major strides of `shape`.
Ints Strides(const Shape& shape) {
  Ints strides(shape.size(), 1);
  for (int i = static_cast<int>(shape.size()) - 2; i >= 0; --i) strides[i] = strides[i + 1] * shape[i + 1];
  return strides;
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
  absl::StatusOr<Ints> perm = Axes(n, IntsAttr(n, "perm", reversed), rank);
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
  o.stride = IntsAttr(n, "strides", {1, 1});
  o.dilation = IntsAttr(n, "dilations", {1, 1});
  o.groups = IntAttr(n, "group", 1);
  o.output_padding = IntsAttr(n, "output_padding", {0, 0});
  Ints pads = IntsAttr(n, "pads", {0, 0, 0, 0});  // [top, left, bottom, right]
  const onnx::AttributeProto* auto_pad = FindAttr(n, "auto_pad");
  const std::string mode = auto_pad ? auto_pad->s() : "NOTSET";
  Ints output_shape = IntsAttr(n, "output_shape", {});
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
  for (int i = 0; i < 2 && (same || !output_shape.empty()); ++i) {
    const int64_t in = xs.size() == 4 ? xs[2 + i] : 0, k = ws.size() == 4 ? ws[2 + i] : 1;
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
  } else if (o.output_padding != Ints{0, 0} || FindAttr(n, "output_shape") != nullptr) {
    return Unsupported(n, "output_padding and output_shape are ConvTranspose's attributes, not Conv's");
  } else {
    Set(n, ops::Conv2D(g_, x, w, b, o));
  }
  return g_.status();
}

absl::Status Builder::Pool(const onnx::NodeProto& n) {
  DLF_ASSIGN_OR_RETURN(const Value x, In(n, 0));
  const bool max = n.op_type() == "MaxPool";
  const Ints pads = IntsAttr(n, "pads", {0, 0, 0, 0});
  const bool padded = pads != Ints{0, 0, 0, 0};
  if (n.output_size() > 1 || IntsAttr(n, "dilations", {1, 1}) != Ints{1, 1} || pads.size() != 4 ||
      pads[0] != pads[2] || pads[1] != pads[3] || FindAttr(n, "auto_pad") != nullptr ||
      (!max && padded && IntAttr(n, "count_include_pad", 0) != 0)) {
    return Unsupported(n, "dlf takes 2-D pooling with symmetric explicit pads, no indices output, and "
                          "averages that exclude the padding");
  }
  const Ints kernel = IntsAttr(n, "kernel_shape", {});
  ops::Pool2DOptions o{.kernel = kernel, .stride = IntsAttr(n, "strides", {1, 1}), .padding = {pads[0], pads[1]},
                       .ceil_mode = IntAttr(n, "ceil_mode", 0) != 0};
  Set(n, max ? ops::MaxPool2D(g_, x, o) : ops::AvgPool2D(g_, x, o));
  return g_.status();
}

absl::Status Builder::BatchNorm(const onnx::NodeProto& n) {
  if (n.output_size() > 1 || IntAttr(n, "training_mode", 0) != 0) {
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
  const double momentum = 1.0 - FloatAttr(n, "momentum", 0.9);  // ONNX weighs the old value
  Set(n, g_.Op("BatchNorm", in, {{"eps", FloatAttr(n, "epsilon", 1e-5)}, {"momentum", momentum}})[0]);
  return g_.status();
}

absl::Status Builder::Gemm(const onnx::NodeProto& n) {
  DLF_ASSIGN_OR_RETURN(const Value a, In(n, 0));
  DLF_ASSIGN_OR_RETURN(const Value w, In(n, 1));
  DLF_ASSIGN_OR_RETURN(const Value c, OptionalIn(n, 2));
  if (IntAttr(n, "transA", 0) != 0 || FloatAttr(n, "alpha", 1) != 1 || FloatAttr(n, "beta", 1) != 1) {
    return Unsupported(n, "dlf takes Gemm with transA 0, alpha 1 and beta 1");
  }
  if (IntAttr(n, "transB", 0) != 0 && (!c.valid() || g_.shape(c).size() == 1)) {
    Set(n, ops::Linear(g_, a, w, c));  // PyTorch's nn.Linear: weight [out, in]
  } else {
    const Value y = ops::MatMul(g_, a, w, false, IntAttr(n, "transB", 0) != 0);
    Set(n, c.valid() ? ops::Add(g_, y, c) : y);
  }
  return g_.status();
}

absl::Status Builder::Reshape(const onnx::NodeProto& n) {
  DLF_ASSIGN_OR_RETURN(const Value x, In(n, 0));
  const Shape in = g_.shape(x);
  Ints shape;
  if (n.op_type() == "Flatten") {
    int64_t axis = IntAttr(n, "axis", 1);
    if (axis < 0) axis += static_cast<int64_t>(in.size());
    if (axis < 0 || axis > static_cast<int64_t>(in.size())) return Unsupported(n, "axis out of range");
    shape = {NumElements(Shape(in.begin(), in.begin() + axis)), NumElements(Shape(in.begin() + axis, in.end()))};
  } else {
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

absl::Status Builder::GlobalAveragePool(const onnx::NodeProto& n) {
  DLF_ASSIGN_OR_RETURN(const Value x, In(n, 0));
  Set(n, ops::ReduceMean(g_, x, {2, 3}, true));
  return g_.status();
}

absl::Status Builder::Softmax(const onnx::NodeProto& n) {
  DLF_ASSIGN_OR_RETURN(const Value x, In(n, 0));
  const int64_t axis = IntAttr(n, "axis", file_.opset >= 13 ? -1 : 1);
  // Before opset 13 Softmax flattened the axes from `axis` on: the same as one axis only for the last.
  const int64_t rank = static_cast<int64_t>(g_.shape(x).size());
  if (file_.opset < 13 && axis != -1 && axis != rank - 1) return Unsupported(n, "softmax before opset 13 over the last axis only");
  Set(n, ops::Softmax(g_, x, axis));
  return g_.status();
}

absl::Status Builder::Dropout(const onnx::NodeProto& n) {
  DLF_ASSIGN_OR_RETURN(const Value x, In(n, 0));
  double ratio = FloatAttr(n, "ratio", 0.5);
  if (n.input_size() > 1 && !n.input(1).empty()) {
    auto init = file_.initializers.find(n.input(1));
    if (init == file_.initializers.end()) return Unsupported(n, "its ratio must be an initializer");
    DLF_ASSIGN_OR_RETURN(const Tensor r, ToTensor(*init->second));
    if (r.dtype() != DType::kF32 || r.num_elements() != 1) return Unsupported(n, "its ratio must be one float");
    ratio = r.f32()[0];
  }
  Set(n, ops::Dropout(g_, x, ratio));
  return g_.status();
}

absl::Status Builder::Lrn(const onnx::NodeProto& n) {
  DLF_ASSIGN_OR_RETURN(const Value x, In(n, 0));
  Set(n, ops::LocalResponseNorm(g_, x, {.size = IntAttr(n, "size", 5), .alpha = FloatAttr(n, "alpha", 1e-4),
                                        .beta = FloatAttr(n, "beta", 0.75), .k = FloatAttr(n, "bias", 1.0)}));
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
  int64_t axis = IntAttr(n, "axis", 0);
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
  if (axis != 0 || rank != 2) {
    return Unsupported(n, "a gather of float values by several indices takes the rows of a [rows, dim] table only");
  }
  Tensor ids(DType::kI32, KnownShape(n.input(1)));
  for (size_t i = 0; i < indices.size(); ++i) ids.i32()[i] = static_cast<int32_t>(indices[i]);
  Set(n, ops::Embedding(g_, x, g_.Constant(std::move(ids), n.output(0) + ".ids")));
  return g_.status();
}

// Unsqueeze inserts axes of size 1 at `axes` (of the output); Squeeze removes `axes` (all of size
// 1 when absent). Opset 13 gives the axes as an input, earlier ones as an attribute.
absl::Status Builder::Squeeze(const onnx::NodeProto& n) {
  DLF_ASSIGN_OR_RETURN(const Value x, In(n, 0));
  Ints axes;
  if (n.input_size() > 1 && !n.input(1).empty()) {
    DLF_ASSIGN_OR_RETURN(axes, Known(n, 1));
  } else if (const onnx::AttributeProto* a = FindAttr(n, "axes"); a != nullptr) {
    axes.assign(a->ints().begin(), a->ints().end());
  }
  const Shape in = g_.shape(x);
  const bool unsqueeze = n.op_type() == "Unsqueeze";
  const int64_t rank = static_cast<int64_t>(in.size()) + (unsqueeze ? static_cast<int64_t>(axes.size()) : 0);
  std::vector<bool> listed(rank, false);
  for (int64_t a : axes) {
    if (a < -rank || a >= rank) return Unsupported(n, absl::StrCat("axis ", a, " for rank ", rank));
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
  int64_t axis = IntAttr(n, "axis", 0);
  if (axis < -rank || axis >= rank) return Unsupported(n, absl::StrCat("axis ", axis, " for rank ", rank));
  if (axis < 0) axis += rank;
  Ints sizes;
  if (n.input_size() > 1 && !n.input(1).empty()) {
    DLF_ASSIGN_OR_RETURN(sizes, Known(n, 1));
  } else if (const onnx::AttributeProto* a = FindAttr(n, "split"); a != nullptr) {
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
  Set(n, ops::Concat(g_, in, IntAttr(n, "axis", 0)));
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

absl::Status Builder::Clip(const onnx::NodeProto& n) {  // min and max: inputs from opset 11, attributes before
  DLF_ASSIGN_OR_RETURN(const Value x, In(n, 0));
  constexpr double kMax = std::numeric_limits<float>::max();
  DLF_ASSIGN_OR_RETURN(const double lo, KnownScalar(n, 1, FloatAttr(n, "min", -kMax)));
  DLF_ASSIGN_OR_RETURN(const double hi, KnownScalar(n, 2, FloatAttr(n, "max", kMax)));
  Set(n, ops::Clip(g_, x, lo, hi));
  return g_.status();
}

absl::Status Builder::HardSigmoid(const onnx::NodeProto& n) {  // max(0, min(1, alpha x + beta))
  DLF_ASSIGN_OR_RETURN(const Value x, In(n, 0));
  Set(n, ops::HardSigmoid(g_, x, FloatAttr(n, "alpha", 0.2), FloatAttr(n, "beta", 0.5)));
  return g_.status();
}

absl::Status Builder::ReduceMean(const onnx::NodeProto& n) {  // axes: an attribute up to opset 17
  DLF_ASSIGN_OR_RETURN(const Value x, In(n, 0));
  const int64_t rank = static_cast<int64_t>(g_.shape(x).size());
  Ints all(rank);
  for (int64_t i = 0; i < rank; ++i) all[i] = i;
  absl::StatusOr<Ints> axes = Axes(n, IntsAttr(n, "axes", all), rank);
  if (!axes.ok()) return Unsupported(n, std::string(axes.status().message()));
  Set(n, ops::ReduceMean(g_, x, *axes, IntAttr(n, "keepdims", 1) != 0));
  return g_.status();
}

absl::Status Builder::Transpose(const onnx::NodeProto& n) {
  DLF_ASSIGN_OR_RETURN(const Value x, In(n, 0));
  const int64_t rank = static_cast<int64_t>(g_.shape(x).size());
  Ints reversed(rank);
  for (int64_t i = 0; i < rank; ++i) reversed[i] = rank - 1 - i;
  absl::StatusOr<Ints> perm = Axes(n, IntsAttr(n, "perm", reversed), rank);
  if (!perm.ok()) return Unsupported(n, std::string(perm.status().message()));
  Set(n, ops::Transpose(g_, x, *perm));
  return g_.status();
}

absl::Status Builder::Pad(const onnx::NodeProto& n) {  // pads: an input from opset 11, an attribute before
  DLF_ASSIGN_OR_RETURN(const Value x, In(n, 0));
  const onnx::AttributeProto* mode = FindAttr(n, "mode");
  if (mode != nullptr && mode->s() != "constant") return Unsupported(n, "mode '" + mode->s() + "' (dlf pads with a constant)");
  Ints pads = IntsAttr(n, "pads", {});
  if (file_.opset >= 11) {
    DLF_ASSIGN_OR_RETURN(pads, Known(n, 1));
  }
  const size_t rank = g_.shape(x).size();
  if (pads.size() != 2 * rank) {
    return Unsupported(n, absl::StrCat("expected ", 2 * rank, " pads for a rank-", rank, " input, found ", pads.size()));
  }
  DLF_ASSIGN_OR_RETURN(const double value, KnownScalar(n, 2, FloatAttr(n, "value", 0.0)));
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

absl::Status Builder::AddNode(const onnx::NodeProto& n) {
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
  if (op == "ConstantOfShape") return Fold(n);
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

absl::StatusOr<Value> Builder::Build(Value images) {
  const onnx::GraphProto& graph = file_.model.graph();
  for (const onnx::ValueInfoProto& in : graph.input()) {
    if (!file_.initializers.count(in.name())) {
      values_[in.name()] = images;
      break;
    }
  }
  for (const onnx::NodeProto& n : graph.node()) {
    if (absl::Status s = AddNode(n); !s.ok()) {
      if (absl::StrContains(s.message(), file_.path)) return s;
      return absl::Status(s.code(), absl::StrCat(file_.path, ": node '", NodeName(n), "' (", n.op_type(), "): ", s.message()));
    }
  }
  auto out = values_.find(graph.output(0).name());
  if (out == values_.end()) {
    return absl::InvalidArgumentError(absl::StrCat(file_.path, ": no node writes the output '", graph.output(0).name(), "'"));
  }
  if (options_.num_classes != file_.classes) {
    return absl::InvalidArgumentError(absl::StrCat(
        file_.path, ": the network has ", file_.classes, " outputs, but the data has ", options_.num_classes,
        " classes"));
  }
  return out->second;
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

absl::StatusOr<std::shared_ptr<const OnnxFile>> ParseOnnxFile(const std::string& bytes, const std::string& path) {
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
  // torch.onnx.export stores equal initializers once and names the copies with Identity nodes
  // (every fresh BatchNorm's weight is all ones): each copy is a tensor of its own name.
  for (const onnx::NodeProto& n : f->model.graph().node()) {
    if (n.op_type() != "Identity" || n.input_size() != 1 || n.output_size() != 1) continue;
    auto source = f->initializers.find(n.input(0));
    if (source != f->initializers.end()) f->initializers[n.output(0)] = source->second;
  }
  DLF_RETURN_IF_ERROR(ReadSignature(*f));
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
  DLF_ASSIGN_OR_RETURN(std::shared_ptr<const OnnxFile> file, ParseOnnxFile(bytes, path));
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

[[maybe_unused]] const bool registered = models::RegisterModelFileLoader(".onnx", ImportModel);

}  // namespace dlf::onnx_import
