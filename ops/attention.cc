// Scaled dot-product attention with PyTorch 2's F.scaled_dot_product_attention semantics, composed
// of the library's ops (batched matmuls, a constant causal mask, softmax, dropout), so its
// backward pass is theirs. It keeps the [*, T, S] weights for the backward pass; a fused kernel
// that recomputes them is the next step.
#include <cmath>
#include <limits>

#include "ops/op_util.h"
#include "ops/ops.h"

namespace dlf::ops {
namespace {

absl::Status CheckAttentionShapes(const Shape& q, const Shape& k, const Shape& v) {
  const auto text = [&] { return absl::StrCat("q ", ShapeString(q), ", k ", ShapeString(k), ", v ", ShapeString(v)); };
  DLF_RETURN_IF_ERROR(Expect(q.size() >= 2 && k.size() == q.size() && v.size() == q.size(),
                             absl::StrCat("q, k and v must be [*, T, d], [*, S, d] and [*, S, dv] of one rank, found ", text())));
  const size_t r = q.size();
  DLF_RETURN_IF_ERROR(Expect(std::equal(q.begin(), q.end() - 2, k.begin()) && std::equal(q.begin(), q.end() - 2, v.begin()),
                             absl::StrCat("q, k and v must have the same leading axes, found ", text())));
  DLF_RETURN_IF_ERROR(Expect(q[r - 1] == k[r - 1], absl::StrCat("q and k must have the same last axis (d), found ", text())));
  return Expect(k[r - 2] == v[r - 2], absl::StrCat("k and v must have the same number of positions (S), found ", text()));
}

// [T, S]: 0 where query i may see key j (j <= i, PyTorch's tril(ones(T, S)) alignment), -inf else.
Value CausalMask(Graph& g, int64_t t, int64_t s) {
  Tensor mask(DType::kF32, {t, s});
  for (int64_t i = 0; i < t; ++i)
    for (int64_t j = i + 1; j < s; ++j) mask.f32()[i * s + j] = -std::numeric_limits<float>::infinity();
  return g.Constant(std::move(mask));  // unnamed: one per attention call, names are unique
}

}  // namespace

Value ScaledDotProductAttention(Graph& g, Value q, Value k, Value v, AttentionOptions options) {
  if (!g.Contains(q) || !g.Contains(k) || !g.Contains(v)) return Value{};
  const Shape qs = g.shape(q), ks = g.shape(k), vs = g.shape(v);  // copies: nodes get added below
  if (const absl::Status s = CheckAttentionShapes(qs, ks, vs); !s.ok()) {
    g.RecordError(absl::InvalidArgumentError(absl::StrCat("ScaledDotProductAttention: ", s.message())));
    return Value{};
  }
  const size_t r = qs.size();
  const int64_t t = qs[r - 2], s = ks[r - 2], d = qs[r - 1], dv = vs[r - 1];
  const auto batched = [&](Value x, int64_t rows, int64_t cols) { return Reshape(g, x, {-1, rows, cols}); };
  // q / sqrt(d), then q k^T [L, T, S]: the scale passes over T x d elements instead of T x S.
  const Value scaled_q = Scale(g, batched(q, t, d), 1.0 / std::sqrt(static_cast<double>(d)));
  Value scores = BatchMatMul(g, scaled_q, batched(k, s, d), false, true);
  if (options.causal) scores = Add(g, scores, CausalMask(g, t, s));
  if (options.mask.valid()) {
    if (g.Contains(options.mask) && g.shape(options.mask) != Shape{t, s}) {
      g.RecordError(absl::InvalidArgumentError(absl::StrCat("ScaledDotProductAttention: the mask must be [", t, ", ", s,
                                                            "] (T, S), found ", ShapeString(g.shape(options.mask)))));
      return Value{};
    }
    scores = Add(g, scores, options.mask);
  }
  Value weights = Softmax(g, scores);
  if (options.dropout > 0) weights = Dropout(g, weights, options.dropout, options.seed);
  Shape out(qs.begin(), qs.end() - 1);
  out.push_back(dv);
  return Reshape(g, BatchMatMul(g, weights, batched(v, s, dv)), out);
}

}  // namespace dlf::ops
