// Inference plans fold a BatchNorm into the convolution before it (PyTorch's
// fuse_conv_bn_weights): with s = weight / sqrt(running_var + eps) per output channel,
//   w' = w * s,  b' = (b - running_mean) * s + bias,
// and the convolution with w', b' computes the normalized values (rounding aside: ~1e-7
// relative) without a pass over its output. FoldBatchNorm computes w', b' from the parameters;
// it reads parameters only, so under fixed parameters (evaluate, predict) the hoist pass runs it
// only after they change.
#include <cmath>
#include <utility>

#include "graph/passes/passes.h"
#include "ops/op_util.h"

namespace dlf::ops {
namespace {

// FoldBatchNorm(conv_weight [o, c, kh, kw], (conv_bias [o],) weight, bias, running_mean,
// running_var) -> (w', b')
absl::StatusOr<std::vector<ValueInfo>> FoldShape(const ShapeContext& ctx) {
  DLF_RETURN_IF_ERROR(Expect(ctx.inputs.size() == 5 || ctx.inputs.size() == 6,
                             "expects the convolution's weight (and bias) and the four statistics"));
  DLF_RETURN_IF_ERROR(ExpectRank(ctx.inputs[0], 4, "convolution weight"));
  const Shape channels = {ctx.inputs[0].shape[0]};
  for (size_t i = 1; i < ctx.inputs.size(); ++i) {
    DLF_RETURN_IF_ERROR(Expect(ctx.inputs[i].shape == channels, "a per-channel input of another size"));
  }
  return std::vector<ValueInfo>{ctx.inputs[0], {DType::kF32, channels}};
}

absl::StatusOr<std::unique_ptr<Kernel>> FoldKernel(const KernelContext& k) {
  const float eps = static_cast<float>(k.node.attrs.GetOr<double>("eps", 1e-5));
  const bool conv_bias = k.inputs.size() == 6;
  const int64_t per_channel = NumElements(k.inputs[0].shape) / k.inputs[0].shape[0];
  return std::make_unique<FunctionKernel>([=](RunContext& ctx) {
    const int first = conv_bias ? 2 : 1;
    const float *gamma = In(ctx, first), *beta = In(ctx, first + 1);
    const float *mean = In(ctx, first + 2), *var = In(ctx, first + 3);
    const int64_t channels = ctx.outputs[1]->num_elements();
#pragma omp parallel for schedule(static)
    for (int64_t o = 0; o < channels; ++o) {
      const float s = gamma[o] / std::sqrt(var[o] + eps);
      const float* w = In(ctx, 0) + o * per_channel;
      float* folded = Out(ctx, 0) + o * per_channel;
      for (int64_t i = 0; i < per_channel; ++i) folded[i] = w[i] * s;
      Out(ctx, 1)[o] = ((conv_bias ? In(ctx, 1)[o] : 0.0f) - mean[o]) * s + beta[o];
    }
    return absl::OkStatus();
  });
}

// The plan rewrite: Conv2D(x, w(, b)) -> y, BatchNorm(y, ...) -> z in an inference plan, y read
// by the BatchNorm only and its statistics outputs unread, becomes FoldBatchNorm -> (w', b'),
// Conv2D(x, w', b') -> z. Returns whether it rewrote one place.
bool FoldOneBatchNorm(passes::Plan& plan) {
  if (plan.options.training) return false;
  const std::vector<int> writer = plan.Writers();
  const std::vector<int> readers = plan.ReaderCounts();
  for (size_t b = 0; b < plan.nodes.size(); ++b) {
    const Node& bn = plan.nodes[b].node;
    if (bn.op != "BatchNorm" || readers[bn.outputs[1].id] + readers[bn.outputs[2].id] > 0) continue;
    const Value y = bn.inputs[0];
    const int c = writer[y.id];
    if (c < 0 || plan.nodes[c].node.op != "Conv2D" || readers[y.id] != 1) continue;
    const std::vector<Value> conv_in = plan.nodes[c].node.inputs;
    passes::PlanNode fold;
    fold.node = bn;
    fold.node.op = fold.label = "FoldBatchNorm";
    fold.node.name = bn.name + "/fold";
    fold.node.inputs = {conv_in.begin() + 1, conv_in.end()};
    fold.node.inputs.insert(fold.node.inputs.end(), bn.inputs.begin() + 1, bn.inputs.begin() + 5);
    fold.node.outputs = {plan.AddValue(plan.info(conv_in[1])),
                         plan.AddValue({DType::kF32, {plan.info(conv_in[1]).shape[0]}})};
    fold.passes = {"rewrite"};
    passes::PlanNode& conv = plan.nodes[c];
    conv.node.inputs = {conv_in[0], fold.node.outputs[0], fold.node.outputs[1]};
    conv.node.outputs[0] = bn.outputs[0];
    conv.passes.push_back("rewrite");
    plan.nodes.erase(plan.nodes.begin() + static_cast<std::ptrdiff_t>(b));
    plan.nodes.insert(plan.nodes.begin() + c, std::move(fold));
    return true;
  }
  return false;
}

[[maybe_unused]] const bool registered =
    (RegisterOpOrDie({.name = "FoldBatchNorm", .num_inputs = -1, .shape = FoldShape, .kernel = FoldKernel}),
     passes::RegisterPlanRewrite({"fold batch norm into convolution", [](passes::Plan& plan) {
                                    int folded = 0;
                                    while (FoldOneBatchNorm(plan)) ++folded;
                                    return folded;
                                  }}));

}  // namespace
}  // namespace dlf::ops
