// Reductions of a whole tensor to a scalar, and the broadcast that is their gradient.
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

void RegisterReductions() {
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

}  // namespace dlf::ops
