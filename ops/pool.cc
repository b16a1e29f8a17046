// MaxPool2D (oneDNN, with workspace for the backward) and AvgPool2D (padding excluded).
#include <utility>

#include "graph/passes/passes.h"
#include "absl/strings/match.h"
#include "ops/op_util.h"
#include "ops/ops.h"

namespace dlf::ops {
namespace {

struct PoolGeometry {
  Shape x, y;
  dnnl::memory::dims kernel, stride, pad_l, pad_r;
};

absl::StatusOr<PoolGeometry> GetGeometry(const Attrs& attrs, const Shape& x) {
  DLF_RETURN_IF_ERROR(Expect(x.size() == 4, "x must be [n, c, h, w], found " + ShapeString(x)));
  DLF_ASSIGN_OR_RETURN(std::vector<int64_t> kernel, GetPair(attrs, "kernel", 2));
  DLF_ASSIGN_OR_RETURN(std::vector<int64_t> stride, GetPair(attrs, "stride", 2));
  DLF_ASSIGN_OR_RETURN(std::vector<int64_t> pad, GetPair(attrs, "padding", 0));
  const bool ceil_mode = attrs.GetOr<bool>("ceil_mode", false);
  for (int i = 0; i < 2; ++i) {
    DLF_RETURN_IF_ERROR(Expect(2 * pad[i] <= kernel[i],
                               absl::StrCat("padding ", pad[i], " must be at most half the kernel ",
                                            kernel[i])));
  }
  PoolGeometry g{x, {x[0], x[1], 0, 0}, ToDims(kernel), ToDims(stride), ToDims(pad), ToDims(pad)};
  const char* names[2] = {"height", "width"};
  for (int i = 0; i < 2; ++i) {
    DLF_ASSIGN_OR_RETURN(g.y[2 + i], WindowOutputSize(x[2 + i], kernel[i], stride[i], pad[i],
                                                      ceil_mode, names[i]));
    // oneDNN takes the right padding that makes its floor formula give our output size.
    g.pad_r[i] = std::max<int64_t>(pad[i], (g.y[2 + i] - 1) * stride[i] + kernel[i] -
                                               x[2 + i] - pad[i]);
  }
  return g;
}

// Pools in the layout `src` is in (plain NCHW by default); y (and the max-pooling workspace)
// in the same layout.
dnnl::pooling_forward::primitive_desc ForwardPd(const PoolGeometry& g, dnnl::algorithm algo,
                                                const dnnl::engine& e,
                                                dnnl::memory::desc src = {},
                                                const dnnl::primitive_attr& attr = {}) {
  if (src.is_zero()) src = PlainDesc(g.x);
  const dnnl::memory::desc dst = LikeLayout(src, ToDims(g.y), src.data_type());  // f32 or bf16
  dnnl::pooling_forward::desc desc(dnnl::prop_kind::forward_training, algo, src,
                                   dst.is_zero() ? PlainDesc(g.y) : dst, g.stride, g.kernel,
                                   g.pad_l, g.pad_r);
  return dnnl::pooling_forward::primitive_desc(desc, attr, e);
}

constexpr auto kMax = dnnl::algorithm::pooling_max;
constexpr auto kAvg = dnnl::algorithm::pooling_avg_exclude_padding;
constexpr auto kF32 = dnnl::memory::data_type::f32;

// The layout the forward pools x in: its producer's, when the backward can rebuild it from the
// workspace's (LikeLayout) and the workspace may take that layout's size (it is a free
// output); else plain.
dnnl::memory::desc ForwardSource(const KernelContext& k, const PoolGeometry& g,
                                 dnnl::algorithm algo, const dnnl::primitive_attr& attr) {
  const dnnl::memory::desc plain = PlainDesc(g.x);
  const dnnl::memory::desc given = InputLayout(k, 0, plain);
  const bool workspace_free = algo != kMax || (k.free_outputs.size() > 1 && k.free_outputs[1]);
  if (!workspace_free || LikeLayout(given, given.dims(), kF32).is_zero()) return plain;
  // A plain input (e.g. from a gemm convolution, the only one oneDNN has on AVX2 for AlexNet's
  // 11x11 stride-4 first layer; in bf16 on AMX, from that layer's plain bf16 output) is staged
  // into the blocked layout where oneDNN has only its simple_nchw loops, or with a fused ReLU
  // its reference loop, for the plain one, so that pooling runs jit code.
  const dnnl::memory::desc plain_typed = PlainDesc(g.x, given.data_type());
  if (given == plain_typed) {
    const std::string impl = ForwardPd(g, algo, k.engine, given, attr).impl_info_str();
    if (absl::StartsWith(impl, "simple") || absl::StartsWith(impl, "ref")) return BlockedDesc(g.x, given.data_type());
  }
  return given;  // bf16 when its producer wrote it so: y is then bf16 too
}

// The layout the backward's forward pooled x in: the workspace's (max pooling), else dy's.
dnnl::memory::desc BackwardSource(const KernelContext& k, const PoolGeometry& g,
                                  dnnl::algorithm algo) {
  const dnnl::memory::desc like = InputLayout(k, algo == kMax ? 1 : 0, {});
  const dnnl::memory::desc src = like.is_zero() ? like : LikeLayout(like, ToDims(g.x), kF32);
  return src.is_zero() ? PlainDesc(g.x) : src;
}

// MaxPool2D(x) -> (y, workspace). The workspace (u8, size chosen by oneDNN) records the argmax
// positions the backward needs.
absl::StatusOr<std::vector<ValueInfo>> MaxPoolShape(const ShapeContext& ctx) {
  DLF_RETURN_IF_ERROR(ExpectF32(ctx.inputs[0], "x"));
  DLF_ASSIGN_OR_RETURN(PoolGeometry g, GetGeometry(ctx.attrs, ctx.inputs[0].shape));
  DLF_ASSIGN_OR_RETURN(auto pd, TryDnnl([&] { return ForwardPd(g, kMax, ShapeEngine()); },
                                        "max pooling"));
  const int64_t ws_bytes = static_cast<int64_t>(pd.workspace_desc().get_size());
  return std::vector<ValueInfo>{{DType::kF32, g.y}, {DType::kU8, {ws_bytes}}};
}

absl::StatusOr<std::vector<ValueInfo>> AvgPoolShape(const ShapeContext& ctx) {
  DLF_RETURN_IF_ERROR(ExpectF32(ctx.inputs[0], "x"));
  DLF_ASSIGN_OR_RETURN(PoolGeometry g, GetGeometry(ctx.attrs, ctx.inputs[0].shape));
  return std::vector<ValueInfo>{{DType::kF32, g.y}};
}

KernelFactory ForwardKernel(dnnl::algorithm algo) {
  return [algo](const KernelContext& k) -> absl::StatusOr<std::unique_ptr<Kernel>> {
    DLF_ASSIGN_OR_RETURN(PoolGeometry g, GetGeometry(k.node.attrs, k.inputs[0].shape));
    DLF_ASSIGN_OR_RETURN(const dnnl::primitive_attr attr, PostOpsAttr(k.post_ops));
    const dnnl::memory::desc src = ForwardSource(k, g, algo, attr);
    DLF_ASSIGN_OR_RETURN(auto pd, TryDnnl([&] { return ForwardPd(g, algo, k.engine, src, attr); },
                                          "pooling forward"));
    auto kernel = std::make_unique<DnnlKernel>(dnnl::pooling_forward(pd), k);
    kernel->BindInput(DNNL_ARG_SRC, 0, PlainDesc(g.x), pd.src_desc());
    kernel->BindOutput(DNNL_ARG_DST, 0, PlainDesc(g.y), pd.dst_desc());
    if (algo == kMax) kernel->BindOutput(DNNL_ARG_WORKSPACE, 1, pd.workspace_desc());
    return kernel;
  };
}

// MaxPool2DBackward(dy, workspace) / AvgPool2DBackward(dy) -> dx; attribute input_shape.
absl::StatusOr<std::vector<ValueInfo>> BackwardShape(const ShapeContext& ctx) {
  DLF_ASSIGN_OR_RETURN(Shape x, ctx.attrs.Get<std::vector<int64_t>>("input_shape"));
  return std::vector<ValueInfo>{{DType::kF32, x}};
}

KernelFactory BackwardKernel(dnnl::algorithm algo) {
  return [algo](const KernelContext& k) -> absl::StatusOr<std::unique_ptr<Kernel>> {
    DLF_ASSIGN_OR_RETURN(PoolGeometry g, GetGeometry(k.node.attrs, k.outputs[0].shape));
    const dnnl::memory::desc src = BackwardSource(k, g, algo);
    DLF_ASSIGN_OR_RETURN(auto pd, TryDnnl([&] {
      const dnnl::memory::desc dst = LikeLayout(src, ToDims(g.y), kF32);
      dnnl::pooling_backward::desc desc(algo, src, dst.is_zero() ? PlainDesc(g.y) : dst, g.stride,
                                        g.kernel, g.pad_l, g.pad_r);
      return dnnl::pooling_backward::primitive_desc(desc, k.engine,
                                                    ForwardPd(g, algo, k.engine, src));
    }, "pooling backward"));
    auto kernel = std::make_unique<DnnlKernel>(dnnl::pooling_backward(pd), k);
    kernel->BindInput(DNNL_ARG_DIFF_DST, 0, PlainDesc(g.y), pd.diff_dst_desc());
    if (algo == kMax) kernel->BindInput(DNNL_ARG_WORKSPACE, 1, pd.workspace_desc());
    kernel->BindOutput(DNNL_ARG_DIFF_SRC, 0, PlainDesc(g.x), pd.diff_src_desc());
    return kernel;
  };
}

GradFn PoolGrad(const char* backward_op, bool uses_workspace) {
  return [=](GradContext& c) -> absl::StatusOr<std::vector<Value>> {
    Attrs attrs = c.node.attrs;
    attrs.Set("input_shape", c.graph.shape(c.node.inputs[0]));
    std::vector<Value> inputs = {c.output_grads[0]};
    if (uses_workspace) inputs.push_back(c.node.outputs[1]);
    return std::vector<Value>{c.graph.Op1(backward_op, inputs, attrs)};
  };
}

void RegisterPooling() {
  // The forward ops apply a following ReLU as a post-op (the workspace still records the
  // argmax of the pooled input, which is the ReLU output's too).
  const auto pool = [](const char* name, int inputs, ShapeFn shape, KernelFactory kernel,
                       GradFn gradient) {
    const bool forward = gradient != nullptr;
    RegisterOpOrDie({.name = name,
                     .num_inputs = inputs,
                     .shape = std::move(shape),
                     .kernel = std::move(kernel),
                     .gradient = std::move(gradient),
                     .accepts_post_ops = forward,
                     .any_layout = true});
  };
  pool("MaxPool2D", 1, MaxPoolShape, ForwardKernel(kMax), PoolGrad("MaxPool2DBackward", true));
  pool("MaxPool2DBackward", 2, BackwardShape, BackwardKernel(kMax), nullptr);
  pool("AvgPool2D", 1, AvgPoolShape, ForwardKernel(kAvg), PoolGrad("AvgPool2DBackward", false));
  pool("AvgPool2DBackward", 1, BackwardShape, BackwardKernel(kAvg), nullptr);
}

[[maybe_unused]] const bool registered = (RegisterPooling(), true);

// A plan rewrite for every model: ReLU then max pooling computes what max pooling then ReLU
// computes (the maximum commutes with a monotonic function), the ReLU on a tensor the window's
// area smaller, where the pooling then applies it as a post-op (the fuse pass). The backward
// follows: MaxPool2DBackward(dz, ws) -> dy, ReluGrad(dy, y) -> dx becomes ReluGrad(dz, z) ->
// dz', MaxPool2DBackward(dz', ws) -> dx. Values and gradients stay exact: where a window's
// maximum is positive, the argmax of x and of relu(x) are the same element with the same mask;
// where it is not, the gradient is zero either way. Returns whether it rewrote one place.
bool RewriteOneReluBeforeMaxPool(passes::Plan& plan) {
  const std::vector<int> writer = plan.Writers();
  const std::vector<int> readers = plan.ReaderCounts();
  std::vector<std::vector<int>> read_by(plan.values.size());
  for (size_t i = 0; i < plan.nodes.size(); ++i) {
    for (Value in : plan.nodes[i].node.inputs) read_by[in.id].push_back(static_cast<int>(i));
  }
  const auto op_of = [&](int i) -> const std::string& { return plan.nodes[i].node.op; };
  for (size_t m = 0; m < plan.nodes.size(); ++m) {
    if (op_of(m) != "MaxPool2D") continue;
    const Value y = plan.nodes[m].node.inputs[0];
    const int r = writer[y.id];
    if (r < 0 || op_of(r) != "Relu" || readers[y.id] != static_cast<int>(read_by[y.id].size())) continue;
    int grad = -1, others = 0;  // y's readers besides the pooling: at most the ReLU's gradient
    for (int reader : read_by[y.id]) {
      if (reader == static_cast<int>(m)) continue;
      const bool is_grad = op_of(reader) == "ReluGrad" && plan.nodes[reader].node.inputs[1] == y;
      if (is_grad && grad < 0) grad = reader; else ++others;
    }
    if (others > 0) continue;
    int back = -1;
    if (grad >= 0) {
      const Value dy = plan.nodes[grad].node.inputs[0];
      back = writer[dy.id];
      if (back < 0 || op_of(back) != "MaxPool2DBackward" || readers[dy.id] != 1 ||
          plan.nodes[back].node.inputs[1] != plan.nodes[m].node.outputs[1]) {
        continue;
      }
    }
    const auto swap_ops = [&](int a, int b) {
      std::swap(plan.nodes[a].node, plan.nodes[b].node);
      std::swap(plan.nodes[a].label, plan.nodes[b].label);
      plan.nodes[a].passes.push_back("rewrite");
      plan.nodes[b].passes.push_back("rewrite");
    };
    const Value x = plan.nodes[r].node.inputs[0], z = plan.nodes[m].node.outputs[0];
    const Value pooled = plan.AddValue(plan.info(z));
    swap_ops(r, static_cast<int>(m));  // r pools x, m applies the ReLU
    plan.nodes[r].node.inputs = {x};
    plan.nodes[r].node.outputs[0] = pooled;
    plan.nodes[m].node.inputs = {pooled};
    plan.nodes[m].node.outputs = {z};
    if (grad < 0) return true;
    const Value dz = plan.nodes[back].node.inputs[0], ws = plan.nodes[back].node.inputs[1];
    const Value dx = plan.nodes[grad].node.outputs[0];
    const Value masked = plan.AddValue(plan.info(dz));
    swap_ops(back, grad);  // back masks dz, grad routes it to the argmax
    plan.nodes[back].node.inputs = {dz, z};
    plan.nodes[back].node.outputs = {masked};
    plan.nodes[grad].node.inputs = {masked, ws};
    plan.nodes[grad].node.outputs = {dx};
    return true;
  }
  return false;
}

[[maybe_unused]] const bool rewrite_registered = passes::RegisterPlanRewrite(
    {"relu before max pooling", [](passes::Plan& plan) {
       int rewritten = 0;
       while (RewriteOneReluBeforeMaxPool(plan)) ++rewritten;
       return rewritten;
     }});

Attrs PoolAttrs(const Pool2DOptions& o) {
  return {{"kernel", o.kernel}, {"stride", o.stride}, {"padding", o.padding},
          {"ceil_mode", o.ceil_mode}};
}

}  // namespace

Value MaxPool2D(Graph& g, Value x, Pool2DOptions options) {
  return g.Op("MaxPool2D", {x}, PoolAttrs(options))[0];
}

Value AvgPool2D(Graph& g, Value x, Pool2DOptions options) {
  return g.Op1("AvgPool2D", {x}, PoolAttrs(options));
}

}  // namespace dlf::ops
