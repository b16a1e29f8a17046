// Reductions: of a whole tensor to a scalar (Sum, Mean) and over chosen axes (ReduceSum,
// ReduceMean, ReduceMax, with keepdims); SumToShape and GlobalAvgPool2D are built on them.
#include <algorithm>
#include <memory>

#include "ops/op_util.h"
#include "ops/ops.h"

namespace dlf::ops {
namespace {

absl::StatusOr<std::vector<ValueInfo>> ScalarOfF32(const ShapeContext& ctx) {
  DLF_RETURN_IF_ERROR(ExpectF32(ctx.inputs[0], "the input"));
  return std::vector<ValueInfo>{{DType::kF32, {}}};
}

// Sums in double so that large reductions (a batch's loss terms) stay accurate.
KernelFactory SumKernel(bool mean) {
  return [mean](const KernelContext&) -> absl::StatusOr<std::unique_ptr<Kernel>> {
    return std::make_unique<FunctionKernel>([mean](RunContext& ctx) {
      const float* x = In(ctx, 0);
      const int64_t n = ctx.inputs[0]->num_elements();
      double s = 0.0;
#pragma omp parallel for reduction(+ : s) schedule(static)
      for (int64_t i = 0; i < n; ++i) s += x[i];
      Out(ctx)[0] = static_cast<float>(mean ? s / static_cast<double>(n) : s);
      return absl::OkStatus();
    });
  };
}

GradFn SumGrad(bool mean) {
  return [mean](GradContext& c) -> absl::StatusOr<std::vector<Value>> {
    const Shape& shape = c.graph.shape(c.node.inputs[0]);
    const double factor = mean ? 1.0 / static_cast<double>(NumElements(shape)) : 1.0;
    return std::vector<Value>{c.graph.Op1("BroadcastScalar", {c.output_grads[0]},
                                          {{"shape", shape}, {"factor", factor}})};
  };
}

// y[i] = factor * x[0] for every element of attribute `shape`.
absl::StatusOr<std::vector<ValueInfo>> BroadcastShape(const ShapeContext& ctx) {
  DLF_RETURN_IF_ERROR(ExpectF32(ctx.inputs[0], "the input"));
  DLF_RETURN_IF_ERROR(Expect(NumElements(ctx.inputs[0].shape) == 1,
                             "the input must hold one element, found shape " +
                                 ShapeString(ctx.inputs[0].shape)));
  DLF_ASSIGN_OR_RETURN(Shape shape, ctx.attrs.Get<std::vector<int64_t>>("shape"));
  return std::vector<ValueInfo>{{DType::kF32, shape}};
}

absl::StatusOr<std::unique_ptr<Kernel>> BroadcastKernel(const KernelContext& k) {
  const float factor = static_cast<float>(k.node.attrs.GetOr<double>("factor", 1.0));
  return std::make_unique<FunctionKernel>([factor](RunContext& ctx) {
    ctx.outputs[0]->Fill(factor * In(ctx, 0)[0]);
    return absl::OkStatus();
  });
}

// ---- ReduceSum / ReduceMean / ReduceMax over attribute `axes`, keepdims or not ----

absl::StatusOr<std::vector<int64_t>> NormalizedAxes(const Attrs& attrs, int rank) {
  DLF_ASSIGN_OR_RETURN(std::vector<int64_t> axes, attrs.Get<std::vector<int64_t>>("axes"));
  std::vector<bool> seen(rank, false);
  for (int64_t& a : axes) {
    DLF_RETURN_IF_ERROR(Expect(a >= -rank && a < rank, absl::StrCat("axis ", a, " is out of range for rank ", rank)));
    if (a < 0) a += rank;
    DLF_RETURN_IF_ERROR(Expect(!seen[a], absl::StrCat("axis ", a, " is given twice")));
    seen[a] = true;
  }
  std::sort(axes.begin(), axes.end());
  return axes;
}

// The input's shape with the reduced axes set to 1 (keepdims) or removed.
Shape ReducedShape(const Shape& in, const std::vector<int64_t>& axes, bool keepdims) {
  Shape out;
  for (int d = 0; d < static_cast<int>(in.size()); ++d) {
    const bool reduced = std::find(axes.begin(), axes.end(), d) != axes.end();
    if (!reduced) out.push_back(in[d]);
    else if (keepdims) out.push_back(1);
  }
  return out;
}

absl::StatusOr<std::vector<ValueInfo>> ReduceAxesShape(const ShapeContext& ctx) {
  DLF_RETURN_IF_ERROR(ExpectF32(ctx.inputs[0], "the input"));
  const Shape& in = ctx.inputs[0].shape;
  DLF_ASSIGN_OR_RETURN(const std::vector<int64_t> axes, NormalizedAxes(ctx.attrs, static_cast<int>(in.size())));
  const bool keepdims = ctx.attrs.GetOr<bool>("keepdims", false);
  return std::vector<ValueInfo>{{DType::kF32, ReducedShape(in, axes, keepdims)}};
}

// Iterates the input as [kept..., reduced...]: for output element o (in order), the offsets of
// the elements reduced into it are base(o) + offsets of the reduced index space.
struct ReductionPlan {
  std::vector<int64_t> kept_dims, kept_strides;  // of the input, outer to inner
  std::vector<int64_t> reduced_offsets;          // every element of the reduced index space

  ReductionPlan(const Shape& in, const std::vector<int64_t>& axes) {
    std::vector<int64_t> strides(in.size(), 1);
    for (int d = static_cast<int>(in.size()) - 2; d >= 0; --d) strides[d] = strides[d + 1] * in[d + 1];
    reduced_offsets = {0};
    for (int d = 0; d < static_cast<int>(in.size()); ++d) {
      if (std::find(axes.begin(), axes.end(), d) == axes.end()) {
        kept_dims.push_back(in[d]);
        kept_strides.push_back(strides[d]);
        continue;
      }
      std::vector<int64_t> next;
      for (int64_t base : reduced_offsets)
        for (int64_t i = 0; i < in[d]; ++i) next.push_back(base + i * strides[d]);
      reduced_offsets = std::move(next);
    }
  }
  int64_t Base(int64_t o) const {
    int64_t base = 0;
    for (int d = static_cast<int>(kept_dims.size()) - 1; d >= 0; --d) {
      base += (o % kept_dims[d]) * kept_strides[d];
      o /= kept_dims[d];
    }
    return base;
  }
};

enum class Reduction { kSum, kMean, kMax };

KernelFactory ReduceAxesKernel(Reduction kind) {
  return [kind](const KernelContext& k) -> absl::StatusOr<std::unique_ptr<Kernel>> {
    const Shape& in = k.inputs[0].shape;
    DLF_ASSIGN_OR_RETURN(const std::vector<int64_t> axes, NormalizedAxes(k.node.attrs, static_cast<int>(in.size())));
    auto plan = std::make_shared<const ReductionPlan>(in, axes);
    return std::make_unique<FunctionKernel>([kind, plan](RunContext& ctx) {
      const float* x = In(ctx, 0);
      float* y = Out(ctx);
      const int64_t n = Size(ctx);
      const std::vector<int64_t>& offsets = plan->reduced_offsets;
      const int64_t m = static_cast<int64_t>(offsets.size());
#pragma omp parallel for schedule(static)
      for (int64_t o = 0; o < n; ++o) {
        const float* base = x + plan->Base(o);
        if (kind == Reduction::kMax) {
          float best = base[offsets[0]];
          for (int64_t r = 1; r < m; ++r) best = std::max(best, base[offsets[r]]);
          y[o] = best;
        } else {
          double sum = 0;
          for (int64_t r = 0; r < m; ++r) sum += base[offsets[r]];
          y[o] = static_cast<float>(kind == Reduction::kMean ? sum / static_cast<double>(m) : sum);
        }
      }
      return absl::OkStatus();
    });
  };
}

// dy (reduced shape) broadcast back over the input's shape.
Value SpreadBack(GradContext& c, Value dy) {
  const Shape in = c.graph.shape(c.node.inputs[0]);
  const std::vector<int64_t> axes = *NormalizedAxes(c.node.attrs, static_cast<int>(in.size()));
  return BroadcastTo(c.graph, Reshape(c.graph, dy, ReducedShape(in, axes, true)), in);
}

GradFn ReduceAxesGrad(Reduction kind) {
  return [kind](GradContext& c) -> absl::StatusOr<std::vector<Value>> {
    const Shape in = c.graph.shape(c.node.inputs[0]);
    const Value spread = SpreadBack(c, c.output_grads[0]);
    if (kind == Reduction::kSum) return std::vector<Value>{spread};
    if (kind == Reduction::kMean) {
      const double count = static_cast<double>(NumElements(in)) /
                           static_cast<double>(std::max<int64_t>(1, NumElements(c.graph.shape(c.node.outputs[0]))));
      return std::vector<Value>{Scale(c.graph, spread, 1.0 / count)};
    }
    // Max: the gradient is shared equally by the elements equal to the maximum (TensorFlow's
    // rule), so it is well defined under ties.
    const Value is_max = c.graph.Op1("EqualMask", {c.node.inputs[0], SpreadBack(c, c.node.outputs[0])});
    const Value ties = SpreadBack(c, c.graph.Op1("ReduceSum", {is_max}, c.node.attrs));
    return std::vector<Value>{Div(c.graph, Mul(c.graph, spread, is_max), ties)};
  };
}

// EqualMask(a, b) = 1 where a == b, else 0 (same shapes). Not differentiable.
absl::StatusOr<std::vector<ValueInfo>> SameShapePair(const ShapeContext& ctx) {
  DLF_RETURN_IF_ERROR(Expect(ctx.inputs[0].shape == ctx.inputs[1].shape, "EqualMask needs equal shapes"));
  return std::vector<ValueInfo>{ctx.inputs[0]};
}

absl::StatusOr<std::unique_ptr<Kernel>> EqualMaskKernel(const KernelContext&) {
  return std::make_unique<FunctionKernel>([](RunContext& ctx) {
    const float* a = In(ctx, 0);
    const float* b = In(ctx, 1);
    float* y = Out(ctx);
    const int64_t n = Size(ctx);
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; ++i) y[i] = a[i] == b[i] ? 1.0f : 0.0f;
    return absl::OkStatus();
  });
}

void RegisterReductions() {
  RegisterOpOrDie({"ReduceSum", 1, ReduceAxesShape, ReduceAxesKernel(Reduction::kSum), ReduceAxesGrad(Reduction::kSum)});
  RegisterOpOrDie({"ReduceMean", 1, ReduceAxesShape, ReduceAxesKernel(Reduction::kMean), ReduceAxesGrad(Reduction::kMean)});
  RegisterOpOrDie({"ReduceMax", 1, ReduceAxesShape, ReduceAxesKernel(Reduction::kMax), ReduceAxesGrad(Reduction::kMax)});
  RegisterOpOrDie({"EqualMask", 2, SameShapePair, EqualMaskKernel, nullptr});
  RegisterOpOrDie({"Sum", 1, ScalarOfF32, SumKernel(false), SumGrad(false)});
  RegisterOpOrDie({"Mean", 1, ScalarOfF32, SumKernel(true), SumGrad(true)});
  RegisterOpOrDie({"BroadcastScalar", 1, BroadcastShape, BroadcastKernel,
                   [](GradContext& c) -> absl::StatusOr<std::vector<Value>> {
                     const double factor = c.node.attrs.GetOr<double>("factor", 1.0);
                     return std::vector<Value>{Scale(c.graph, Sum(c.graph, c.output_grads[0]),
                                                     factor)};
                   }});
}

[[maybe_unused]] const bool registered = (RegisterReductions(), true);

}  // namespace

Value Sum(Graph& g, Value x) { return g.Op1("Sum", {x}); }
Value Mean(Graph& g, Value x) { return g.Op1("Mean", {x}); }

Value ReduceSum(Graph& g, Value x, std::vector<int64_t> axes, bool keepdims) {
  return g.Op1("ReduceSum", {x}, {{"axes", std::move(axes)}, {"keepdims", keepdims}});
}
Value ReduceMean(Graph& g, Value x, std::vector<int64_t> axes, bool keepdims) {
  return g.Op1("ReduceMean", {x}, {{"axes", std::move(axes)}, {"keepdims", keepdims}});
}
Value ReduceMax(Graph& g, Value x, std::vector<int64_t> axes, bool keepdims) {
  return g.Op1("ReduceMax", {x}, {{"axes", std::move(axes)}, {"keepdims", keepdims}});
}

Value SumToShape(Graph& g, Value x, Shape shape) {
  if (!g.Contains(x)) return Value{};
  const Shape in = g.shape(x);
  if (in == shape) return x;
  // The axes `shape` lacks (leading) or has as 1 where x does not.
  const int64_t lead = static_cast<int64_t>(in.size()) - static_cast<int64_t>(shape.size());
  std::vector<int64_t> axes;
  for (int64_t d = 0; d < static_cast<int64_t>(in.size()); ++d) {
    if (d < lead || (shape[d - lead] == 1 && in[d] != 1)) axes.push_back(d);
  }
  return Reshape(g, ReduceSum(g, x, axes, true), shape);
}

Value GlobalAvgPool2D(Graph& g, Value x) { return ReduceMean(g, x, {2, 3}, false); }

}  // namespace dlf::ops
