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

// LRN over data in layout `x` (y and the workspace follow it).
dnnl::lrn_forward::primitive_desc ForwardPd(const dnnl::memory::desc& x, const LrnParams& p,
                                            const dnnl::engine& e) {
  dnnl::lrn_forward::desc desc(dnnl::prop_kind::forward_training,
                               dnnl::algorithm::lrn_across_channels, x, p.size, p.alpha, p.beta,
                               p.k);
  return dnnl::lrn_forward::primitive_desc(desc, e);
}

// The layout LRN runs in: x's, when oneDNN names it (LikeLayout) and the workspace, whose size
// it sets, is a free output (forward) or was written by such a forward (backward: the
// workspace has a layout); else plain.
dnnl::memory::desc DataLayout(const KernelContext& k, bool workspace_follows) {
  const dnnl::memory::desc plain = PlainDesc(k.inputs[0].shape);
  const dnnl::memory::desc x = InputLayout(k, 0, plain);
  const bool named = !LikeLayout(x, x.dims(), dnnl::memory::data_type::f32).is_zero();
  return workspace_follows && named ? x : plain;
}

// LocalResponseNorm(x) -> (y, workspace u8)
absl::StatusOr<std::vector<ValueInfo>> LrnShape(const ShapeContext& ctx) {
  DLF_RETURN_IF_ERROR(ExpectF32(ctx.inputs[0], "x"));
  DLF_RETURN_IF_ERROR(ExpectRank(ctx.inputs[0], 4, "x [n, c, h, w]"));
  DLF_ASSIGN_OR_RETURN(LrnParams p, GetParams(ctx.attrs));
  DLF_ASSIGN_OR_RETURN(auto pd, TryDnnl([&] {
    return ForwardPd(PlainDesc(ctx.inputs[0].shape), p, ShapeEngine());
  }, "LRN forward"));
  const int64_t ws_bytes = static_cast<int64_t>(pd.workspace_desc().get_size());
  return std::vector<ValueInfo>{ctx.inputs[0], {DType::kU8, {std::max<int64_t>(ws_bytes, 1)}}};
}

absl::StatusOr<std::unique_ptr<Kernel>> LrnKernel(const KernelContext& k) {
  DLF_ASSIGN_OR_RETURN(LrnParams p, GetParams(k.node.attrs));
  const dnnl::memory::desc plain = PlainDesc(k.inputs[0].shape);
  const dnnl::memory::desc x = DataLayout(k, k.free_outputs.size() > 1 && k.free_outputs[1]);
  DLF_ASSIGN_OR_RETURN(auto pd, TryDnnl([&] { return ForwardPd(x, p, k.engine); }, "LRN forward"));
  auto kernel = std::make_unique<DnnlKernel>(dnnl::lrn_forward(pd), k);
  kernel->BindInput(DNNL_ARG_SRC, 0, plain, pd.src_desc());
  kernel->BindOutput(DNNL_ARG_DST, 0, plain, pd.dst_desc());
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
  const dnnl::memory::desc plain = PlainDesc(k.inputs[0].shape);
  const dnnl::memory::desc x = DataLayout(k, !InputLayout(k, 2, {}).is_zero());
  DLF_ASSIGN_OR_RETURN(auto pd, TryDnnl([&] {
    dnnl::lrn_backward::desc desc(dnnl::algorithm::lrn_across_channels, x, x, p.size, p.alpha,
                                  p.beta, p.k);
    return dnnl::lrn_backward::primitive_desc(desc, k.engine, ForwardPd(x, p, k.engine));
  }, "LRN backward"));
  auto kernel = std::make_unique<DnnlKernel>(dnnl::lrn_backward(pd), k);
  kernel->BindInput(DNNL_ARG_SRC, 0, plain, pd.src_desc());
  kernel->BindInput(DNNL_ARG_DIFF_DST, 1, plain, pd.diff_dst_desc());
  if (pd.workspace_desc().get_size() > 0) {
    kernel->BindInput(DNNL_ARG_WORKSPACE, 2, pd.workspace_desc());
  }
  kernel->BindOutput(DNNL_ARG_DIFF_SRC, 0, plain, pd.diff_src_desc());
  return kernel;
}

absl::StatusOr<std::vector<Value>> LrnGrad(GradContext& c) {
  return std::vector<Value>{c.graph.Op1(
      "LocalResponseNormBackward", {c.node.inputs[0], c.output_grads[0], c.node.outputs[1]},
      c.node.attrs)};
}

void RegisterLrn() {
  RegisterOpOrDie({.name = "LocalResponseNorm",
                   .num_inputs = 1,
                   .shape = LrnShape,
                   .kernel = LrnKernel,
                   .gradient = LrnGrad,
                   .any_layout = true});
  RegisterOpOrDie({.name = "LocalResponseNormBackward",
                   .num_inputs = 3,
                   .shape = LrnBackwardShape,
                   .kernel = LrnBackwardKernel,
                   .any_layout = true});
}

[[maybe_unused]] const bool registered = (RegisterLrn(), true);

}  // namespace

Value LocalResponseNorm(Graph& g, Value x, LrnOptions o) {
  return g.Op("LocalResponseNorm", {x},
              {{"size", o.size}, {"alpha", o.alpha}, {"beta", o.beta}, {"k", o.k}})[0];
}

}  // namespace dlf::ops
