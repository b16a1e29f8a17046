// Reshape and Flatten: same elements, new shape.
#include <cstring>
#include <limits>

#include "ops/op_util.h"
#include "ops/ops.h"

namespace dlf::ops {
namespace {

absl::StatusOr<Shape> ResolveShape(const Shape& in, Shape target) {
  int infer = -1;
  int64_t known = 1;
  for (size_t i = 0; i < target.size(); ++i) {
    if (target[i] == -1) {
      DLF_RETURN_IF_ERROR(Expect(infer < 0, "at most one dimension may be -1"));
      infer = static_cast<int>(i);
    } else {
      DLF_RETURN_IF_ERROR(Expect(target[i] >= 0, "dimensions must be >= 0 or -1"));
      DLF_RETURN_IF_ERROR(Expect(target[i] == 0 || known <= std::numeric_limits<int64_t>::max() / target[i],
                                 absl::StrCat("the shape ", ShapeString(target), " has too many elements")));
      known *= target[i];
    }
  }
  const int64_t total = NumElements(in);
  if (infer >= 0 && known > 0 && total % known == 0) target[infer] = total / known;
  DLF_RETURN_IF_ERROR(Expect(NumElements(target) == total,
                             absl::StrCat("cannot reshape ", ShapeString(in), " (", total,
                                          " elements) to ", ShapeString(target))));
  return target;
}

absl::StatusOr<std::vector<ValueInfo>> ReshapeShape(const ShapeContext& ctx) {
  DLF_ASSIGN_OR_RETURN(Shape target, ctx.attrs.Get<std::vector<int64_t>>("shape"));
  DLF_ASSIGN_OR_RETURN(Shape shape, ResolveShape(ctx.inputs[0].shape, target));
  return std::vector<ValueInfo>{{ctx.inputs[0].dtype, shape}};
}

absl::StatusOr<std::unique_ptr<Kernel>> CopyKernel(const KernelContext&) {
  return std::make_unique<FunctionKernel>([](RunContext& ctx) {
    if (ctx.outputs[0]->raw() == ctx.inputs[0]->raw()) return absl::OkStatus();  // in place
    std::memcpy(ctx.outputs[0]->raw(), ctx.inputs[0]->raw(), ctx.inputs[0]->num_bytes());
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<Value>> ReshapeGrad(GradContext& c) {
  return std::vector<Value>{Reshape(c.graph, c.output_grads[0], c.graph.shape(c.node.inputs[0]))};
}

// In place where the executor allows it: the output is the input's bytes, in the same order.
[[maybe_unused]] const bool registered = RegisterOpOrDie(
    {.name = "Reshape", .shape = ReshapeShape, .kernel = CopyKernel, .gradient = ReshapeGrad, .in_place = true});

}  // namespace

Value Reshape(Graph& g, Value x, std::vector<int64_t> shape) {
  return g.Op1("Reshape", {x}, {{"shape", std::move(shape)}});
}

Value Flatten(Graph& g, Value x) {
  if (!g.Contains(x)) return Value{};  // an earlier error is already recorded
  const Shape& s = g.shape(x);
  if (s.empty()) {
    g.RecordError(absl::InvalidArgumentError("Flatten: input '" + g.ValueName(x) +
                                             "' is a scalar; expected [n, ...]"));
    return Value{};
  }
  return Reshape(g, x, {s[0], -1});
}

}  // namespace dlf::ops
