// Scaled dot-product attention with PyTorch 2's F.scaled_dot_product_attention semantics, in two
// forms. Composed of the library's ops (batched matmuls, a constant causal mask, softmax,
// dropout), whose backward pass is theirs and which keeps the [*, T, S] weights for it. And
// fused (FusedAttention, without an explicit mask): a few slices at a time, their scores and
// weights in the kernel's scratch only, the backward pass recomputing them (dropout's mask too,
// Dropout's draws keyed by the forward node); nothing of T x S size outlives a kernel.
#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "graph/random.h"
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

Value CausalMask(Graph& g, int64_t t, int64_t s) {
  return g.Constant(CausalMaskValues(t, s));  // unnamed: one per attention call, names are unique
}

// ---- FusedAttention(q [L, T, d], k [L, S, d], v [L, S, dv]) -> o [L, T, dv], attributes causal,
// scale, dropout, seed and slices_per_sample (the L slices of one sample: the heads);
// FusedAttentionGrad(q, k, v, do) -> (dq, dk, dv), the same attributes and mask_node (the
// forward's node id, whose dropout draws it repeats) ----

// A chunk's scores take about this much scratch, so that each product is a batch of several
// slices (BM_Attention: 1 MiB and 4 MiB the same within noise).
constexpr int64_t kChunkBytes = int64_t{1} << 22;

absl::StatusOr<std::vector<ValueInfo>> FusedAttentionShape(const ShapeContext& ctx) {
  for (int i = 0; i < 3; ++i) {
    DLF_RETURN_IF_ERROR(ExpectF32(ctx.inputs[i], "q, k and v"));
    DLF_RETURN_IF_ERROR(ExpectRank(ctx.inputs[i], 3, "q, k and v [L, positions, d]"));
  }
  const Shape &q = ctx.inputs[0].shape, &k = ctx.inputs[1].shape, &v = ctx.inputs[2].shape;
  DLF_RETURN_IF_ERROR(CheckAttentionShapes(q, k, v));
  return std::vector<ValueInfo>{{DType::kF32, {q[0], q[1], v[2]}}};
}

absl::StatusOr<std::vector<ValueInfo>> FusedAttentionGradShape(const ShapeContext& ctx) {
  DLF_ASSIGN_OR_RETURN(std::vector<ValueInfo> out, FusedAttentionShape(ctx));
  DLF_RETURN_IF_ERROR(Expect(ctx.inputs[3].shape == out[0].shape,
                             absl::StrCat("do must be ", ShapeString(out[0].shape), ", found ",
                                          ShapeString(ctx.inputs[3].shape))));
  return std::vector<ValueInfo>{ctx.inputs[0], ctx.inputs[1], ctx.inputs[2]};
}

// A batched product c = scale * op(a) op(b) over `chunk` slices: op(a) [m, k], op(b) [k, n].
class SliceProduct {
 public:
  static absl::StatusOr<SliceProduct> Make(const dnnl::engine& engine, int64_t chunk, int64_t m, int64_t k,
                                           int64_t n, bool ta, bool tb, double scale) {
    SliceProduct p;
    p.a_ = BatchDesc(ta ? Shape{chunk, k, m} : Shape{chunk, m, k}, ta);
    p.b_ = BatchDesc(tb ? Shape{chunk, n, k} : Shape{chunk, k, n}, tb);
    p.c_ = BatchDesc({chunk, m, n}, false);
    dnnl::primitive_attr attr;
    if (scale != 1.0) attr.set_output_scales(0, {static_cast<float>(scale)});
    DLF_ASSIGN_OR_RETURN(auto pd, TryDnnl([&] {
      return dnnl::matmul::primitive_desc(dnnl::matmul::desc(p.a_, p.b_, p.c_), attr, engine);
    }, "attention's batched matmul"));
    p.primitive_ = dnnl::matmul(pd);
    p.engine_ = engine;
    return p;
  }
  void Run(dnnl::stream& stream, const float* a, const float* b, float* c) const {
    primitive_.execute(stream, {{DNNL_ARG_SRC, Memory(a_, a)}, {DNNL_ARG_WEIGHTS, Memory(b_, b)},
                                {DNNL_ARG_DST, Memory(c_, c)}});
  }
  std::string implementation() const { return ImplementationName(primitive_); }

 private:
  dnnl::memory Memory(const dnnl::memory::desc& d, const float* data) const {
    return dnnl::memory(d, engine_, const_cast<float*>(data));
  }
  dnnl::memory::desc a_, b_, c_;
  dnnl::matmul primitive_;
  dnnl::engine engine_;
};

// What both kernels do per chunk of slices, for one chunk size: the scores, masked, and their
// softmax (forward), and the products of the backward pass.
struct ChunkPlan {
  int64_t slices = 0;
  SliceProduct scores;     // q k^T * scale -> [slices, T, S]
  SliceProduct output;     // weights v -> o
  SliceProduct dweights;   // do v^T -> dweights
  SliceProduct dv;         // weights^T do -> dv
  SliceProduct dq;         // dscores k * scale -> dq
  SliceProduct dk;         // dscores^T q * scale -> dk
  dnnl::softmax_forward softmax;
  dnnl::softmax_backward dsoftmax;
  dnnl::memory::desc rows;  // [slices * T, S]
};

struct AttentionDims {
  int64_t l, t, s, d, dv;
  bool causal;
  double scale;
};

absl::StatusOr<ChunkPlan> MakeChunkPlan(const dnnl::engine& e, const AttentionDims& a, int64_t slices, bool backward) {
  ChunkPlan p;
  p.slices = slices;
  DLF_ASSIGN_OR_RETURN(p.scores, SliceProduct::Make(e, slices, a.t, a.d, a.s, false, true, a.scale));
  p.rows = PlainDesc({slices * a.t, a.s});
  DLF_ASSIGN_OR_RETURN(auto forward_pd, TryDnnl([&] { return SoftmaxForwardPd(p.rows, e); }, "attention's softmax"));
  p.softmax = dnnl::softmax_forward(forward_pd);
  if (!backward) {
    DLF_ASSIGN_OR_RETURN(p.output, SliceProduct::Make(e, slices, a.t, a.s, a.dv, false, false, 1.0));
    return p;
  }
  DLF_ASSIGN_OR_RETURN(p.dweights, SliceProduct::Make(e, slices, a.t, a.dv, a.s, false, true, 1.0));
  DLF_ASSIGN_OR_RETURN(p.dv, SliceProduct::Make(e, slices, a.s, a.t, a.dv, true, false, 1.0));
  DLF_ASSIGN_OR_RETURN(p.dq, SliceProduct::Make(e, slices, a.t, a.s, a.d, false, false, a.scale));
  DLF_ASSIGN_OR_RETURN(p.dk, SliceProduct::Make(e, slices, a.s, a.t, a.d, true, false, a.scale));
  DLF_ASSIGN_OR_RETURN(auto backward_pd, TryDnnl([&] {
    return dnnl::softmax_backward::primitive_desc({p.rows, p.rows, 1}, e, forward_pd);
  }, "attention's softmax backward"));
  p.dsoftmax = dnnl::softmax_backward(backward_pd);
  return p;
}

// The attention weights of `slices` slices into `scores`: q k^T * scale, the causal mask (-inf
// where key j > query i: CausalMaskValues' rule, filled in place), softmax over the keys, in place.
void Weights(const ChunkPlan& p, const AttentionDims& a, dnnl::stream& stream, const float* q, const float* k,
             float* scores, const dnnl::engine& e) {
  p.scores.Run(stream, q, k, scores);
  if (a.causal) {
    const int64_t rows = p.slices * a.t;
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t i = r % a.t;
      if (i + 1 < a.s) std::fill(scores + r * a.s + i + 1, scores + (r + 1) * a.s, -std::numeric_limits<float>::infinity());
    }
  }
  const dnnl::memory m(p.rows, e, scores);
  p.softmax.execute(stream, {{DNNL_ARG_SRC, m}, {DNNL_ARG_DST, m}});
}

class FusedAttentionKernel final : public Kernel {
 public:
  static absl::StatusOr<std::unique_ptr<Kernel>> Create(const KernelContext& k, bool backward) {
    const Shape &q = k.inputs[0].shape, &kk = k.inputs[1].shape, &v = k.inputs[2].shape;
    auto kernel = std::unique_ptr<FusedAttentionKernel>(new FusedAttentionKernel());
    kernel->backward_ = backward;
    kernel->engine_ = k.engine;
    AttentionDims& a = kernel->dims_;
    a = {.l = q[0], .t = q[1], .s = kk[1], .d = q[2], .dv = v[2],
         .causal = k.node.attrs.GetOr<bool>("causal", false), .scale = k.node.attrs.GetOr<double>("scale", 1.0)};
    const int64_t slice_bytes = a.t * a.s * static_cast<int64_t>(sizeof(float));
    const int64_t chunk = std::clamp<int64_t>(kChunkBytes / slice_bytes, 1, a.l);
    DLF_ASSIGN_OR_RETURN(kernel->full_, MakeChunkPlan(k.engine, a, chunk, backward));
    if (a.l % chunk != 0) {
      DLF_ASSIGN_OR_RETURN(kernel->tail_, MakeChunkPlan(k.engine, a, a.l % chunk, backward));
    }
    kernel->scratch_bytes_ = (backward ? 2 : 1) * chunk * slice_bytes;
    const double rate = k.node.attrs.GetOr<double>("dropout", 0.0);
    DLF_RETURN_IF_ERROR(Expect(rate >= 0 && rate < 1, absl::StrCat("dropout must be in [0, 1), found ", rate)));
    if (rate > 0) {
      const int node = static_cast<int>(k.node.attrs.GetOr<int64_t>("mask_node", k.node.id));
      kernel->dropout_.emplace(static_cast<uint64_t>(k.node.attrs.GetOr<int64_t>("seed", 0)), node, rate);
      kernel->slices_per_sample_ = k.node.attrs.GetOr<int64_t>("slices_per_sample", 1);
    }
    return std::unique_ptr<Kernel>(std::move(kernel));
  }

  int64_t scratch_bytes() const override { return scratch_bytes_; }
  std::vector<std::string> implementations() const override { return {full_.scores.implementation()}; }

  absl::Status Run(RunContext& ctx) override {
    try {
      for (int64_t first = 0; first < dims_.l; first += full_.slices) {
        const ChunkPlan& p = dims_.l - first >= full_.slices ? full_ : tail_;
        backward_ ? Backward(p, first, ctx) : Forward(p, first, ctx);
      }
    } catch (const dnnl::error& e) {
      return absl::InternalError(absl::StrCat("FusedAttention: oneDNN failed: ", e.what()));
    }
    return absl::OkStatus();
  }

 private:
  FusedAttentionKernel() = default;

  // weights *= the dropout mask of slices first .. first + p.slices - 1 (in training, as Dropout
  // on the [L, T, S] weights: element index counted in the global batch).
  void Drop(const ChunkPlan& p, int64_t first, RunContext& ctx, float* weights) const {
    if (!dropout_ || !ctx.training) return;
    const DropoutMask::Step step = dropout_->ForStep(ctx.step);
    const int64_t per_slice = dims_.t * dims_.s, n = p.slices * per_slice;
    const uint32_t base = static_cast<uint32_t>((ctx.sample_offset * slices_per_sample_ + first) * per_slice);
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; ++i) weights[i] *= dropout_->Value(step, base + static_cast<uint32_t>(i));
  }

  void Forward(const ChunkPlan& p, int64_t first, RunContext& ctx) const {
    const AttentionDims& a = dims_;
    float* weights = static_cast<float*>(ctx.scratch);
    Weights(p, a, *ctx.stream, In(ctx, 0) + first * a.t * a.d, In(ctx, 1) + first * a.s * a.d, weights, engine_);
    Drop(p, first, ctx, weights);
    p.output.Run(*ctx.stream, weights, In(ctx, 2) + first * a.s * a.dv, Out(ctx) + first * a.t * a.dv);
  }

  // With m the dropout mask (1 without): dw = (do v^T) m; ds = softmax'(w, dw); dv = (w m)^T do;
  // dq = ds k * scale; dk = ds^T q * scale. The weights are dropped only once softmax' has read them.
  void Backward(const ChunkPlan& p, int64_t first, RunContext& ctx) const {
    const AttentionDims& a = dims_;
    float* weights = static_cast<float*>(ctx.scratch);
    float* dweights = weights + full_.slices * a.t * a.s;
    const float* q = In(ctx, 0) + first * a.t * a.d;
    const float* k = In(ctx, 1) + first * a.s * a.d;
    const float* v = In(ctx, 2) + first * a.s * a.dv;
    const float* dout = In(ctx, 3) + first * a.t * a.dv;
    dnnl::stream& stream = *ctx.stream;
    Weights(p, a, stream, q, k, weights, engine_);
    p.dweights.Run(stream, dout, v, dweights);
    Drop(p, first, ctx, dweights);
    const dnnl::memory w(p.rows, engine_, weights), dw(p.rows, engine_, dweights);
    p.dsoftmax.execute(stream, {{DNNL_ARG_DST, w}, {DNNL_ARG_DIFF_DST, dw}, {DNNL_ARG_DIFF_SRC, dw}});
    Drop(p, first, ctx, weights);
    p.dv.Run(stream, weights, dout, Out(ctx, 2) + first * a.s * a.dv);
    p.dq.Run(stream, dweights, k, Out(ctx, 0) + first * a.t * a.d);
    p.dk.Run(stream, dweights, q, Out(ctx, 1) + first * a.s * a.d);
  }

  bool backward_ = false;
  dnnl::engine engine_;
  AttentionDims dims_{};
  ChunkPlan full_, tail_;
  int64_t scratch_bytes_ = 0;
  std::optional<DropoutMask> dropout_;  // in training, when the rate is > 0
  int64_t slices_per_sample_ = 1;
};

absl::StatusOr<std::vector<Value>> FusedAttentionGrad(GradContext& c) {
  std::vector<Value> grads(3);
  if (!c.output_grads[0].valid()) return grads;
  const Node& n = c.node;
  Attrs attrs = n.attrs;
  attrs.Set("mask_node", static_cast<int64_t>(n.id));
  const std::vector<Value> g =
      c.graph.Op("FusedAttentionGrad", {n.inputs[0], n.inputs[1], n.inputs[2], c.output_grads[0]}, attrs);
  if (g.size() != 3) return grads;  // the error is recorded in the graph
  for (int i = 0; i < 3; ++i) {
    if (c.wants[i]) grads[i] = g[i];
  }
  return grads;
}

// 2 FLOPs per multiply-add of the products: forward q k^T and w v; backward those two again
// (the scores are recomputed) and do v^T, w^T do, ds k, ds^T q.
double AttentionFlops(const std::vector<ValueInfo>& in, int products_of_d, int products_of_dv) {
  const Shape &q = in[0].shape, &k = in[1].shape, &v = in[2].shape;
  return 2.0 * q[0] * q[1] * k[1] * (products_of_d * q[2] + products_of_dv * v[2]);
}

void RegisterAttention() {
  RegisterOpOrDie({.name = "FusedAttention",
                   .num_inputs = 3,
                   .shape = FusedAttentionShape,
                   .kernel = [](const KernelContext& k) { return FusedAttentionKernel::Create(k, false); },
                   .gradient = FusedAttentionGrad,
                   .flops = [](const auto& in, const auto&) { return AttentionFlops(in, 1, 1); }});
  RegisterOpOrDie({.name = "FusedAttentionGrad",
                   .num_inputs = 4,
                   .shape = FusedAttentionGradShape,
                   .kernel = [](const KernelContext& k) { return FusedAttentionKernel::Create(k, true); },
                   .flops = [](const auto& in, const auto&) { return AttentionFlops(in, 3, 3); }});
}

[[maybe_unused]] const bool registered = (RegisterAttention(), true);

}  // namespace

Tensor CausalMaskValues(int64_t t, int64_t s) {
  Tensor mask(DType::kF32, {t, s});
  for (int64_t i = 0; i < t; ++i)
    for (int64_t j = 0; j < s; ++j) mask.f32()[i * s + j] = j > i ? -std::numeric_limits<float>::infinity() : 0.0f;
  return mask;
}

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
  Shape out(qs.begin(), qs.end() - 1);
  out.push_back(dv);
  using Kernel = AttentionOptions::Kernel;
  const bool fusable = !options.mask.valid();
  if (options.kernel == Kernel::kFused && !fusable) {
    g.RecordError(absl::InvalidArgumentError("ScaledDotProductAttention: the fused kernel takes no mask"));
    return Value{};
  }
  if (options.kernel == Kernel::kFused || (options.kernel == Kernel::kAuto && fusable && t * s > 128 * 128)) {
    int64_t slices_per_sample = 1;  // the axes between the batch and [T, d]: the heads
    for (size_t i = 1; i + 2 < r; ++i) slices_per_sample *= qs[i];
    const Value y = g.Op1("FusedAttention", {batched(q, t, d), batched(k, s, d), batched(v, s, dv)},
                          {{"causal", options.causal}, {"scale", 1.0 / std::sqrt(static_cast<double>(d))},
                           {"dropout", options.dropout}, {"seed", static_cast<int64_t>(options.seed)},
                           {"slices_per_sample", slices_per_sample}});
    return Reshape(g, y, out);
  }
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
  if (options.dropout > 0) {
    // Dropout counts an element's index from the rank's first sample along axis 0: drop
    // [batch, heads * T * S] (the batch first), not [batch * heads, T, S], so that ranks draw
    // what one rank would.
    const int64_t batch = r >= 3 ? qs[0] : 1;
    weights = Reshape(g, Dropout(g, Reshape(g, weights, {batch, -1}), options.dropout, options.seed), {-1, t, s});
  }
  return Reshape(g, BatchMatMul(g, weights, batched(v, s, dv)), out);
}

}  // namespace dlf::ops
