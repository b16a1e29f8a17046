// Dropout with inverted scaling. The mask is a pure function of (seed, node, executor step,
// element index), so runs are reproducible and a resumed run draws the same masks.
#include <algorithm>
#include <cstring>

#include "ops/op_util.h"
#include "ops/ops.h"

namespace dlf::ops {
namespace {

// SplitMix64 finalizer: a strong 64-bit mix, enough for a counter-based generator.
inline uint64_t Mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

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

absl::StatusOr<std::unique_ptr<Kernel>> DropoutKernel(const KernelContext& k) {
  DLF_ASSIGN_OR_RETURN(const double rate, GetRate(k.node.attrs));
  const uint64_t stream_seed = Mix(static_cast<uint64_t>(k.node.attrs.GetOr<int64_t>("seed", 0)) ^
                                   Mix(static_cast<uint64_t>(k.node.id) + 1));
  const float keep_scale = static_cast<float>(1.0 / (1.0 - rate));
  // Keep when the top 32 random bits fall below keep_prob * 2^32.
  const uint64_t threshold = static_cast<uint64_t>((1.0 - rate) * 4294967296.0);
  return std::make_unique<FunctionKernel>([=](RunContext& ctx) {
    const float* x = In(ctx, 0);
    float* y = Out(ctx, 0);
    float* mask = Out(ctx, 1);
    const int64_t n = Size(ctx);
    if (!ctx.training || rate == 0.0) {
      std::memcpy(y, x, n * sizeof(float));
      std::fill_n(mask, n, 1.0f);
      return absl::OkStatus();
    }
    const uint64_t step_seed = Mix(stream_seed ^ Mix(ctx.step + 0x9e3779b97f4a7c15ull));
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      const bool keep = (Mix(step_seed + static_cast<uint64_t>(i)) >> 32) < threshold;
      mask[i] = keep ? keep_scale : 0.0f;
      y[i] = x[i] * mask[i];
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<Value>> DropoutGrad(GradContext& c) {
  return std::vector<Value>{Mul(c.graph, c.output_grads[0], c.node.outputs[1])};
}

[[maybe_unused]] const bool registered =
    RegisterOpOrDie({"Dropout", 1, DropoutShape, DropoutKernel, DropoutGrad});

}  // namespace

Value Dropout(Graph& g, Value x, double rate, uint64_t seed) {
  return g.Op("Dropout", {x}, {{"rate", rate}, {"seed", static_cast<int64_t>(seed)}})[0];
}

}  // namespace dlf::ops
