#include "models/onnx/export.h"

#include <functional>
#include <limits>
#include <map>
#include <set>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "data/file_io.h"
#include "graph/status_macros.h"
#include "graph/version.h"
#include "ops/ops.h"  // CausalMaskValues

namespace dlf::onnx_export {
namespace {

using Ints = std::vector<int64_t>;

void SetAttr(onnx::NodeProto& n, const std::string& name, int64_t v) {
  onnx::AttributeProto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}

void SetAttr(onnx::NodeProto& n, const std::string& name, double v) {
  onnx::AttributeProto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(static_cast<float>(v));
}

void SetAttr(onnx::NodeProto& n, const std::string& name, const Ints& v) {
  onnx::AttributeProto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}

// [a, b] -> [a, b, a, b]: ONNX pads list every axis' start, then every axis' end.
Ints SymmetricPads(const Ints& pad) { return {pad[0], pad[1], pad[0], pad[1]}; }

absl::StatusOr<onnx::TensorProto_DataType> OnnxType(DType t) {
  switch (t) {
    case DType::kF32:
      return onnx::TensorProto::FLOAT;
    case DType::kI64:
      return onnx::TensorProto::INT64;
    case DType::kI32:
      return onnx::TensorProto::INT32;
    default:
      return absl::InvalidArgumentError(absl::StrCat("dtype ", DTypeName(t), " has no ONNX export"));
  }
}

// Writes the ONNX nodes of one graph, value by value.
class Exporter {
 public:
  // `images`: the graph's input, whose first axis is the batch.
  Exporter(const Graph& g, Value images, onnx::GraphProto& out) : g_(g), images_(images), out_(out) {}

  absl::Status Add(const Node& node);
  // The first error of an initializer (a dtype ONNX export does not take).
  const absl::Status& status() const { return status_; }
  void Rename(Value v, const std::string& name) { alias_[v.id] = name; }
  std::string Name(Value v) const {
    auto it = alias_.find(v.id);
    return it == alias_.end() ? g_.ValueName(v) : it->second;
  }

 private:
  onnx::NodeProto& Emit(const std::string& op, const std::vector<std::string>& inputs,
                        const std::vector<std::string>& outputs, const std::string& name);
  // The inputs of `node` by ONNX name (initializers added on first use), the first `count`.
  std::vector<std::string> Inputs(const Node& node, size_t count);
  absl::Status AddInitializer(Value v);
  std::string Int64Constant(const std::string& name, const Ints& values);
  std::string FloatConstant(const std::string& name, double value);
  // One function per dlf op (Rules()), each writing the op's ONNX node(s).
  using Rule = absl::Status (Exporter::*)(const Node&);
  static const std::map<std::string, Rule>& Rules();
  friend std::vector<std::string> dlf::onnx_export::ExportedOps();
  absl::Status Dropout(const Node& node);
  absl::Status Conv(const Node& node);  // Conv2D and ConvTranspose2D
  absl::Status Pool(const Node& node);
  absl::Status AdaptivePool(const Node& node);
  absl::Status BatchNorm(const Node& node);
  absl::Status Lrn(const Node& node);
  absl::Status Linear(const Node& node);
  absl::Status Softmax(const Node& node);
  absl::Status Concat(const Node& node);
  absl::Status Transpose(const Node& node);
  absl::Status Clip(const Node& node);
  absl::Status Scale(const Node& node);
  absl::Status HardSigmoid(const Node& node);
  absl::Status SelfGated(const Node& node);  // Silu and HardSwish: x times a gate of x
  absl::Status SameInputs(const Node& node);  // SameInputOps()
  absl::Status Reshape(const Node& node);
  absl::Status ReduceMean(const Node& node);
  absl::Status LayerNorm(const Node& node);
  absl::Status BroadcastTo(const Node& node);
  absl::Status Slice(const Node& node);
  absl::Status Split(const Node& node);
  absl::Status BatchMatMul(const Node& node);
  absl::Status Gelu(const Node& node);  // the erf form
  absl::Status Embedding(const Node& node);
  absl::Status FusedAttention(const Node& node);  // as the composed ops

  const Graph& g_;
  Value images_;
  onnx::GraphProto& out_;
  absl::flat_hash_map<int, std::string> alias_;  // Dropout's output is its input
  std::set<int> initialized_;
  absl::Status status_;
};

onnx::NodeProto& Exporter::Emit(const std::string& op, const std::vector<std::string>& inputs,
                                const std::vector<std::string>& outputs, const std::string& name) {
  onnx::NodeProto* n = out_.add_node();
  n->set_op_type(op);
  n->set_name(name);
  for (const std::string& in : inputs) n->add_input(in);
  for (const std::string& o : outputs) n->add_output(o);
  return *n;
}

absl::Status Exporter::AddInitializer(Value v) {
  if (!initialized_.insert(v.id).second) return absl::OkStatus();
  const Tensor& t = *g_.source_value(v);
  onnx::TensorProto* p = out_.add_initializer();
  p->set_name(g_.name(v));
  DLF_ASSIGN_OR_RETURN(const onnx::TensorProto_DataType type, OnnxType(t.dtype()));
  p->set_data_type(type);
  for (int64_t d : t.shape()) p->add_dims(d);
  p->set_raw_data(t.raw(), t.num_bytes());
  return absl::OkStatus();
}

std::vector<std::string> Exporter::Inputs(const Node& node, size_t count) {
  std::vector<std::string> names;
  for (size_t i = 0; i < node.inputs.size() && i < count; ++i) {
    const Value in = node.inputs[i];
    if (g_.producer(in).kind != NodeKind::kOp && g_.producer(in).kind != NodeKind::kInput) {
      absl::Status s = AddInitializer(in);  // parameters, buffers and constants
      if (status_.ok()) status_ = s;
    }
    names.push_back(Name(in));
  }
  return names;
}

std::string Exporter::Int64Constant(const std::string& name, const Ints& values) {
  onnx::TensorProto* p = out_.add_initializer();
  p->set_name(name);
  p->set_data_type(onnx::TensorProto::INT64);
  p->add_dims(static_cast<int64_t>(values.size()));
  for (int64_t v : values) p->add_int64_data(v);
  return name;
}

std::string Exporter::FloatConstant(const std::string& name, double value) {
  onnx::TensorProto* p = out_.add_initializer();
  p->set_name(name);
  p->set_data_type(onnx::TensorProto::FLOAT);
  p->add_float_data(static_cast<float>(value));
  return name;
}

// [n, rest...] -> [n, product]: Flatten; otherwise Reshape, with the batch axis copied (0).
absl::Status Exporter::Reshape(const Node& node) {
  const Shape& in = g_.shape(node.inputs[0]);
  const Shape& out = g_.shape(node.outputs[0]);
  const std::string y = Name(node.outputs[0]);
  if (out.size() == 2 && !in.empty() && out[0] == in[0]) {
    SetAttr(Emit("Flatten", Inputs(node, 1), {y}, node.name), "axis", int64_t{1});
    return absl::OkStatus();
  }
  // The first axis is -1, inferred: the batch, or (Linear's rows) the batch times other axes; the
  // others are fixed, so the file takes any batch size.
  Ints shape(out.begin(), out.end());
  if (!shape.empty()) shape[0] = -1;
  std::vector<std::string> inputs = Inputs(node, 1);
  inputs.push_back(Int64Constant(node.name + ".shape", shape));
  Emit("Reshape", inputs, {y}, node.name);
  return absl::OkStatus();
}

// Global average pooling (mean over h and w of [n, c, h, w]) as GlobalAveragePool (+ Flatten
// without keepdims); other means as ReduceMean.
absl::Status Exporter::ReduceMean(const Node& node) {
  const Ints axes = node.attrs.GetOr<Ints>("axes", {});
  const bool keepdims = node.attrs.GetOr<bool>("keepdims", false);
  const std::string y = Name(node.outputs[0]);
  if (g_.shape(node.inputs[0]).size() == 4 && axes == Ints{2, 3}) {
    if (keepdims) {
      Emit("GlobalAveragePool", Inputs(node, 1), {y}, node.name);
      return absl::OkStatus();
    }
    Emit("GlobalAveragePool", Inputs(node, 1), {y + ".pooled"}, node.name);
    SetAttr(Emit("Flatten", {y + ".pooled"}, {y}, node.name + ".flatten"), "axis", int64_t{1});
    return absl::OkStatus();
  }
  onnx::NodeProto& n = Emit("ReduceMean", Inputs(node, 1), {y}, node.name);
  SetAttr(n, "axes", axes);
  SetAttr(n, "keepdims", int64_t{keepdims});
  return absl::OkStatus();
}

// Opset 13 has no LayerNormalization (it came in 17): its arithmetic, node by node, with the
// variance as mean((x - mean)^2) over the normalized axes.
absl::Status Exporter::LayerNorm(const Node& node) {
  const std::vector<std::string> in = Inputs(node, 3);
  const int64_t rank = node.attrs.GetOr<int64_t>("normalized_rank", 1);
  Ints axes;
  for (int64_t a = -rank; a < 0; ++a) axes.push_back(a);
  const std::string p = node.name + ".";
  const auto mean = [&](const std::string& x, const std::string& y) {
    onnx::NodeProto& n = Emit("ReduceMean", {x}, {y}, y);
    SetAttr(n, "axes", axes);
    SetAttr(n, "keepdims", int64_t{1});
  };
  mean(in[0], p + "mean");
  Emit("Sub", {in[0], p + "mean"}, {p + "centered"}, p + "centered");
  Emit("Mul", {p + "centered", p + "centered"}, {p + "squared"}, p + "squared");
  mean(p + "squared", p + "var");
  Emit("Add", {p + "var", FloatConstant(p + "eps", node.attrs.GetOr<double>("eps", 1e-5))}, {p + "var_eps"},
       p + "var_eps");
  Emit("Sqrt", {p + "var_eps"}, {p + "std"}, p + "std");
  Emit("Div", {p + "centered", p + "std"}, {p + "normalized"}, p + "normalized");
  Emit("Mul", {p + "normalized", in[1]}, {p + "scaled"}, p + "scaled");
  Emit("Add", {p + "scaled", in[2]}, {Name(node.outputs[0])}, node.name);
  return absl::OkStatus();
}

// Expand. A first axis broadcast from 1 to the batch's size (a ViT's class token) is the batch
// of the images the file is run on: Shape(images)[0:1] then the fixed axes, so the file takes any
// batch size; other targets are constants.
absl::Status Exporter::BroadcastTo(const Node& node) {
  const Shape& in = g_.shape(node.inputs[0]);
  const Shape& target = g_.shape(node.outputs[0]);
  const std::string p = node.name + ".";
  std::vector<std::string> inputs = Inputs(node, 1);
  const bool batch = in.size() == target.size() && !in.empty() && in[0] == 1 && target[0] == g_.shape(images_)[0];
  if (batch) {
    Emit("Shape", {Name(images_)}, {p + "images_shape"}, p + "images_shape");
    Emit("Slice", {p + "images_shape", Int64Constant(p + "start", {0}), Int64Constant(p + "end", {1})}, {p + "batch"},
         p + "batch");
    SetAttr(Emit("Concat", {p + "batch", Int64Constant(p + "rest", Ints(target.begin() + 1, target.end()))},
                 {p + "shape"}, p + "shape"),
            "axis", int64_t{0});
    inputs.push_back(p + "shape");
  } else {
    inputs.push_back(Int64Constant(p + "shape", Ints(target.begin(), target.end())));
  }
  Emit("Expand", inputs, {Name(node.outputs[0])}, node.name);
  return absl::OkStatus();
}

// Slice with every axis' start and end; an axis taken whole ends at INT64_MAX, so the batch
// axis takes any size.
absl::Status Exporter::Slice(const Node& node) {
  const Shape& in = g_.shape(node.inputs[0]);
  const Ints begin = node.attrs.GetOr<Ints>("begin", {}), size = node.attrs.GetOr<Ints>("size", {});
  Ints end(begin.size()), axes(begin.size());
  for (size_t a = 0; a < begin.size(); ++a) {
    end[a] = begin[a] == 0 && size[a] == in[a] ? std::numeric_limits<int64_t>::max() : begin[a] + size[a];
    axes[a] = static_cast<int64_t>(a);
  }
  std::vector<std::string> inputs = Inputs(node, 1);
  inputs.push_back(Int64Constant(node.name + ".starts", begin));
  inputs.push_back(Int64Constant(node.name + ".ends", end));
  inputs.push_back(Int64Constant(node.name + ".axes", axes));
  Emit("Slice", inputs, {Name(node.outputs[0])}, node.name);
  return absl::OkStatus();
}

absl::Status Exporter::Split(const Node& node) {  // opset 13: the sizes are an input
  std::vector<std::string> inputs = Inputs(node, 1);
  inputs.push_back(Int64Constant(node.name + ".split", node.attrs.GetOr<Ints>("sizes", {})));
  std::vector<std::string> outputs;
  for (Value out : node.outputs) outputs.push_back(Name(out));
  SetAttr(Emit("Split", inputs, outputs, node.name), "axis", node.attrs.GetOr<int64_t>("axis", 0));
  return absl::OkStatus();
}

// MatMul of [b, m, k] by [b, k, n]; an operand read transposed is transposed first.
absl::Status Exporter::BatchMatMul(const Node& node) {
  std::vector<std::string> inputs = Inputs(node, 2);
  const char* flags[] = {"transpose_a", "transpose_b"};
  for (int i = 0; i < 2; ++i) {
    if (!node.attrs.GetOr<bool>(flags[i], false)) continue;
    const std::string t = absl::StrCat(node.name, ".", flags[i]);
    SetAttr(Emit("Transpose", {inputs[i]}, {t}, t), "perm", Ints{0, 2, 1});
    inputs[i] = t;
  }
  Emit("MatMul", inputs, {Name(node.outputs[0])}, node.name);
  return absl::OkStatus();
}

// GELU's erf form (opset 13 has no Gelu; it came in 20): x * 0.5 * (1 + erf(x / sqrt(2))).
absl::Status Exporter::Gelu(const Node& node) {
  const std::string x = Inputs(node, 1)[0], p = node.name + ".";
  Emit("Mul", {x, FloatConstant(p + "inv_sqrt2", 0.70710678118654752)}, {p + "scaled"}, p + "scaled");
  Emit("Erf", {p + "scaled"}, {p + "erf"}, p + "erf");
  Emit("Add", {p + "erf", FloatConstant(p + "one", 1.0)}, {p + "erf1"}, p + "erf1");
  Emit("Mul", {x, p + "erf1"}, {p + "x_erf1"}, p + "x_erf1");
  Emit("Mul", {p + "x_erf1", FloatConstant(p + "half", 0.5)}, {Name(node.outputs[0])}, node.name);
  return absl::OkStatus();
}

absl::Status Exporter::Dropout(const Node& node) {  // and DropPath; inference: the output is the input
  alias_[node.outputs[0].id] = Name(node.inputs[0]);
  return absl::OkStatus();
}

absl::Status Exporter::Conv(const Node& node) {
  const Attrs& a = node.attrs;
  const Shape& w = g_.shape(node.inputs[1]);
  const bool transposed = node.op == "ConvTranspose2D";
  onnx::NodeProto& n = Emit(transposed ? "ConvTranspose" : "Conv", Inputs(node, 3), {Name(node.outputs[0])}, node.name);
  SetAttr(n, "kernel_shape", Ints{w[2], w[3]});
  SetAttr(n, "strides", a.GetOr<Ints>("stride", {1, 1}));
  const Ints pad = a.GetOr<Ints>("padding", {0, 0}), pad_end = a.GetOr<Ints>("padding_end", pad);
  SetAttr(n, "pads", Ints{pad[0], pad[1], pad_end[0], pad_end[1]});
  if (a.Has("dilation")) SetAttr(n, "dilations", a.GetOr<Ints>("dilation", {1, 1}));
  if (a.Has("groups")) SetAttr(n, "group", a.GetOr<int64_t>("groups", 1));
  if (a.Has("output_padding")) SetAttr(n, "output_padding", a.GetOr<Ints>("output_padding", {0, 0}));
  return absl::OkStatus();
}

absl::Status Exporter::Pool(const Node& node) {
  const Attrs& a = node.attrs;
  const bool max = node.op == "MaxPool2D";
  onnx::NodeProto& n = Emit(max ? "MaxPool" : "AveragePool", Inputs(node, 1), {Name(node.outputs[0])}, node.name);
  SetAttr(n, "kernel_shape", a.GetOr<Ints>("kernel", {2, 2}));
  SetAttr(n, "strides", a.GetOr<Ints>("stride", a.GetOr<Ints>("kernel", {2, 2})));
  SetAttr(n, "pads", SymmetricPads(a.GetOr<Ints>("padding", {0, 0})));
  SetAttr(n, "ceil_mode", int64_t{a.GetOr<bool>("ceil_mode", false)});
  if (!max) SetAttr(n, "count_include_pad", int64_t{0});  // as dlf: padding excluded
  return absl::OkStatus();
}

// ONNX has no adaptive pooling: an output size that divides the input's is an AveragePool of
// kernel = stride = input / output (GlobalAveragePool for 1x1); other sizes have overlapping
// windows of varying size that no ONNX pooling node expresses.
absl::Status Exporter::AdaptivePool(const Node& node) {
  const Shape& x = g_.shape(node.inputs[0]);
  const Shape& y = g_.shape(node.outputs[0]);
  if (y[2] == 1 && y[3] == 1) {
    Emit("GlobalAveragePool", Inputs(node, 1), {Name(node.outputs[0])}, node.name);
    return absl::OkStatus();
  }
  if (x[2] % y[2] != 0 || x[3] % y[3] != 0) {
    return absl::UnimplementedError(absl::StrCat("node '", node.name, "': AdaptiveAvgPool2D from ", x[2], "x", x[3],
                                                 " to ", y[2], "x", y[3], " has no ONNX form (only output sizes that "
                                                 "divide the input's export, as AveragePool)"));
  }
  onnx::NodeProto& n = Emit("AveragePool", Inputs(node, 1), {Name(node.outputs[0])}, node.name);
  const Ints kernel = {x[2] / y[2], x[3] / y[3]};
  SetAttr(n, "kernel_shape", kernel);
  SetAttr(n, "strides", kernel);
  return absl::OkStatus();
}

absl::Status Exporter::BatchNorm(const Node& node) {
  onnx::NodeProto& n = Emit("BatchNormalization", Inputs(node, 5), {Name(node.outputs[0])}, node.name);
  SetAttr(n, "epsilon", node.attrs.GetOr<double>("eps", 1e-5));
  SetAttr(n, "momentum", 1.0 - node.attrs.GetOr<double>("momentum", 0.1));  // ONNX weighs the old value
  return absl::OkStatus();
}

absl::Status Exporter::Lrn(const Node& node) {
  const Attrs& a = node.attrs;
  onnx::NodeProto& n = Emit("LRN", Inputs(node, 1), {Name(node.outputs[0])}, node.name);
  SetAttr(n, "size", a.GetOr<int64_t>("size", 5));
  SetAttr(n, "alpha", a.GetOr<double>("alpha", 1e-4));
  SetAttr(n, "beta", a.GetOr<double>("beta", 0.75));
  SetAttr(n, "bias", a.GetOr<double>("k", 2.0));
  return absl::OkStatus();
}

absl::Status Exporter::Linear(const Node& node) {
  SetAttr(Emit("Gemm", Inputs(node, 3), {Name(node.outputs[0])}, node.name), "transB", int64_t{1});
  return absl::OkStatus();
}

// FusedAttention(q [L, T, d], k [L, S, d], v [L, S, dv]) as the ops it fuses (opset 13 has no
// attention): softmax(q k^T * scale + causal mask) v; dropout is training's only.
absl::Status Exporter::FusedAttention(const Node& node) {
  const std::vector<std::string> in = Inputs(node, 3);
  const std::string p = node.name + ".";
  const Shape& q = g_.shape(node.inputs[0]);
  const Shape& k = g_.shape(node.inputs[1]);
  SetAttr(Emit("Transpose", {in[1]}, {p + "k_t"}, p + "k_t"), "perm", Ints{0, 2, 1});
  Emit("MatMul", {in[0], p + "k_t"}, {p + "qk"}, p + "qk");
  Emit("Mul", {p + "qk", FloatConstant(p + "scale", node.attrs.GetOr<double>("scale", 1.0))}, {p + "scores"},
       p + "scores");
  std::string scores = p + "scores";
  if (node.attrs.GetOr<bool>("causal", false)) {
    const Tensor values = ops::CausalMaskValues(q[1], k[1]);
    onnx::TensorProto* mask = out_.add_initializer();
    mask->set_name(p + "causal_mask");
    mask->set_data_type(onnx::TensorProto::FLOAT);
    mask->add_dims(q[1]);
    mask->add_dims(k[1]);
    mask->mutable_float_data()->Add(values.f32(), values.f32() + values.num_elements());
    Emit("Add", {scores, p + "causal_mask"}, {p + "masked"}, p + "masked");
    scores = p + "masked";
  }
  SetAttr(Emit("Softmax", {scores}, {p + "weights"}, p + "weights"), "axis", int64_t{-1});
  Emit("MatMul", {p + "weights", in[2]}, {Name(node.outputs[0])}, node.name);
  return absl::OkStatus();
}

// Embedding(table, ids): rows of the table, ONNX's Gather on axis 0 (int32 ids taken as they are).
absl::Status Exporter::Embedding(const Node& node) {
  SetAttr(Emit("Gather", Inputs(node, 2), {Name(node.outputs[0])}, node.name), "axis", int64_t{0});
  return absl::OkStatus();
}

absl::Status Exporter::Softmax(const Node& node) {  // dlf's is over the last axis
  SetAttr(Emit("Softmax", Inputs(node, 1), {Name(node.outputs[0])}, node.name), "axis", int64_t{-1});
  return absl::OkStatus();
}

absl::Status Exporter::Concat(const Node& node) {
  SetAttr(Emit("Concat", Inputs(node, node.inputs.size()), {Name(node.outputs[0])}, node.name), "axis",
          node.attrs.GetOr<int64_t>("axis", 0));
  return absl::OkStatus();
}

absl::Status Exporter::Transpose(const Node& node) {
  SetAttr(Emit("Transpose", Inputs(node, 1), {Name(node.outputs[0])}, node.name), "perm",
          node.attrs.GetOr<Ints>("perm", {}));
  return absl::OkStatus();
}

// Clip (unary.cc's p, q) takes its bounds as inputs at opset 13; Scale is a Mul by a constant.
absl::Status Exporter::Clip(const Node& node) {
  std::vector<std::string> inputs = Inputs(node, 1);
  inputs.push_back(FloatConstant(node.name + ".min", node.attrs.GetOr<double>("p", 0.0)));
  inputs.push_back(FloatConstant(node.name + ".max", node.attrs.GetOr<double>("q", 0.0)));
  Emit("Clip", inputs, {Name(node.outputs[0])}, node.name);
  return absl::OkStatus();
}

absl::Status Exporter::HardSigmoid(const Node& node) {  // unary.cc's p, q: ONNX's alpha, beta
  onnx::NodeProto& n = Emit("HardSigmoid", Inputs(node, 1), {Name(node.outputs[0])}, node.name);
  SetAttr(n, "alpha", node.attrs.GetOr<double>("p", 0.0));
  SetAttr(n, "beta", node.attrs.GetOr<double>("q", 0.0));
  return absl::OkStatus();
}

// x * sigmoid(x) and x * hardsigmoid(x) (opset 13 has neither; HardSwish came in 14).
absl::Status Exporter::SelfGated(const Node& node) {
  const std::vector<std::string> x = Inputs(node, 1);
  const std::string gate = node.name + ".gate";
  if (node.op == "Silu") {
    Emit("Sigmoid", x, {gate}, gate);
  } else {
    onnx::NodeProto& n = Emit("HardSigmoid", x, {gate}, gate);
    SetAttr(n, "alpha", 1.0 / 6.0);
    SetAttr(n, "beta", 0.5);
  }
  Emit("Mul", {x[0], gate}, {Name(node.outputs[0])}, node.name);
  return absl::OkStatus();
}

absl::Status Exporter::Scale(const Node& node) {
  std::vector<std::string> inputs = Inputs(node, 1);
  inputs.push_back(FloatConstant(node.name + ".factor", node.attrs.GetOr<double>("factor", 1.0)));
  Emit("Mul", inputs, {Name(node.outputs[0])}, node.name);
  return absl::OkStatus();
}

// dlf ops whose ONNX op takes the same inputs and no attributes.
const std::map<std::string, std::string>& SameInputOps() {
  static const auto* ops = new std::map<std::string, std::string>{
      {"Relu", "Relu"}, {"Sigmoid", "Sigmoid"}, {"Tanh", "Tanh"}, {"Exp", "Exp"},   {"Log", "Log"},
      {"Sqrt", "Sqrt"}, {"Neg", "Neg"},         {"Abs", "Abs"},   {"Erf", "Erf"},   {"Softplus", "Softplus"},
      {"Add", "Add"},   {"Sub", "Sub"},         {"Mul", "Mul"},   {"Div", "Div"},   {"Maximum", "Max"},
      {"Minimum", "Min"}, {"MatMul", "MatMul"}};
  return *ops;
}

absl::Status Exporter::SameInputs(const Node& node) {
  Emit(SameInputOps().at(node.op), Inputs(node, node.inputs.size()), {Name(node.outputs[0])}, node.name);
  return absl::OkStatus();
}

const std::map<std::string, Exporter::Rule>& Exporter::Rules() {
  static const auto* all = [] {
    auto* table = new std::map<std::string, Rule>{
        {"Dropout", &Exporter::Dropout},     {"DropPath", &Exporter::Dropout},
        {"AdaptiveAvgPool2D", &Exporter::AdaptivePool}, {"Conv2D", &Exporter::Conv},
        {"ConvTranspose2D", &Exporter::Conv}, {"MaxPool2D", &Exporter::Pool},
        {"AvgPool2D", &Exporter::Pool},       {"BatchNorm", &Exporter::BatchNorm},
        {"LocalResponseNorm", &Exporter::Lrn}, {"Linear", &Exporter::Linear},
        {"Softmax", &Exporter::Softmax},      {"Concat", &Exporter::Concat},
        {"Reshape", &Exporter::Reshape},      {"ReduceMean", &Exporter::ReduceMean},
        {"Transpose", &Exporter::Transpose},  {"Clip", &Exporter::Clip},
        {"Scale", &Exporter::Scale},          {"HardSigmoid", &Exporter::HardSigmoid},
        {"Silu", &Exporter::SelfGated},       {"HardSwish", &Exporter::SelfGated},
        {"LayerNorm", &Exporter::LayerNorm},  {"Gelu", &Exporter::Gelu},
        {"BroadcastTo", &Exporter::BroadcastTo}, {"Slice", &Exporter::Slice},
        {"Split", &Exporter::Split},          {"BatchMatMul", &Exporter::BatchMatMul},
        {"Embedding", &Exporter::Embedding},  {"FusedAttention", &Exporter::FusedAttention}};
    for (const auto& [op, onnx_op] : SameInputOps()) table->emplace(op, &Exporter::SameInputs);
    return table;
  }();
  return *all;
}

absl::Status Exporter::Add(const Node& node) {
  const auto rule = Rules().find(node.op);
  if (rule == Rules().end()) {
    return absl::UnimplementedError(absl::StrCat("node '", node.name, "': op ", node.op,
                                                 " has no ONNX export (opset ", kOpsetVersion, ")"));
  }
  return (this->*rule->second)(node);
}

// The op nodes `logits` depends on, in graph (topological) order.
std::vector<int> NodesFor(const Graph& g, Value logits) {
  std::vector<bool> needed_value(g.num_values(), false);
  std::vector<int> nodes;
  needed_value[logits.id] = true;
  for (int n = g.producer(logits).id; n >= 0; --n) {
    const Node& node = g.node(n);
    bool needed = false;
    for (Value out : node.outputs) needed = needed || needed_value[out.id];
    if (!needed) continue;
    for (Value in : node.inputs) needed_value[in.id] = true;
    if (node.kind == NodeKind::kOp) nodes.push_back(n);
  }
  return {nodes.rbegin(), nodes.rend()};
}

absl::Status SetValueInfo(onnx::ValueInfoProto& info, const std::string& name, DType dtype, const Shape& shape) {
  info.set_name(name);
  onnx::TypeProto_Tensor* t = info.mutable_type()->mutable_tensor_type();
  DLF_ASSIGN_OR_RETURN(const onnx::TensorProto_DataType type, OnnxType(dtype));
  t->set_elem_type(type);
  for (size_t i = 0; i < shape.size(); ++i) {
    onnx::TensorShapeProto_Dimension* d = t->mutable_shape()->add_dim();
    if (i == 0) {
      d->set_dim_param("batch");
    } else {
      d->set_dim_value(shape[i]);
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<onnx::ModelProto> ExportModel(const Graph& g, Value images, Value logits,
                                             const ExportOptions& options) {
  DLF_RETURN_IF_ERROR(g.status());
  if (!g.Contains(images) || !g.Contains(logits)) return absl::InvalidArgumentError("ExportModel: invalid values");
  onnx::ModelProto model;
  model.set_ir_version(7);  // ONNX 1.8's, the first of opset 13
  model.set_producer_name("dlf");
  model.set_producer_version(kVersion);
  model.add_opset_import()->set_version(kOpsetVersion);
  for (const auto& [key, value] : options.metadata) {
    onnx::StringStringEntryProto* e = model.add_metadata_props();
    e->set_key(key);
    e->set_value(value);
  }
  onnx::GraphProto& graph = *model.mutable_graph();
  graph.set_name(options.graph_name);
  Exporter exporter(g, images, graph);
  exporter.Rename(images, options.input_name);
  exporter.Rename(logits, "logits");
  for (int n : NodesFor(g, logits)) DLF_RETURN_IF_ERROR(exporter.Add(g.node(n)));
  DLF_RETURN_IF_ERROR(exporter.status());
  DLF_RETURN_IF_ERROR(SetValueInfo(*graph.add_input(), exporter.Name(images), g.dtype(images), g.shape(images)));
  DLF_RETURN_IF_ERROR(SetValueInfo(*graph.add_output(), exporter.Name(logits), g.dtype(logits), g.shape(logits)));
  return model;
}

std::vector<std::string> ExportedOps() {
  std::vector<std::string> ops;
  for (const auto& [op, rule] : Exporter::Rules()) ops.push_back(op);
  return ops;
}

absl::Status WriteModel(const onnx::ModelProto& model, const std::string& path) {
  std::string bytes;
  if (!model.SerializeToString(&bytes)) {
    return absl::InternalError(absl::StrCat(path, ": the ONNX model could not be serialized"));
  }
  return data::WriteFileAtomically(path, bytes);
}

}  // namespace dlf::onnx_export
