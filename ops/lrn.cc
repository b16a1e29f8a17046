// LocalResponseNorm across channels (AlexNet 2012), with oneDNN forward and backward.
#include "ops/op_util.h"
#include "ops/ops.h"

namespace dlf::ops {
namespace {

struct LrnParams {
  int64_t size;
  float alpha, beta, k;
};

absl::StatusOr<LrnParams> GetParams(const Attrs& attrs) {
  LrnParams p{attrs.GetOr<int64_t>("size", 5), static_cast<float>(attrs.GetOr<double>("alpha", 1e-4)),
              static_cast<float>(attrs.GetOr<double>("beta", 0.75)),
              static_cast<float>(attrs.GetOr<double>("k", 2.0))};
  DLF_RETURN_IF_ERROR(Expect(p.size > 0, absl::StrCat("size must be positive, found ", p.size)));
  DLF_RETURN_IF_ERROR(Expect(p.k > 0, absl::StrCat("k must be positive, found ", p.k)));
  return p;
}

dnnl::lrn_forward::primitive_desc ForwardPd(const Shape& x, const LrnParams& p,
                                            const dnnl::engine& e) {
  dnnl::lrn_forward::desc desc(dnnl::prop_kind::forward_training,
                               dnnl::algorithm::lrn_across_channels, PlainDesc(x), p.size,
                               p.alpha, p.beta, p.k);
  return dnnl::lrn_forward::primitive_desc(desc, e);
}

// LocalResponseNorm(x) -> (y, workspace u8)
absl::StatusOr<std::vector<ValueInfo>> LrnShape(const ShapeContext& ctx) {
  DLF_RETURN_IF_ERROR(ExpectF32(ctx.inputs[0], "x"));
  DLF_RETURN_IF_ERROR(ExpectRank(ctx.inputs[0], 4, "x [n, c, h, w]"));
  DLF_ASSIGN_OR_RETURN(LrnParams p, GetParams(ctx.attrs));
  DLF_ASSIGN_OR_RETURN(auto pd, TryDnnl([&] {
    return ForwardPd(ctx.inputs[0].shape, p, ShapeEngine());
  }, "LRN forward"));
  const int64_t ws_bytes = static_cast<int64_t>(pd.workspace_desc().get_size());
  return std::vector<ValueInfo>{ctx.inputs[0], {DType::kU8, {std::max<int64_t>(ws_bytes, 1)}}};
}

absl::StatusOr<std::unique_ptr<Kernel>> LrnKernel(const KernelContext& k) {
  DLF_ASSIGN_OR_RETURN(LrnParams p, GetParams(k.node.attrs));
  DLF_ASSIGN_OR_RETURN(auto pd, TryDnnl([&] { return ForwardPd(k.inputs[0].shape, p, k.engine); },
                                        "LRN forward"));
  auto kernel = std::make_unique<DnnlKernel>(dnnl::lrn_forward(pd), k);
  kernel->BindInput(DNNL_ARG_SRC, 0, pd.src_desc());
  kernel->BindOutput(DNNL_ARG_DST, 0, pd.dst_desc());
  if (pd.workspace_desc().get_size() > 0) {
    kernel->BindOutput(DNNL_ARG_WORKSPACE, 1, pd.workspace_desc());
  }
  return kernel;
}

// LocalResponseNormBackward(x, dy, workspace) -> dx
absl::StatusOr<std::vector<ValueInfo>> LrnBackwardShape(const ShapeContext& ctx) {
  return std::vector<ValueInfo>{ctx.inputs[0]};
}

absl::StatusOr<std::unique_ptr<Kernel>> LrnBackwardKernel(const KernelContext& k) {
  DLF_ASSIGN_OR_RETURN(LrnParams p, GetParams(k.node.attrs));
  const Shape& x = k.inputs[0].shape;
  DLF_ASSIGN_OR_RETURN(auto pd, TryDnnl([&] {
    dnnl::lrn_backward::desc desc(dnnl::algorithm::lrn_across_channels, PlainDesc(x),
                                  PlainDesc(x), p.size, p.alpha, p.beta, p.k);
    return dnnl::lrn_backward::primitive_desc(desc, k.engine, ForwardPd(x, p, k.engine));
  }, "LRN backward"));
  auto kernel = std::make_unique<DnnlKernel>(dnnl::lrn_backward(pd), k);
  kernel->BindInput(DNNL_ARG_SRC, 0, pd.src_desc());
  kernel->BindInput(DNNL_ARG_DIFF_DST, 1, pd.diff_dst_desc());
  if (pd.workspace_desc().get_size() > 0) {
    kernel->BindInput(DNNL_ARG_WORKSPACE, 2, pd.workspace_desc());
  }
  kernel->BindOutput(DNNL_ARG_DIFF_SRC, 0, pd.diff_src_desc());
  return kernel;
}

absl::StatusOr<std::vector<Value>> LrnGrad(GradContext& c) {
  return std::vector<Value>{c.graph.Op1(
      "LocalResponseNormBackward", {c.node.inputs[0], c.output_grads[0], c.node.outputs[1]},
      c.node.attrs)};
}

void RegisterLrn() {
  RegisterOpOrDie({"LocalResponseNorm", 1, LrnShape, LrnKernel, LrnGrad});
  RegisterOpOrDie({"LocalResponseNormBackward", 3, LrnBackwardShape, LrnBackwardKernel, nullptr});
}

[[maybe_unused]] const bool registered = (RegisterLrn(), true);

}  // namespace

Value LocalResponseNorm(Graph& g, Value x, LrnOptions o) {
  return g.Op("LocalResponseNorm", {x},
              {{"size", o.size}, {"alpha", o.alpha}, {"beta", o.beta}, {"k", o.k}})[0];
}

}  // namespace dlf::ops
