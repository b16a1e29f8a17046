// Element-wise binary ops with NumPy broadcasting (Add, Sub, Mul, Div, Maximum, Minimum) and
// BroadcastTo. Shapes are aligned on their last axes; an axis of size 1 (or a missing one)
// stretches to the other's size. The gradient of a broadcast input is summed back over the
// axes it was stretched along (SumToShape).
#include <algorithm>
#include <vector>

#include "ops/op_util.h"
#include "ops/ops.h"

namespace dlf::ops {
namespace {

// How an operand of shape `in` is read while iterating over `out`: its element strides per
// output axis, 0 along broadcast axes.
std::vector<int64_t> BroadcastStrides(const Shape& in, const Shape& out) {
  std::vector<int64_t> strides(out.size(), 0);
  int64_t stride = 1;
  for (int i = static_cast<int>(in.size()) - 1, o = static_cast<int>(out.size()) - 1; i >= 0; --i, --o) {
    strides[o] = in[i] == 1 ? 0 : stride;
    stride *= in[i];
  }
  return strides;
}

// Runs f(a, b) over `out`'s elements, rows of its last axis at a time (a contiguous or
// constant inner loop the compiler vectorizes).
template <typename F>
void ForEachBroadcast(const Shape& out, const float* a, const std::vector<int64_t>& sa,
                      const float* b, const std::vector<int64_t>& sb, float* y, F f) {
  const int rank = static_cast<int>(out.size());
  const int64_t inner = rank == 0 ? 1 : out.back();
  const int64_t rows = NumElements(out) / std::max<int64_t>(inner, 1);
  const int64_t ia = rank == 0 ? 0 : sa.back(), ib = rank == 0 ? 0 : sb.back();
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    int64_t oa = 0, ob = 0, rest = r;
    for (int d = rank - 2; d >= 0; --d) {
      const int64_t i = rest % out[d];
      rest /= out[d];
      oa += i * sa[d];
      ob += i * sb[d];
    }
    float* yr = y + r * inner;
    for (int64_t j = 0; j < inner; ++j) yr[j] = f(a[oa + j * ia], b[ob + j * ib]);
  }
}

absl::StatusOr<std::vector<ValueInfo>> BroadcastShapeRule(const ShapeContext& ctx) {
  DLF_RETURN_IF_ERROR(ExpectF32(ctx.inputs[0], "a"));
  DLF_RETURN_IF_ERROR(ExpectF32(ctx.inputs[1], "b"));
  DLF_ASSIGN_OR_RETURN(Shape shape, BroadcastShapes(ctx.inputs[0].shape, ctx.inputs[1].shape));
  return std::vector<ValueInfo>{{DType::kF32, shape}};
}

template <typename F>
KernelFactory BroadcastKernel(F f) {
  return [f](const KernelContext& k) -> absl::StatusOr<std::unique_ptr<Kernel>> {
    const Shape out = k.outputs[0].shape;
    const std::vector<int64_t> sa = BroadcastStrides(k.inputs[0].shape, out);
    const std::vector<int64_t> sb = BroadcastStrides(k.inputs[1].shape, out);
    const bool same = k.inputs[0].shape == out && k.inputs[1].shape == out;
    return std::make_unique<FunctionKernel>([f, out, sa, sb, same](RunContext& ctx) {
      const float* a = In(ctx, 0);
      const float* b = In(ctx, 1);
      float* y = Out(ctx);
      if (same) {
        const int64_t n = Size(ctx);
#pragma omp parallel for simd schedule(static)
        for (int64_t i = 0; i < n; ++i) y[i] = f(a[i], b[i]);
      } else {
        ForEachBroadcast(out, a, sa, b, sb, y, f);
      }
      return absl::OkStatus();
    });
  };
}

// Add runs as the loop above on plain tensors; on same-shape inputs the layout pass gave a
// blocked layout (a residual connection between convolutions), as oneDNN's binary add in the
// first input's layout. A following ReLU (a residual block's) runs inside it as a post-op.
absl::StatusOr<std::unique_ptr<Kernel>> AddKernel(const KernelContext& k) {
  DLF_ASSIGN_OR_RETURN(const dnnl::primitive_attr attr, PostOpsAttr(k.post_ops));
  if (!AnyBlockedInput(k)) {
    if (k.post_ops.empty()) return BroadcastKernel([](float a, float b) { return a + b; })(k);
    return BroadcastKernel([](float a, float b) { return a + b > 0.0f ? a + b : 0.0f; })(k);
  }
  const dnnl::memory::desc plain = PlainDesc(k.outputs[0].shape);
  const dnnl::memory::desc a = InputLayout(k, 0, plain);
  DLF_ASSIGN_OR_RETURN(auto pd, TryDnnl([&] {
    return dnnl::binary::primitive_desc({dnnl::algorithm::binary_add, a, a, a}, attr, k.engine);
  }, "binary add"));
  auto kernel = std::make_unique<DnnlKernel>(dnnl::binary(pd), k);
  kernel->BindInput(DNNL_ARG_SRC_0, 0, plain, pd.src0_desc());
  kernel->BindInput(DNNL_ARG_SRC_1, 1, plain, pd.src1_desc());
  kernel->BindOutput(DNNL_ARG_DST, 0, plain, pd.dst_desc());
  return kernel;
}

// The gradient of input i: `local` (a value of the output's shape) summed to input i's shape.
Value ToInput(GradContext& c, int i, Value local) {
  return SumToShape(c.graph, local, c.graph.shape(c.node.inputs[i]));
}

absl::StatusOr<std::vector<Value>> AddGrad(GradContext& c) {
  std::vector<Value> g(2);
  if (c.wants[0]) g[0] = ToInput(c, 0, c.output_grads[0]);
  if (c.wants[1]) g[1] = ToInput(c, 1, c.output_grads[0]);
  return g;
}

absl::StatusOr<std::vector<Value>> SubGrad(GradContext& c) {
  std::vector<Value> g(2);
  if (c.wants[0]) g[0] = ToInput(c, 0, c.output_grads[0]);
  if (c.wants[1]) g[1] = ToInput(c, 1, Neg(c.graph, c.output_grads[0]));
  return g;
}

absl::StatusOr<std::vector<Value>> MulGrad(GradContext& c) {
  const Value dy = c.output_grads[0], a = c.node.inputs[0], b = c.node.inputs[1];
  std::vector<Value> g(2);
  if (c.wants[0]) g[0] = ToInput(c, 0, Mul(c.graph, dy, b));
  if (c.wants[1]) g[1] = ToInput(c, 1, Mul(c.graph, dy, a));
  return g;
}

// y = a / b: da = dy / b, db = -dy * y / b.
absl::StatusOr<std::vector<Value>> DivGrad(GradContext& c) {
  const Value dy = c.output_grads[0], b = c.node.inputs[1], y = c.node.outputs[0];
  std::vector<Value> g(2);
  const Value dy_over_b = Div(c.graph, dy, b);
  if (c.wants[0]) g[0] = ToInput(c, 0, dy_over_b);
  if (c.wants[1]) g[1] = ToInput(c, 1, Neg(c.graph, Mul(c.graph, dy_over_b, y)));
  return g;
}

// Maximum/Minimum: the gradient goes to the input that was chosen (to a on ties).
GradFn SelectGrad(const char* mask_op) {
  return [mask_op](GradContext& c) -> absl::StatusOr<std::vector<Value>> {
    const Value a = c.node.inputs[0], b = c.node.inputs[1], dy = c.output_grads[0];
    const Value a_chosen = c.graph.Op1(mask_op, {a, b});  // 1 where a is chosen, else 0
    std::vector<Value> g(2);
    if (c.wants[0]) g[0] = ToInput(c, 0, Mul(c.graph, dy, a_chosen));
    if (c.wants[1]) g[1] = ToInput(c, 1, Sub(c.graph, dy, Mul(c.graph, dy, a_chosen)));
    return g;
  };
}

// ---- BroadcastTo(x, shape) ----

absl::StatusOr<std::vector<ValueInfo>> BroadcastToShape(const ShapeContext& ctx) {
  DLF_RETURN_IF_ERROR(ExpectF32(ctx.inputs[0], "x"));
  DLF_ASSIGN_OR_RETURN(const Shape target, ctx.attrs.Get<std::vector<int64_t>>("shape"));
  DLF_ASSIGN_OR_RETURN(const Shape shape, BroadcastShapes(ctx.inputs[0].shape, target));
  DLF_RETURN_IF_ERROR(Expect(shape == target, absl::StrCat("cannot broadcast ", ShapeString(ctx.inputs[0].shape),
                                                          " to ", ShapeString(target))));
  return std::vector<ValueInfo>{{DType::kF32, target}};
}

absl::StatusOr<std::unique_ptr<Kernel>> BroadcastToKernel(const KernelContext& k) {
  const Shape out = k.outputs[0].shape;
  const std::vector<int64_t> sx = BroadcastStrides(k.inputs[0].shape, out);
  const std::vector<int64_t> zero(out.size(), 0);
  return std::make_unique<FunctionKernel>([out, sx, zero](RunContext& ctx) {
    const float unused = 0.0f;
    ForEachBroadcast(out, In(ctx, 0), sx, &unused, zero, Out(ctx), [](float x, float) { return x; });
    return absl::OkStatus();
  });
}

void RegisterBinary() {
  RegisterOpOrDie({.name = "Add",
                   .num_inputs = 2,
                   .shape = BroadcastShapeRule,
                   .kernel = AddKernel,
                   .gradient = AddGrad,
                   .accepts_post_ops = true,
                   .any_layout_same_shape = true});
  RegisterOpOrDie({"Sub", 2, BroadcastShapeRule, BroadcastKernel([](float a, float b) { return a - b; }), SubGrad});
  RegisterOpOrDie({"Mul", 2, BroadcastShapeRule, BroadcastKernel([](float a, float b) { return a * b; }), MulGrad});
  RegisterOpOrDie({"Div", 2, BroadcastShapeRule, BroadcastKernel([](float a, float b) { return a / b; }), DivGrad});
  RegisterOpOrDie({"Maximum", 2, BroadcastShapeRule,
                   BroadcastKernel([](float a, float b) { return a >= b ? a : b; }),
                   SelectGrad("MaximumMask")});
  RegisterOpOrDie({"Minimum", 2, BroadcastShapeRule,
                   BroadcastKernel([](float a, float b) { return a <= b ? a : b; }),
                   SelectGrad("MinimumMask")});
  RegisterOpOrDie({"MaximumMask", 2, BroadcastShapeRule,
                   BroadcastKernel([](float a, float b) { return a >= b ? 1.0f : 0.0f; }), nullptr});
  RegisterOpOrDie({"MinimumMask", 2, BroadcastShapeRule,
                   BroadcastKernel([](float a, float b) { return a <= b ? 1.0f : 0.0f; }), nullptr});
  RegisterOpOrDie({"BroadcastTo", 1, BroadcastToShape, BroadcastToKernel,
                   [](GradContext& c) -> absl::StatusOr<std::vector<Value>> {
                     return std::vector<Value>{ToInput(c, 0, c.output_grads[0])};
                   }});
}

[[maybe_unused]] const bool registered = (RegisterBinary(), true);

}  // namespace

Value Add(Graph& g, Value a, Value b) { return g.Op1("Add", {a, b}); }
Value Sub(Graph& g, Value a, Value b) { return g.Op1("Sub", {a, b}); }
Value Mul(Graph& g, Value a, Value b) { return g.Op1("Mul", {a, b}); }
Value Div(Graph& g, Value a, Value b) { return g.Op1("Div", {a, b}); }
Value Maximum(Graph& g, Value a, Value b) { return g.Op1("Maximum", {a, b}); }
Value Minimum(Graph& g, Value a, Value b) { return g.Op1("Minimum", {a, b}); }
Value BroadcastTo(Graph& g, Value x, std::vector<int64_t> shape) {
  return g.Op1("BroadcastTo", {x}, {{"shape", std::move(shape)}});
}

}  // namespace dlf::ops
