// Embedding(table [V, D], ids i32 of any shape) -> [*ids, D]: row ids[i] of the table for each id,
// as torch.nn.functional.embedding. The gradient is a scatter-add into a [V, D] zero table; each
// thread owns a band of columns and adds the ids' rows in order, so every element sums its terms
// in the same order whatever the thread count: the same bits with 1 or 2 threads, or 64.
#include <algorithm>
#include <cstring>

#include "ops/op_util.h"
#include "ops/ops.h"

namespace dlf::ops {
namespace {

absl::Status ExpectIds(const ValueInfo& ids) {
  return Expect(ids.dtype == DType::kI32,
                absl::StrCat("ids must be i32, found ", DTypeName(ids.dtype), " ", ShapeString(ids.shape)));
}

absl::Status CheckIds(const int32_t* ids, int64_t count, int64_t rows) {
  for (int64_t i = 0; i < count; ++i) {
    if (ids[i] < 0 || ids[i] >= rows) {
      return absl::InvalidArgumentError(
          absl::StrCat("id ", ids[i], " at position ", i, " is outside the table's rows [0, ", rows, ")"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<ValueInfo>> EmbeddingShape(const ShapeContext& ctx) {
  DLF_RETURN_IF_ERROR(ExpectF32(ctx.inputs[0], "table"));
  DLF_RETURN_IF_ERROR(ExpectRank(ctx.inputs[0], 2, "table [rows, dim]"));
  DLF_RETURN_IF_ERROR(ExpectIds(ctx.inputs[1]));
  Shape out = ctx.inputs[1].shape;
  out.push_back(ctx.inputs[0].shape[1]);
  return std::vector<ValueInfo>{{DType::kF32, out}};
}

absl::StatusOr<std::unique_ptr<Kernel>> EmbeddingKernel(const KernelContext& k) {
  const int64_t rows = k.inputs[0].shape[0], dim = k.inputs[0].shape[1];
  return std::make_unique<FunctionKernel>([rows, dim](RunContext& ctx) {
    const int32_t* ids = ctx.inputs[1]->i32();
    const int64_t count = ctx.inputs[1]->num_elements();
    DLF_RETURN_IF_ERROR(CheckIds(ids, count, rows));
    const float* table = In(ctx, 0);
    float* y = Out(ctx);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < count; ++i) std::memcpy(y + i * dim, table + ids[i] * dim, dim * sizeof(float));
    return absl::OkStatus();
  });
}

// EmbeddingGrad(dy [*ids, D], ids) with attribute rows -> dtable [rows, D].
absl::StatusOr<std::vector<ValueInfo>> EmbeddingGradShape(const ShapeContext& ctx) {
  DLF_ASSIGN_OR_RETURN(const int64_t rows, ctx.attrs.Get<int64_t>("rows"));
  return std::vector<ValueInfo>{{DType::kF32, {rows, ctx.inputs[0].shape.back()}}};
}

absl::StatusOr<std::unique_ptr<Kernel>> EmbeddingGradKernel(const KernelContext& k) {
  const int64_t rows = k.outputs[0].shape[0], dim = k.outputs[0].shape[1];
  return std::make_unique<FunctionKernel>([rows, dim](RunContext& ctx) {
    const int32_t* ids = ctx.inputs[1]->i32();
    const int64_t count = ctx.inputs[1]->num_elements();
    DLF_RETURN_IF_ERROR(CheckIds(ids, count, rows));
    const float* dy = In(ctx, 0);
    float* dtable = Out(ctx);
    std::memset(dtable, 0, rows * dim * sizeof(float));
    constexpr int64_t kBand = 16;  // columns per task: one cache line of floats
    const int64_t bands = (dim + kBand - 1) / kBand;
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < bands; ++b) {
      const int64_t lo = b * kBand, hi = std::min(dim, lo + kBand);
      for (int64_t i = 0; i < count; ++i) {
        float* row = dtable + ids[i] * dim;
        const float* g = dy + i * dim;
        for (int64_t d = lo; d < hi; ++d) row[d] += g[d];
      }
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<Value>> EmbeddingGradRule(GradContext& c) {
  std::vector<Value> grads(2);
  if (c.wants[0]) {
    grads[0] = c.graph.Op1("EmbeddingGrad", {c.output_grads[0], c.node.inputs[1]},
                           {{"rows", c.graph.shape(c.node.inputs[0])[0]}});
  }
  return grads;
}

void RegisterEmbedding() {
  RegisterOpOrDie({.name = "Embedding", .num_inputs = 2, .shape = EmbeddingShape, .kernel = EmbeddingKernel,
                   .gradient = EmbeddingGradRule});
  RegisterOpOrDie({.name = "EmbeddingGrad", .num_inputs = 2, .shape = EmbeddingGradShape,
                   .kernel = EmbeddingGradKernel});
}

[[maybe_unused]] const bool registered = (RegisterEmbedding(), true);

}  // namespace

Value Embedding(Graph& g, Value table, Value ids) { return g.Op1("Embedding", {table, ids}); }

}  // namespace dlf::ops
