// MaxPool2D (oneDNN, with workspace for the backward) and AvgPool2D (padding excluded).
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

dnnl::pooling_forward::primitive_desc ForwardPd(const PoolGeometry& g, dnnl::algorithm algo,
                                                const dnnl::engine& e) {
  dnnl::pooling_forward::desc desc(dnnl::prop_kind::forward_training, algo, PlainDesc(g.x),
                                   PlainDesc(g.y), g.stride, g.kernel, g.pad_l, g.pad_r);
  return dnnl::pooling_forward::primitive_desc(desc, e);
}

constexpr auto kMax = dnnl::algorithm::pooling_max;
constexpr auto kAvg = dnnl::algorithm::pooling_avg_exclude_padding;

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
    DLF_ASSIGN_OR_RETURN(auto pd, TryDnnl([&] { return ForwardPd(g, algo, k.engine); },
                                          "pooling forward"));
    auto kernel = std::make_unique<DnnlKernel>(dnnl::pooling_forward(pd), k.engine);
    kernel->BindInput(DNNL_ARG_SRC, 0, pd.src_desc());
    kernel->BindOutput(DNNL_ARG_DST, 0, pd.dst_desc());
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
    DLF_ASSIGN_OR_RETURN(auto pd, TryDnnl([&] {
      dnnl::pooling_backward::desc desc(algo, PlainDesc(g.x), PlainDesc(g.y), g.stride, g.kernel,
                                        g.pad_l, g.pad_r);
      return dnnl::pooling_backward::primitive_desc(desc, k.engine, ForwardPd(g, algo, k.engine));
    }, "pooling backward"));
    auto kernel = std::make_unique<DnnlKernel>(dnnl::pooling_backward(pd), k.engine);
    kernel->BindInput(DNNL_ARG_DIFF_DST, 0, pd.diff_dst_desc());
    if (algo == kMax) kernel->BindInput(DNNL_ARG_WORKSPACE, 1, pd.workspace_desc());
    kernel->BindOutput(DNNL_ARG_DIFF_SRC, 0, pd.diff_src_desc());
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
  RegisterOpOrDie({"MaxPool2D", 1, MaxPoolShape, ForwardKernel(kMax),
                   PoolGrad("MaxPool2DBackward", true)});
  RegisterOpOrDie({"MaxPool2DBackward", 2, BackwardShape, BackwardKernel(kMax), nullptr});
  RegisterOpOrDie({"AvgPool2D", 1, AvgPoolShape, ForwardKernel(kAvg),
                   PoolGrad("AvgPool2DBackward", false)});
  RegisterOpOrDie({"AvgPool2DBackward", 1, BackwardShape, BackwardKernel(kAvg), nullptr});
}

[[maybe_unused]] const bool registered = (RegisterPooling(), true);

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
