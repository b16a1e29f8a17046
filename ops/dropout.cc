// Dropout with inverted scaling, and DropPath (stochastic depth: one draw per sample, which
// keeps or zeroes the whole sample). The mask is a pure function of (seed, node, executor step,
// element index (DropPath: sample index) in the global batch), so runs are reproducible, a
// resumed run draws the same masks, and data-parallel ranks (each running a slice of the batch)
// draw what one rank would.
#include <algorithm>
#include <cstring>

#include "graph/passes/passes.h"
#include "graph/random.h"
#include "ops/op_util.h"
#include "ops/ops.h"

namespace dlf::ops {
namespace {

absl::StatusOr<double> GetRate(const Attrs& attrs) {
  DLF_ASSIGN_OR_RETURN(const double rate, attrs.Get<double>("rate"));
  DLF_RETURN_IF_ERROR(Expect(rate >= 0.0 && rate < 1.0,
                             absl::StrCat("rate must be in [0, 1), found ", rate)));
  return rate;
}

// Dropout(x) -> (y, mask): mask is 0 or 1/(1-rate), y = x * mask.
absl::StatusOr<std::vector<ValueInfo>> DropoutShape(const ShapeContext& ctx) {
  DLF_RETURN_IF_ERROR(ExpectF32(ctx.inputs[0], "x"));
  DLF_RETURN_IF_ERROR(GetRate(ctx.attrs).status());
  return std::vector<ValueInfo>{ctx.inputs[0], ctx.inputs[0]};
}

// `per_sample`: one draw per sample (DropPath) instead of one per element (Dropout).
KernelFactory DropoutKernel(bool per_sample) {
  return [per_sample](const KernelContext& k) -> absl::StatusOr<std::unique_ptr<Kernel>> {
  DLF_ASSIGN_OR_RETURN(const double rate, GetRate(k.node.attrs));
  const DropoutMask draws(static_cast<uint64_t>(k.node.attrs.GetOr<int64_t>("seed", 0)), k.node.id, rate);
  return std::make_unique<FunctionKernel>([=](RunContext& ctx) {
    const float* x = In(ctx, 0);
    float* y = Out(ctx, 0);
    float* mask = Out(ctx, 1);
    const int64_t n = Size(ctx);
    if (!ctx.training || rate == 0.0) {
      if (y != x) std::memcpy(y, x, n * sizeof(float));  // in place: already there
      std::fill_n(mask, n, 1.0f);
      return absl::OkStatus();
    }
    const DropoutMask::Step step = draws.ForStep(ctx.step);
    const int64_t batch = ctx.inputs[0]->shape().empty() ? 1 : ctx.inputs[0]->shape()[0];
    const int64_t per = n / std::max<int64_t>(batch, 1);  // elements per sample
    if (per_sample) {
#pragma omp parallel for schedule(static)
      for (int64_t s = 0; s < batch; ++s) {
        const float m = draws.Value(step, static_cast<uint32_t>(ctx.sample_offset + s));
        for (int64_t i = s * per; i < (s + 1) * per; ++i) {
          mask[i] = m;
          y[i] = x[i] * m;
        }
      }
      return absl::OkStatus();
    }
    const uint32_t first = static_cast<uint32_t>(ctx.sample_offset * per);
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      const float m = draws.Value(step, first + static_cast<uint32_t>(i));  // branch-free: vectorizes
      mask[i] = m;
      y[i] = x[i] * m;
    }
    return absl::OkStatus();
  });
  };
}

absl::StatusOr<std::vector<Value>> DropoutGrad(GradContext& c) {
  return std::vector<Value>{Mul(c.graph, c.output_grads[0], c.node.outputs[1])};
}

// In an inference plan Dropout (and DropPath) is the identity: its readers read x instead, and the node (which
// would copy x and fill a mask nobody reads) goes, unless its output is fetched or its mask read.
// Returns whether it removed one.
bool RemoveOneInferenceDropout(passes::Plan& plan) {
  if (plan.options.training) return false;
  const std::vector<int> readers = plan.ReaderCounts();
  for (size_t i = 0; i < plan.nodes.size(); ++i) {
    const Node& dropout = plan.nodes[i].node;
    if (dropout.op != "Dropout" && dropout.op != "DropPath") continue;
    const Value x = dropout.inputs[0], y = dropout.outputs[0];
    const bool fetched = std::find(plan.fetches.begin(), plan.fetches.end(), y) != plan.fetches.end();
    if (fetched || readers[dropout.outputs[1].id] > 0) continue;
    for (passes::PlanNode& n : plan.nodes) std::replace(n.node.inputs.begin(), n.node.inputs.end(), y, x);
    plan.nodes.erase(plan.nodes.begin() + static_cast<std::ptrdiff_t>(i));
    return true;
  }
  return false;
}

[[maybe_unused]] const bool registered =
    (RegisterOpOrDie({.name = "Dropout",
                      .num_inputs = 1,
                      .shape = DropoutShape,
                      .kernel = DropoutKernel(false),
                      .gradient = DropoutGrad,
                      .in_place = true}),
     RegisterOpOrDie({.name = "DropPath",
                      .num_inputs = 1,
                      .shape = DropoutShape,
                      .kernel = DropoutKernel(true),
                      .gradient = DropoutGrad,
                      .in_place = true}),
     passes::RegisterPlanRewrite({"dropout is the identity in inference", [](passes::Plan& plan) {
                                    int removed = 0;
                                    while (RemoveOneInferenceDropout(plan)) ++removed;
                                    return removed;
                                  }}));

}  // namespace

Value Dropout(Graph& g, Value x, double rate, uint64_t seed) {
  return g.Op("Dropout", {x}, {{"rate", rate}, {"seed", static_cast<int64_t>(seed)}})[0];
}

Value DropPath(Graph& g, Value x, double rate, uint64_t seed) {
  return g.Op("DropPath", {x}, {{"rate", rate}, {"seed", static_cast<int64_t>(seed)}})[0];
}

}  // namespace dlf::ops
