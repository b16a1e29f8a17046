// MatMul (oneDNN SGEMM), batched MatMul (oneDNN matmul) and Linear (oneDNN matmul forward and
// backward data, inner product backward weights + bias).
#include <cmath>

#include "ops/op_util.h"
#include "ops/ops.h"

namespace dlf::ops {
namespace {

using tag = dnnl::memory::format_tag;

// ---- MatMul ----

struct MatMulDims {
  int64_t m, k, n;
};

absl::StatusOr<MatMulDims> GetMatMulDims(const Attrs& attrs, const Shape& a, const Shape& b) {
  const bool ta = attrs.GetOr<bool>("transpose_a", false);
  const bool tb = attrs.GetOr<bool>("transpose_b", false);
  const int64_t m = ta ? a[1] : a[0], ka = ta ? a[0] : a[1];
  const int64_t kb = tb ? b[1] : b[0], n = tb ? b[0] : b[1];
  DLF_RETURN_IF_ERROR(Expect(ka == kb, absl::StrCat("inner dimensions differ: ", ka, " vs ", kb,
                                                    " (transpose_a=", ta, ", transpose_b=", tb,
                                                    ")")));
  return MatMulDims{m, ka, n};
}

absl::StatusOr<std::vector<ValueInfo>> MatMulShape(const ShapeContext& ctx) {
  DLF_RETURN_IF_ERROR(ExpectF32(ctx.inputs[0], "a"));
  DLF_RETURN_IF_ERROR(ExpectF32(ctx.inputs[1], "b"));
  DLF_RETURN_IF_ERROR(ExpectRank(ctx.inputs[0], 2, "a"));
  DLF_RETURN_IF_ERROR(ExpectRank(ctx.inputs[1], 2, "b"));
  DLF_ASSIGN_OR_RETURN(MatMulDims d,
                       GetMatMulDims(ctx.attrs, ctx.inputs[0].shape, ctx.inputs[1].shape));
  return std::vector<ValueInfo>{{DType::kF32, {d.m, d.n}}};
}

absl::StatusOr<std::unique_ptr<Kernel>> MatMulKernel(const KernelContext& k) {
  const bool ta = k.node.attrs.GetOr<bool>("transpose_a", false);
  const bool tb = k.node.attrs.GetOr<bool>("transpose_b", false);
  DLF_ASSIGN_OR_RETURN(MatMulDims d, GetMatMulDims(k.node.attrs, k.inputs[0].shape,
                                                   k.inputs[1].shape));
  const int64_t lda = k.inputs[0].shape[1], ldb = k.inputs[1].shape[1];
  return std::make_unique<FunctionKernel>([=](RunContext& ctx) {
    const dnnl_status_t s = dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', d.m, d.n, d.k, 1.0f,
                                       In(ctx, 0), lda, In(ctx, 1), ldb, 0.0f, Out(ctx), d.n);
    return s == dnnl_success ? absl::OkStatus() : absl::InternalError("dnnl_sgemm failed");
  });
}

// C = op(A) op(B): dA and dB are products of dC with the other operand, for MatMul and (per
// batch element) BatchMatMul.
using MatMulBuilder = Value (*)(Graph&, Value, Value, bool, bool);
GradFn ProductGrad(MatMulBuilder mm) {
  return [mm](GradContext& c) -> absl::StatusOr<std::vector<Value>> {
    const bool ta = c.node.attrs.GetOr<bool>("transpose_a", false);
    const bool tb = c.node.attrs.GetOr<bool>("transpose_b", false);
    const Value a = c.node.inputs[0], b = c.node.inputs[1], dc = c.output_grads[0];
    Graph& g = c.graph;
    std::vector<Value> grads(2);
    if (c.wants[0]) grads[0] = ta ? mm(g, b, dc, tb, true) : mm(g, dc, b, false, !tb);
    if (c.wants[1]) grads[1] = tb ? mm(g, dc, a, true, ta) : mm(g, a, dc, !ta, false);
    return grads;
  };
}

// ---- BatchMatMul: a [b, m, k] x b [b, k, n] -> [b, m, n] (after optional transposes of the
// last two axes), one oneDNN matmul over the batch ----

absl::StatusOr<std::vector<ValueInfo>> BatchMatMulShape(const ShapeContext& ctx) {
  DLF_RETURN_IF_ERROR(ExpectF32(ctx.inputs[0], "a"));
  DLF_RETURN_IF_ERROR(ExpectF32(ctx.inputs[1], "b"));
  DLF_RETURN_IF_ERROR(ExpectRank(ctx.inputs[0], 3, "a [batch, m, k]"));
  DLF_RETURN_IF_ERROR(ExpectRank(ctx.inputs[1], 3, "b [batch, k, n]"));
  const Shape &a = ctx.inputs[0].shape, &b = ctx.inputs[1].shape;
  DLF_RETURN_IF_ERROR(Expect(a[0] == b[0], absl::StrCat("batch sizes differ: ", a[0], " vs ", b[0])));
  DLF_ASSIGN_OR_RETURN(MatMulDims d, GetMatMulDims(ctx.attrs, {a[1], a[2]}, {b[1], b[2]}));
  return std::vector<ValueInfo>{{DType::kF32, {a[0], d.m, d.n}}};
}

// f32 also under ExecutorOptions::bf16: staging attention's [*, T, T] weights into bf16 copies
// costs what AMX's bf16 product saves (measured on the GPT step, shakespeare_char: 6.9k tokens/s
// f32 products, 6.7k bf16).
absl::StatusOr<std::unique_ptr<Kernel>> BatchMatMulKernel(const KernelContext& k) {
  const bool ta = k.node.attrs.GetOr<bool>("transpose_a", false);
  const bool tb = k.node.attrs.GetOr<bool>("transpose_b", false);
  const dnnl::memory::desc a = BatchDesc(k.inputs[0].shape, ta), b = BatchDesc(k.inputs[1].shape, tb);
  const dnnl::memory::desc c = PlainDesc(k.outputs[0].shape);
  DLF_ASSIGN_OR_RETURN(auto pd, TryDnnl([&] {
    return dnnl::matmul::primitive_desc(dnnl::matmul::desc(a, b, c), k.engine);
  }, "batched matmul"));
  auto kernel = std::make_unique<DnnlKernel>(dnnl::matmul(pd), k);
  kernel->BindInput(DNNL_ARG_SRC, 0, a);
  kernel->BindInput(DNNL_ARG_WEIGHTS, 1, b);
  kernel->BindOutput(DNNL_ARG_DST, 0, c);
  return kernel;
}

// ---- Linear: y = x W^T + b, W is [out, in] ----

absl::StatusOr<std::vector<ValueInfo>> LinearShape(const ShapeContext& ctx) {
  DLF_RETURN_IF_ERROR(Expect(ctx.inputs.size() == 2 || ctx.inputs.size() == 3,
                             "expects (x, weight) or (x, weight, bias)"));
  for (const ValueInfo& v : ctx.inputs) DLF_RETURN_IF_ERROR(ExpectF32(v, "every input"));
  const ValueInfo &x = ctx.inputs[0], &w = ctx.inputs[1];
  DLF_RETURN_IF_ERROR(ExpectRank(x, 2, "x (Flatten it first)"));
  DLF_RETURN_IF_ERROR(ExpectRank(w, 2, "weight [out, in]"));
  DLF_RETURN_IF_ERROR(Expect(x.shape[1] == w.shape[1],
                             absl::StrCat("x has ", x.shape[1], " features but weight expects ",
                                          w.shape[1], " (weight is [out, in])")));
  if (ctx.inputs.size() == 3) {
    DLF_RETURN_IF_ERROR(Expect(ctx.inputs[2].shape == Shape{w.shape[0]},
                               absl::StrCat("bias must be [", w.shape[0], "], found ",
                                            ShapeString(ctx.inputs[2].shape))));
  }
  return std::vector<ValueInfo>{{DType::kF32, {x.shape[0], w.shape[0]}}};
}

// The inner-product forward the backward primitives take as their hint.
dnnl::inner_product_forward::primitive_desc LinearForwardPd(const dnnl::engine& e,
                                                           const Shape& x, const Shape& w,
                                                           bool bias, bool bf16) {
  const dnnl::memory::desc src = WithType(PlainDesc(x), bf16), wei = WithType(PlainDesc(w), bf16);
  const dnnl::memory::desc dst = PlainDesc({x[0], w[0]});
  using fwd = dnnl::inner_product_forward;
  auto desc = bias ? fwd::desc(dnnl::prop_kind::forward_training, src, wei, PlainDesc({w[0]}), dst)
                   : fwd::desc(dnnl::prop_kind::forward_training, src, wei, dst);
  return fwd::primitive_desc(desc, e);
}

// The forward runs as a oneDNN matmul x [n, in] * W^T, W^T being W's [out, in] buffer read as
// [in, out] column-major: on plain weights it runs ~2x faster than the inner-product forward
// (whose fast path wants the weights reordered to a blocked layout each step). With bf16, x and W
// are staged into bf16 copies (the product is accumulated and written in f32); so are dy and
// W, or x and dy, in the backward passes.
absl::StatusOr<std::unique_ptr<Kernel>> LinearKernel(const KernelContext& k) {
  const bool bias = k.inputs.size() == 3;
  const Shape& x = k.inputs[0].shape;
  const int64_t out = k.inputs[1].shape[0], in = k.inputs[1].shape[1];
  const dnnl::memory::desc src = PlainDesc(x), dst = PlainDesc({x[0], out});
  // Between linear layers (in inference, where dropout is gone) the activations stay bf16.
  const dnnl::memory::desc dst_compute = WithType(dst, Bf16Output(k, 0));
  const dnnl::memory::desc w_transposed({in, out}, dnnl::memory::data_type::f32,
                                        dnnl::memory::format_tag::ba);
  const dnnl::memory::desc bias_row = PlainDesc({1, out});
  // Fixed weights (inference) are packed once into the layout the matmul chooses (5-18% faster
  // per call than reading the plain transposed view, AlexNet's layers, f32 and bf16).
  const bool packed = k.fixed_inputs.size() > 1 && k.fixed_inputs[1];
  const dnnl::memory::desc src_compute = WithType(src, k.bf16);
  const dnnl::memory::desc w_compute = packed ? AnyLayout(w_transposed, k.bf16) : WithType(w_transposed, k.bf16);
  const bool w_bf16 = k.inputs[1].dtype == DType::kBF16;  // the executor's bf16 copy
  DLF_ASSIGN_OR_RETURN(const dnnl::primitive_attr attr, PostOpsAttr(k.post_ops));
  DLF_ASSIGN_OR_RETURN(auto pd, TryDnnl([&] {
    auto desc = bias ? dnnl::matmul::desc(src_compute, w_compute, bias_row, dst_compute)
                     : dnnl::matmul::desc(src_compute, w_compute, dst_compute);
    return dnnl::matmul::primitive_desc(desc, attr, k.engine);
  }, "matmul (linear forward)"));
  auto kernel = std::make_unique<DnnlKernel>(dnnl::matmul(pd), k);
  kernel->BindInput(DNNL_ARG_SRC, 0, src, src_compute);  // read as stored (layout pass)
  kernel->BindInput(DNNL_ARG_WEIGHTS, 1, WithType(w_transposed, w_bf16), pd.weights_desc());
  if (bias) kernel->BindInput(DNNL_ARG_BIAS, 2, bias_row);
  kernel->BindOutput(DNNL_ARG_DST, 0, dst, dst_compute);
  return kernel;
}

// LinearBackwardData(dy [n, out], W [out, in]) -> dx [n, in]
absl::StatusOr<std::vector<ValueInfo>> LinearBackwardDataShape(const ShapeContext& ctx) {
  return std::vector<ValueInfo>{{DType::kF32, {ctx.inputs[0].shape[0], ctx.inputs[1].shape[1]}}};
}

// dx [n, in] = dy [n, out] W [out, in] as a oneDNN matmul on the plain tensors (brgemm; AMX
// where present). benchmarks/linear_benchmark measured it against the inner-product backward
// (x64:gemm:jit) per AlexNet layer: as fast or faster on each, 2x on cifar.fc1 in bf16.
absl::StatusOr<std::unique_ptr<Kernel>> LinearBackwardDataKernel(const KernelContext& k) {
  const Shape& dy = k.inputs[0].shape;
  const Shape& w = k.inputs[1].shape;
  const dnnl::memory::desc dy_compute = WithType(PlainDesc(dy), k.bf16);
  const dnnl::memory::desc w_compute = WithType(PlainDesc(w), k.bf16);
  const dnnl::memory::desc dx = PlainDesc(k.outputs[0].shape);
  DLF_ASSIGN_OR_RETURN(auto pd, TryDnnl([&] {
    return dnnl::matmul::primitive_desc(dnnl::matmul::desc(dy_compute, w_compute, dx), k.engine);
  }, "matmul (linear backward data)"));
  auto kernel = std::make_unique<DnnlKernel>(dnnl::matmul(pd), k);
  kernel->BindInput(DNNL_ARG_SRC, 0, PlainDesc(dy), dy_compute);
  kernel->BindInput(DNNL_ARG_WEIGHTS, 1, WithType(PlainDesc(w), k.inputs[1].dtype == DType::kBF16), w_compute);
  kernel->BindOutput(DNNL_ARG_DST, 0, dx);
  return kernel;
}

// LinearBackwardWeights(x [n, in], dy [n, out]) -> dW [out, in] (, db [out] if has_bias)
absl::StatusOr<std::vector<ValueInfo>> LinearBackwardWeightsShape(const ShapeContext& ctx) {
  const int64_t out = ctx.inputs[1].shape[1], in = ctx.inputs[0].shape[1];
  std::vector<ValueInfo> outs = {{DType::kF32, {out, in}}};
  if (ctx.attrs.GetOr<bool>("has_bias", false)) outs.push_back({DType::kF32, {out}});
  return outs;
}

absl::StatusOr<std::unique_ptr<Kernel>> LinearBackwardWeightsKernel(const KernelContext& k) {
  const Shape& x = k.inputs[0].shape;
  const Shape& w = k.outputs[0].shape;
  const bool bias = k.outputs.size() == 2;
  DLF_ASSIGN_OR_RETURN(auto pd, TryDnnl([&] {
    auto hint = LinearForwardPd(k.engine, x, w, bias, k.bf16);
    using bwd = dnnl::inner_product_backward_weights;
    const auto src = WithType(PlainDesc(x), k.bf16), dwei = PlainDesc(w);
    const auto ddst = WithType(PlainDesc({x[0], w[0]}), k.bf16);
    auto desc = bias ? bwd::desc(src, dwei, PlainDesc({w[0]}), ddst) : bwd::desc(src, dwei, ddst);
    return bwd::primitive_desc(desc, k.engine, hint);
  }, "inner product backward weights"));
  auto kernel = std::make_unique<DnnlKernel>(dnnl::inner_product_backward_weights(pd), k);
  kernel->BindInput(DNNL_ARG_SRC, 0, PlainDesc(x), pd.src_desc());
  kernel->BindInput(DNNL_ARG_DIFF_DST, 1, PlainDesc({x[0], w[0]}), pd.diff_dst_desc());
  kernel->BindOutput(DNNL_ARG_DIFF_WEIGHTS, 0, pd.diff_weights_desc());
  if (bias) kernel->BindOutput(DNNL_ARG_DIFF_BIAS, 1, pd.diff_bias_desc());
  return kernel;
}

absl::StatusOr<std::vector<Value>> LinearGrad(GradContext& c) {
  const bool bias = c.node.inputs.size() == 3;
  const Value x = c.node.inputs[0], w = c.node.inputs[1], dy = c.output_grads[0];
  std::vector<Value> grads(c.node.inputs.size());
  if (c.wants[0]) grads[0] = c.graph.Op1("LinearBackwardData", {dy, w});
  if (c.wants[1] || (bias && c.wants[2])) {
    std::vector<Value> dw = c.graph.Op("LinearBackwardWeights", {x, dy}, {{"has_bias", bias}});
    grads[1] = dw[0];
    if (bias) grads[2] = dw.size() > 1 ? dw[1] : Value{};
  }
  return grads;
}

void RegisterMatMul() {
  RegisterOpOrDie({"MatMul", 2, MatMulShape, MatMulKernel, ProductGrad(MatMul)});
  RegisterOpOrDie({.name = "BatchMatMul",
                   .num_inputs = 2,
                   .shape = BatchMatMulShape,
                   .kernel = BatchMatMulKernel,
                   .gradient = ProductGrad(BatchMatMul),
                   // 2 per output element per inner index k: |a| |b| / |c| = batch k^2 whatever the transposes.
                   .flops = [](const auto& in, const auto& out) {
                     const double batch = static_cast<double>(out[0].shape[0]);
                     const double k = std::round(std::sqrt(static_cast<double>(NumElements(in[0].shape)) *
                                                           NumElements(in[1].shape) / NumElements(out[0].shape) / batch));
                     return 2.0 * NumElements(out[0].shape) * k;
                   }});
  // 2 FLOPs per element of the [n, out] product per input feature.
  RegisterOpOrDie({.name = "Linear",  // (x [n, in], w [out, in] (, b)) -> y [n, out]
                   .num_inputs = -1,
                   .shape = LinearShape,
                   .kernel = LinearKernel,
                   .gradient = LinearGrad,
                   .bf16_inputs = {1},
                   .accepts_post_ops = true,
                   .any_layout = true,  // x as stored (bf16 from another Linear), y bf16 when free
                   .flops = [](const auto& in, const auto& out) {
                     return 2.0 * NumElements(out[0].shape) * in[1].shape[1];
                   }});
  RegisterOpOrDie({.name = "LinearBackwardData",  // (dy [n, out], w [out, in]) -> dx
                   .num_inputs = 2,
                   .shape = LinearBackwardDataShape,
                   .kernel = LinearBackwardDataKernel,
                   .bf16_inputs = {1},
                   .flops = [](const auto& in, const auto&) {
                     return 2.0 * NumElements(in[0].shape) * in[1].shape[1];
                   }});
  RegisterOpOrDie({.name = "LinearBackwardWeights",  // (x [n, in], dy [n, out]) -> dw (, db)
                   .num_inputs = 2,
                   .shape = LinearBackwardWeightsShape,
                   .kernel = LinearBackwardWeightsKernel,
                   .flops = [](const auto& in, const auto& out) {
                     return 2.0 * NumElements(out[0].shape) * in[0].shape[0];
                   }});
}

[[maybe_unused]] const bool registered = (RegisterMatMul(), true);

}  // namespace

Value BatchMatMul(Graph& g, Value a, Value b, bool transpose_a, bool transpose_b) {
  return g.Op1("BatchMatMul", {a, b}, {{"transpose_a", transpose_a}, {"transpose_b", transpose_b}});
}

Value MatMul(Graph& g, Value a, Value b, bool transpose_a, bool transpose_b) {
  return g.Op1("MatMul", {a, b}, {{"transpose_a", transpose_a}, {"transpose_b", transpose_b}});
}

// Leading axes [*, in]: the kernel's [rows, in] matrix is the same bytes, so the rows are
// flattened into it and the output unflattened (both reshapes in place).
Value Linear(Graph& g, Value x, Value weight, Value bias) {
  if (!g.Contains(x) || !g.Contains(weight)) return Value{};
  const Shape shape = g.shape(x);  // a copy: adding nodes may move the graph's shapes
  const bool leading = shape.size() > 2;
  const Value rows = leading ? Reshape(g, x, {-1, shape.back()}) : x;
  const Value y = bias.valid() ? g.Op1("Linear", {rows, weight, bias}) : g.Op1("Linear", {rows, weight});
  if (!leading || !g.Contains(y)) return y;
  Shape out(shape.begin(), shape.end() - 1);
  out.push_back(g.shape(weight)[0]);
  return Reshape(g, y, out);
}

}  // namespace dlf::ops
