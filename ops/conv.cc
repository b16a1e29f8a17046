// Conv2D with oneDNN: forward, backward data, backward weights (+ bias).
#include "ops/op_util.h"
#include "ops/ops.h"

namespace dlf::ops {
namespace {

// Padding may differ at the two ends (ONNX's `pads`, PyTorch's padding='same'); dilation d
// spreads a kernel of k taps over (k - 1) * d + 1 inputs; groups split the channels into groups
// that each see only their own (the weight is [out, in / groups, kh, kw], as PyTorch's).
struct ConvGeometry {
  std::vector<int64_t> stride, pad, pad_end, dilation;
  int64_t groups = 1;
  bool plain() const {  // no dilation, no groups: what Winograd and kernel cropping assume
    return groups == 1 && dilation[0] == 1 && dilation[1] == 1;
  }
};

absl::StatusOr<ConvGeometry> GetGeometry(const Attrs& attrs) {
  ConvGeometry g;
  DLF_ASSIGN_OR_RETURN(g.stride, GetPair(attrs, "stride", 1));
  DLF_ASSIGN_OR_RETURN(g.pad, GetPair(attrs, "padding", 0));
  g.pad_end = g.pad;
  if (attrs.Has("padding_end")) {
    DLF_ASSIGN_OR_RETURN(g.pad_end, GetPair(attrs, "padding_end", 0));
  }
  DLF_ASSIGN_OR_RETURN(g.dilation, GetPair(attrs, "dilation", 1));
  g.groups = attrs.GetOr<int64_t>("groups", 1);
  DLF_RETURN_IF_ERROR(Expect(g.groups >= 1, absl::StrCat("groups must be positive, found ", g.groups)));
  for (int i = 0; i < 2; ++i) {
    DLF_RETURN_IF_ERROR(Expect(g.dilation[i] >= 1,
                               absl::StrCat("dilation must be positive, found ", g.dilation[i])));
  }
  return g;
}

// floor((in + pad + pad_end - ((k - 1) * dilation + 1)) / stride) + 1, as PyTorch and ONNX.
absl::StatusOr<int64_t> ConvOutputSize(const ConvGeometry& g, int i, int64_t in, int64_t kernel,
                                       const char* dim) {
  const int64_t pad = g.pad[i], pad_end = g.pad_end[i], dilated = (kernel - 1) * g.dilation[i] + 1;
  if (pad == pad_end && g.dilation[i] == 1) return WindowOutputSize(in, kernel, g.stride[i], pad, false, dim);
  DLF_RETURN_IF_ERROR(Expect(g.stride[i] > 0 && pad >= 0 && pad_end >= 0 && kernel > 0,
                             absl::StrCat(dim, ": kernel and stride must be positive and padding "
                                          "non-negative, found kernel ", kernel, ", stride ",
                                          g.stride[i], ", padding ", pad, " and ", pad_end)));
  const int64_t padded = in + pad + pad_end;
  DLF_RETURN_IF_ERROR(Expect(dilated <= padded, absl::StrCat(dim, ": kernel ", kernel, " dilated by ",
                                                             g.dilation[i], " spans ", dilated,
                                                             ", more than the padded input ", in, " + ",
                                                             pad, " + ", pad_end, " = ", padded)));
  return (padded - dilated) / g.stride[i] + 1;
}

absl::StatusOr<Shape> ConvOutputShape(const Shape& x, const Shape& w, const ConvGeometry& g) {
  DLF_RETURN_IF_ERROR(Expect(x[1] % g.groups == 0 && w[0] % g.groups == 0,
                             absl::StrCat("groups ", g.groups, " must divide the input's ", x[1],
                                          " channels and the weight's ", w[0], " outputs")));
  DLF_RETURN_IF_ERROR(Expect(x[1] == w[1] * g.groups,
                             g.groups == 1
                                 ? absl::StrCat("input has ", x[1], " channels but the weight expects ", w[1],
                                                " (weight is [out, in, kh, kw])")
                                 : absl::StrCat("input has ", x[1], " channels but the weight expects ", w[1],
                                                " per group, ", w[1] * g.groups, " in all (weight is [out, in / ",
                                                g.groups, ", kh, kw])")));
  DLF_ASSIGN_OR_RETURN(int64_t oh, ConvOutputSize(g, 0, x[2], w[2], "height"));
  DLF_ASSIGN_OR_RETURN(int64_t ow, ConvOutputSize(g, 1, x[3], w[3], "width"));
  return Shape{x[0], w[0], oh, ow};
}

absl::StatusOr<std::vector<ValueInfo>> Conv2DShape(const ShapeContext& ctx) {
  DLF_RETURN_IF_ERROR(Expect(ctx.inputs.size() == 2 || ctx.inputs.size() == 3,
                             "expects (x, weight) or (x, weight, bias)"));
  for (const ValueInfo& v : ctx.inputs) DLF_RETURN_IF_ERROR(ExpectF32(v, "every input"));
  DLF_RETURN_IF_ERROR(ExpectRank(ctx.inputs[0], 4, "x [n, c, h, w]"));
  DLF_RETURN_IF_ERROR(ExpectRank(ctx.inputs[1], 4, "weight [out, in, kh, kw]"));
  const Shape& w = ctx.inputs[1].shape;
  if (ctx.inputs.size() == 3) {
    DLF_RETURN_IF_ERROR(Expect(ctx.inputs[2].shape == Shape{w[0]},
                               absl::StrCat("bias must be [", w[0], "], found ",
                                            ShapeString(ctx.inputs[2].shape))));
  }
  DLF_ASSIGN_OR_RETURN(ConvGeometry g, GetGeometry(ctx.attrs));
  DLF_ASSIGN_OR_RETURN(Shape y, ConvOutputShape(ctx.inputs[0].shape, w, g));
  return std::vector<ValueInfo>{{DType::kF32, y}};
}

// Everything a conv primitive descriptor needs, from the shapes of x and w. The descs are
// plain (NCHW, OIHW); the primitives are created on AnyLayout() of them, since oneDNN's direct
// convolutions need blocked layouts, and DnnlKernel stages an operand whose tensor is in
// another layout (weights always; activations only where the layout pass left them plain).
//
// `wei` views only the kernel's live taps: a tap whose every position falls in the padding
// (all but the centre of a 3x3 kernel on the seed AlexNet's 1x1 maps) contributes nothing, so
// the primitive runs on the cropped kernel with the padding shifted, 9x less work there. Its
// weight gradient is zero, which BackwardWeightsKernel writes.
struct ConvDescs {
  dnnl::memory::desc src, wei, bias, dst;
  dnnl::memory::dims stride, dilates, pad_l, pad_r;  // dilates: oneDNN's, dilation - 1
  dnnl::algorithm algo;
  bool cropped = false;  // wei is a view of part of the weight tensor
};

// The live taps [first, last) of a kernel along one dimension: those that read the input for
// at least one output position.
std::pair<int64_t, int64_t> LiveTaps(int64_t in, int64_t kernel, int64_t stride, int64_t pad,
                                     int64_t out) {
  auto live = [&](int64_t k) {
    for (int64_t o = 0; o < out; ++o) {
      const int64_t i = o * stride - pad + k;
      if (i >= 0 && i < in) return true;
    }
    return false;
  };
  int64_t first = 0, last = kernel;
  while (first < kernel - 1 && !live(first)) ++first;
  while (last > first + 1 && !live(last - 1)) --last;
  return {first, last};
}

// Winograd F(4x4, 3x3) runs 3x3 stride-1 convolutions 2-2.5x faster than direct ones here
// (oneDNN's jit_wino_4x3 on AVX-512), forward and backward, when the output holds whole 4x4
// tiles and there are enough input channels to fill a vector; on smaller maps (the seed
// AlexNet's 1x1) most of each tile is waste and direct wins by 10x, and on 3 input channels
// (a first layer) direct wins by 4x. oneDNN's convolution_auto picks Winograd even on 1x1
// maps, hence this rule. Its results differ from a direct convolution's by ~1e-3 relative
// (gradients of a ResNet-20 step, tests/models/training:golden_test), so it is used only when
// the executor allows fast math.
dnnl::algorithm ChooseAlgorithm(const Shape& w, const ConvGeometry& g, const Shape& y,
                                bool fast_math) {
  const bool winograd = fast_math && g.plain() && w[2] == 3 && w[3] == 3 && g.stride[0] == 1 &&
                        g.stride[1] == 1 && y[2] >= 4 && y[3] >= 4 && w[1] >= 16;
  return winograd ? dnnl::algorithm::convolution_winograd : dnnl::algorithm::convolution_direct;
}

// Creates a primitive descriptor with d.algo, falling back to direct convolution where this
// CPU has no Winograd implementation (it needs AVX-512).
template <typename MakePd>
auto CreatePd(ConvDescs& d, MakePd make) -> decltype(make()) {
  try {
    return make();
  } catch (const dnnl::error&) {
    if (d.algo == dnnl::algorithm::convolution_direct) throw;
    d.algo = dnnl::algorithm::convolution_direct;
    return make();
  }
}

// `may_crop`: the weight tensor is plain (a view of part of a blocked one would be wrong).
// A grouped weight [out, in / groups, kh, kw] is oneDNN's [groups, out / groups, in / groups,
// kh, kw] (goihw) on the same bytes.
dnnl::memory::desc WeightDesc(const Shape& w, int64_t groups) {
  if (groups == 1) return PlainDesc(w);
  return dnnl::memory::desc({groups, w[0] / groups, w[1], w[2], w[3]}, dnnl::memory::data_type::f32,
                            dnnl::memory::format_tag::goihw);
}

absl::StatusOr<ConvDescs> MakeDescs(const Attrs& attrs, const Shape& x, const Shape& w,
                                     bool fast_math, bool may_crop = true) {
  DLF_ASSIGN_OR_RETURN(ConvGeometry g, GetGeometry(attrs));
  DLF_ASSIGN_OR_RETURN(Shape y, ConvOutputShape(x, w, g));
  ConvDescs d{PlainDesc(x),      WeightDesc(w, g.groups),
              PlainDesc({w[0]}), PlainDesc(y),
              ToDims(g.stride),  {g.dilation[0] - 1, g.dilation[1] - 1},
              ToDims(g.pad),     ToDims(g.pad_end)};
  Shape live = w;
  dnnl::memory::dims first = {0, 0, 0, 0};
  for (int i = 0; i < 2; ++i) {
    const auto [begin, end] = LiveTaps(x[2 + i], w[2 + i], g.stride[i], g.pad[i], y[2 + i]);
    first[2 + i] = begin;
    live[2 + i] = end - begin;
    d.pad_l[i] -= begin;
    d.pad_r[i] -= w[2 + i] - end;
  }
  // The shifted padding of a cropped kernel is never negative: a dead tap reads padding only.
  if (may_crop && g.plain() && live != w && d.pad_r[0] >= 0 && d.pad_r[1] >= 0) {
    d.wei = d.wei.submemory_desc(ToDims(live), first);
    d.cropped = true;
  } else {
    live = w;
    d.pad_l = ToDims(g.pad);
    d.pad_r = ToDims(g.pad_end);
  }
  d.algo = ChooseAlgorithm(live, g, y, fast_math);
  return d;
}

// With bf16, the operands (src, weights; dy in the backward passes) are bf16 and the results
// (dst, dx, dw, db) f32: the kernels stage the f32 tensors into bf16 as they reorder them.
dnnl::convolution_forward::primitive_desc ForwardPd(const ConvDescs& d, bool bias,
                                                    const dnnl::engine& e, bool bf16,
                                                    const dnnl::primitive_attr& attr = {},
                                                    bool bf16_dst = false) {
  using fwd = dnnl::convolution_forward;
  const auto prop = dnnl::prop_kind::forward_training;
  const auto src = AnyLayout(d.src, bf16), wei = AnyLayout(d.wei, bf16), dst = AnyLayout(d.dst, bf16_dst);
  auto desc = bias ? fwd::desc(prop, d.algo, src, wei, d.bias, dst, d.stride, d.dilates, d.pad_l, d.pad_r)
                   : fwd::desc(prop, d.algo, src, wei, dst, d.stride, d.dilates, d.pad_l, d.pad_r);
  return fwd::primitive_desc(desc, attr, e);
}

absl::StatusOr<std::unique_ptr<Kernel>> Conv2DKernel(const KernelContext& k) {
  const bool bias = k.inputs.size() == 3;
  DLF_ASSIGN_OR_RETURN(ConvDescs d, MakeDescs(k.node.attrs, k.inputs[0].shape, k.inputs[1].shape,
                                              k.fast_math, InputLayout(k, 1, {}).is_zero()));
  DLF_ASSIGN_OR_RETURN(const dnnl::primitive_attr attr, PostOpsAttr(k.post_ops));
  DLF_ASSIGN_OR_RETURN(auto pd, TryDnnl([&] {
    return CreatePd(d, [&] { return ForwardPd(d, bias, k.engine, k.bf16, attr, Bf16Output(k, 0)); });
  }, "convolution forward"));
  auto kernel = std::make_unique<DnnlKernel>(dnnl::convolution_forward(pd), k);
  kernel->BindInput(DNNL_ARG_SRC, 0, d.src, pd.src_desc());
  kernel->BindInput(DNNL_ARG_WEIGHTS, 1, WithType(d.wei, k.inputs[1].dtype == DType::kBF16),
                    pd.weights_desc());
  if (bias) kernel->BindInput(DNNL_ARG_BIAS, 2, d.bias);
  kernel->BindOutput(DNNL_ARG_DST, 0, d.dst, pd.dst_desc());
  return kernel;
}

// Conv2DBackwardData(dy, w) -> dx; attribute input_shape is x's shape.
absl::StatusOr<std::vector<ValueInfo>> BackwardDataShape(const ShapeContext& ctx) {
  DLF_ASSIGN_OR_RETURN(Shape x, ctx.attrs.Get<std::vector<int64_t>>("input_shape"));
  return std::vector<ValueInfo>{{DType::kF32, x}};
}

absl::StatusOr<std::unique_ptr<Kernel>> BackwardDataKernel(const KernelContext& k) {
  DLF_ASSIGN_OR_RETURN(ConvDescs d, MakeDescs(k.node.attrs, k.outputs[0].shape, k.inputs[1].shape,
                                              k.fast_math, InputLayout(k, 1, {}).is_zero()));
  DLF_ASSIGN_OR_RETURN(auto pd, TryDnnl([&] {
    using bwd = dnnl::convolution_backward_data;
    return CreatePd(d, [&] {
      bwd::desc desc(d.algo, AnyLayout(d.src, Bf16Output(k, 0)), AnyLayout(d.wei, k.bf16), AnyLayout(d.dst, k.bf16),
                     d.stride, d.dilates, d.pad_l, d.pad_r);
      return bwd::primitive_desc(desc, k.engine, ForwardPd(d, false, k.engine, k.bf16));
    });
  }, "convolution backward data"));
  auto kernel = std::make_unique<DnnlKernel>(dnnl::convolution_backward_data(pd), k);
  kernel->BindInput(DNNL_ARG_DIFF_DST, 0, d.dst, pd.diff_dst_desc());
  kernel->BindInput(DNNL_ARG_WEIGHTS, 1, WithType(d.wei, k.inputs[1].dtype == DType::kBF16),
                    pd.weights_desc());
  kernel->BindOutput(DNNL_ARG_DIFF_SRC, 0, d.src, pd.diff_src_desc());
  return kernel;
}

// Conv2DBackwardWeights(x, dy) -> dw (, db if has_bias); attribute weight_shape.
absl::StatusOr<std::vector<ValueInfo>> BackwardWeightsShape(const ShapeContext& ctx) {
  DLF_ASSIGN_OR_RETURN(Shape w, ctx.attrs.Get<std::vector<int64_t>>("weight_shape"));
  std::vector<ValueInfo> outs = {{DType::kF32, w}};
  if (ctx.attrs.GetOr<bool>("has_bias", false)) outs.push_back({DType::kF32, {w[0]}});
  return outs;
}

absl::StatusOr<std::unique_ptr<Kernel>> BackwardWeightsKernel(const KernelContext& k) {
  const bool bias = k.outputs.size() == 2;
  const bool weight_grad_plain = k.free_outputs.empty() || !k.free_outputs[0];
  DLF_ASSIGN_OR_RETURN(ConvDescs d, MakeDescs(k.node.attrs, k.inputs[0].shape, k.outputs[0].shape,
                                              k.fast_math, weight_grad_plain));
  DLF_ASSIGN_OR_RETURN(auto pd, TryDnnl([&] {
    using bwd = dnnl::convolution_backward_weights;
    const auto src = AnyLayout(d.src, k.bf16), wei = AnyLayout(d.wei), dst = AnyLayout(d.dst, k.bf16);
    return CreatePd(d, [&] {
      auto desc = bias ? bwd::desc(d.algo, src, wei, d.bias, dst, d.stride, d.dilates, d.pad_l, d.pad_r)
                       : bwd::desc(d.algo, src, wei, dst, d.stride, d.dilates, d.pad_l, d.pad_r);
      return bwd::primitive_desc(desc, k.engine, ForwardPd(d, bias, k.engine, k.bf16));
    });
  }, "convolution backward weights"));
  auto kernel = std::make_unique<DnnlKernel>(dnnl::convolution_backward_weights(pd), k);
  kernel->BindInput(DNNL_ARG_SRC, 0, d.src, pd.src_desc());
  kernel->BindInput(DNNL_ARG_DIFF_DST, 1, d.dst, pd.diff_dst_desc());
  kernel->BindOutput(DNNL_ARG_DIFF_WEIGHTS, 0, d.wei, pd.diff_weights_desc());
  if (d.cropped) kernel->ZeroOutputFirst(0);  // the dead taps' gradient
  if (bias) kernel->BindOutput(DNNL_ARG_DIFF_BIAS, 1, d.bias);
  return kernel;
}

// ConvTranspose2D(x [n, in, h, w], w [in, out / groups, kh, kw]) -> y [n, out, oh, ow], as
// PyTorch's ConvTranspose2d: the adjoint of the Conv2D with that weight that maps y's shape to
// x's, so oh = (h - 1) * stride - pad - pad_end + (kh - 1) * dilation + 1 + output_padding
// (output_padding picks one of the `stride` sizes that convolution maps to h). It runs on the
// convolution's backward-data primitive, as oneDNN's own CPU deconvolution does for f32 and bf16
// (ref_deconvolution wraps that primitive); its gradients are that convolution's forward (dx)
// and backward-weights (dw) primitives. The bias is a separate broadcast Add (ConvTranspose2D()).
absl::StatusOr<std::vector<ValueInfo>> ConvTransposeShape(const ShapeContext& ctx) {
  DLF_RETURN_IF_ERROR(Expect(ctx.inputs.size() == 2, "expects (x, weight)"));
  for (const ValueInfo& v : ctx.inputs) DLF_RETURN_IF_ERROR(ExpectF32(v, "every input"));
  DLF_RETURN_IF_ERROR(ExpectRank(ctx.inputs[0], 4, "x [n, c, h, w]"));
  DLF_RETURN_IF_ERROR(ExpectRank(ctx.inputs[1], 4, "weight [in, out / groups, kh, kw]"));
  const Shape &x = ctx.inputs[0].shape, &w = ctx.inputs[1].shape;
  DLF_ASSIGN_OR_RETURN(ConvGeometry g, GetGeometry(ctx.attrs));
  DLF_ASSIGN_OR_RETURN(std::vector<int64_t> output_padding, GetPair(ctx.attrs, "output_padding", 0));
  DLF_RETURN_IF_ERROR(Expect(w[0] % g.groups == 0 && x[1] == w[0],
                             absl::StrCat("input has ", x[1], " channels but the weight [in, out / groups, kh, "
                                          "kw] is ", ShapeString(w), (g.groups > 1 ? absl::StrCat(" with groups ",
                                          g.groups, ", which must divide its ", w[0]) : ""))));
  Shape y = {x[0], w[1] * g.groups, 0, 0};
  const char* dims[] = {"height", "width"};
  for (int i = 0; i < 2; ++i) {
    const int64_t op = output_padding[i];
    DLF_RETURN_IF_ERROR(Expect(op >= 0 && op < g.stride[i],
                               absl::StrCat(dims[i], ": output_padding must be in [0, stride ", g.stride[i],
                                            "), found ", op)));
    y[2 + i] = (x[2 + i] - 1) * g.stride[i] - g.pad[i] - g.pad_end[i] + (w[2 + i] - 1) * g.dilation[i] + 1 + op;
    DLF_RETURN_IF_ERROR(Expect(y[2 + i] > 0, absl::StrCat(dims[i], ": the padding ", g.pad[i], " + ",
                                                          g.pad_end[i], " leaves no output (", y[2 + i], ")")));
    // The convolution that y's shape maps back through must give x's size.
    DLF_ASSIGN_OR_RETURN(const int64_t back, ConvOutputSize(g, i, y[2 + i], w[2 + i], dims[i]));
    DLF_RETURN_IF_ERROR(Expect(back == x[2 + i], absl::StrCat(dims[i], ": no convolution maps ", y[2 + i],
                                                              " back to ", x[2 + i])));
  }
  return std::vector<ValueInfo>{{DType::kF32, y}};
}

// y = ConvTranspose2D(x, w): dx = Conv2D(dy, w), dw = Conv2DBackwardWeights(dy, x) (the
// convolution's input is dy, its output gradient x).
absl::StatusOr<std::vector<Value>> ConvTransposeGrad(GradContext& c) {
  Graph& g = c.graph;
  const Value x = c.node.inputs[0], w = c.node.inputs[1], dy = c.output_grads[0];
  Attrs attrs = c.node.attrs;
  attrs.Erase("output_padding");
  std::vector<Value> grads(2);
  if (c.wants[0]) grads[0] = g.Op1("Conv2D", {dy, w}, attrs);
  if (c.wants[1]) {
    attrs.Set("weight_shape", g.shape(w));
    grads[1] = g.Op1("Conv2DBackwardWeights", {dy, x}, attrs);
  }
  return grads;
}

absl::StatusOr<std::vector<Value>> Conv2DGrad(GradContext& c) {
  Graph& g = c.graph;
  const bool bias = c.node.inputs.size() == 3;
  const Value x = c.node.inputs[0], w = c.node.inputs[1], dy = c.output_grads[0];
  Attrs attrs = c.node.attrs;
  std::vector<Value> grads(c.node.inputs.size());
  if (c.wants[0]) {
    Attrs data_attrs = attrs;
    data_attrs.Set("input_shape", g.shape(x));
    grads[0] = g.Op1("Conv2DBackwardData", {dy, w}, data_attrs);
  }
  if (c.wants[1] || (bias && c.wants[2])) {
    attrs.Set("weight_shape", g.shape(w));
    attrs.Set("has_bias", bias);
    std::vector<Value> dw = g.Op("Conv2DBackwardWeights", {x, dy}, attrs);
    grads[1] = dw[0];
    if (bias) grads[2] = dw.size() > 1 ? dw[1] : Value{};
  }
  return grads;
}

void RegisterConv() {
  // 2 FLOPs per output element per weight of its filter: y [n, o, oh, ow], w [o, c, kh, kw].
  const auto conv_flops = [](const ValueInfo& y, const ValueInfo& w) {
    return 2.0 * NumElements(y.shape) * (NumElements(w.shape) / w.shape[0]);
  };
  RegisterOpOrDie({.name = "Conv2D",
                   .num_inputs = -1,
                   .shape = Conv2DShape,
                   .kernel = Conv2DKernel,
                   .gradient = Conv2DGrad,
                   .bf16_inputs = {1},
                   .accepts_post_ops = true,
                   .any_layout = true,
                   .flops = [=](const auto& in, const auto& out) { return conv_flops(out[0], in[1]); }});
  RegisterOpOrDie({.name = "Conv2DBackwardData",  // (dy, w) -> dx
                   .num_inputs = 2,
                   .shape = BackwardDataShape,
                   .kernel = BackwardDataKernel,
                   .bf16_inputs = {1},
                   .any_layout = true,
                   .flops = [=](const auto& in, const auto&) { return conv_flops(in[0], in[1]); }});
  RegisterOpOrDie({.name = "Conv2DBackwardWeights",  // (x, dy) -> dw (, db)
                   .num_inputs = 2,
                   .shape = BackwardWeightsShape,
                   .kernel = BackwardWeightsKernel,
                   .any_layout = true,
                   .flops = [=](const auto& in, const auto& out) { return conv_flops(in[1], out[0]); }});
  RegisterOpOrDie({.name = "ConvTranspose2D",  // (x, w) -> y, the backward-data primitive
                   .num_inputs = 2,
                   .shape = ConvTransposeShape,
                   .kernel = BackwardDataKernel,
                   .gradient = ConvTransposeGrad,
                   .bf16_inputs = {1},
                   .any_layout = true,
                   .flops = [=](const auto& in, const auto&) { return conv_flops(in[0], in[1]); }});
}

[[maybe_unused]] const bool registered = (RegisterConv(), true);

// Only what differs from the defaults, so a plain convolution's attributes stay as they were.
Attrs ConvAttrs(const Conv2DOptions& options) {
  Attrs attrs{{"stride", options.stride}, {"padding", options.padding}};
  if (!options.padding_end.empty() && options.padding_end != options.padding) {
    attrs.Set("padding_end", options.padding_end);
  }
  if (options.dilation != std::vector<int64_t>{1, 1}) attrs.Set("dilation", options.dilation);
  if (options.groups != 1) attrs.Set("groups", options.groups);
  return attrs;
}

}  // namespace

Value Conv2D(Graph& g, Value x, Value weight, Value bias, Conv2DOptions options) {
  const Attrs attrs = ConvAttrs(options);
  if (bias.valid()) return g.Op1("Conv2D", {x, weight, bias}, attrs);
  return g.Op1("Conv2D", {x, weight}, attrs);
}

Value ConvTranspose2D(Graph& g, Value x, Value weight, Value bias, ConvTranspose2DOptions options) {
  Attrs attrs = ConvAttrs(options);
  if (options.output_padding != std::vector<int64_t>{0, 0}) attrs.Set("output_padding", options.output_padding);
  const Value y = g.Op1("ConvTranspose2D", {x, weight}, attrs);
  if (!bias.valid() || !y.valid()) return y;
  return Add(g, y, Reshape(g, bias, {g.shape(bias)[0], 1, 1}));
}

}  // namespace dlf::ops
