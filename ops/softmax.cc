// Softmax, log-softmax, softmax cross-entropy over integer labels, argmax and the count of
// correct rows.
#include <cmath>

#include "ops/op_util.h"
#include "ops/ops.h"

namespace dlf::ops {
namespace {

absl::Status ExpectLogits(const ValueInfo& logits) {
  DLF_RETURN_IF_ERROR(ExpectF32(logits, "logits"));
  return ExpectRank(logits, 2, "logits [n, classes]");
}

absl::Status ExpectLabels(const ValueInfo& logits, const ValueInfo& labels) {
  DLF_RETURN_IF_ERROR(Expect(labels.dtype == DType::kI32,
                             absl::StrCat("labels must be i32, found ", DTypeName(labels.dtype))));
  return Expect(labels.shape == Shape{logits.shape[0]},
                absl::StrCat("labels must be [", logits.shape[0], "] to match the logits, found ",
                             ShapeString(labels.shape)));
}

// Numerically stable: subtracts the row maximum before exponentiating.
void SoftmaxRow(const float* x, float* y, int64_t k) {
  float m = x[0];
  for (int64_t j = 1; j < k; ++j) m = std::max(m, x[j]);
  double s = 0.0;
  for (int64_t j = 0; j < k; ++j) s += y[j] = std::exp(x[j] - m);
  const float inv = static_cast<float>(1.0 / s);
  for (int64_t j = 0; j < k; ++j) y[j] *= inv;
}

// log(sum_j exp(x_j)) of a row, computed around its maximum so it never overflows.
double LogSumExp(const float* x, int64_t k) {
  float m = x[0];
  for (int64_t j = 1; j < k; ++j) m = std::max(m, x[j]);
  double s = 0.0;
  for (int64_t j = 0; j < k; ++j) s += std::exp(static_cast<double>(x[j] - m));
  return m + std::log(s);
}

// ---- Softmax(x) -> y; SoftmaxGrad(y, dy) -> dx = y * (dy - sum(dy * y)) ----

// Over the last axis of x [*, c] (any leading axes; ops::Softmax moves another axis last).
absl::StatusOr<std::vector<ValueInfo>> SoftmaxShape(const ShapeContext& ctx) {
  DLF_RETURN_IF_ERROR(ExpectF32(ctx.inputs[0], "x"));
  DLF_RETURN_IF_ERROR(Expect(!ctx.inputs[0].shape.empty() && ctx.inputs[0].shape.back() > 0,
                             absl::StrCat("x must be [*, c] with c > 0, found ", ShapeString(ctx.inputs[0].shape))));
  return std::vector<ValueInfo>{ctx.inputs[0]};
}

// A kernel over the rows of [*, c]: row(a, b, out, c) with a and out row i of input 0 and the
// output, b row i of input 1 (nullptr for one-input ops).
template <typename F>
KernelFactory PerRow(F row) {
  return [row](const KernelContext& k) -> absl::StatusOr<std::unique_ptr<Kernel>> {
    const int64_t c = k.inputs[0].shape.back(), n = NumElements(k.inputs[0].shape) / c;
    const bool two = k.inputs.size() > 1;
    return std::make_unique<FunctionKernel>([row, n, c, two](RunContext& ctx) {
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < n; ++i) {
        row(In(ctx, 0) + i * c, two ? In(ctx, 1) + i * c : nullptr, Out(ctx) + i * c, c);
      }
      return absl::OkStatus();
    });
  };
}

// On oneDNN's softmax over the rows of [n, c]: its jit kernels vectorize the exponentials that
// stay scalar in a loop of ours (attention's softmax is a transformer's largest one after its
// matmuls).
dnnl::memory::desc Rows(const Shape& shape) {
  const int64_t c = shape.back();
  return PlainDesc({NumElements(shape) / c, c});
}

absl::StatusOr<std::unique_ptr<Kernel>> SoftmaxKernel(const KernelContext& k) {
  const dnnl::memory::desc rows = Rows(k.inputs[0].shape);
  DLF_ASSIGN_OR_RETURN(auto pd, TryDnnl([&] { return SoftmaxForwardPd(rows, k.engine); }, "softmax forward"));
  auto kernel = std::make_unique<DnnlKernel>(dnnl::softmax_forward(pd), k);
  kernel->BindInput(DNNL_ARG_SRC, 0, rows);
  kernel->BindOutput(DNNL_ARG_DST, 0, rows);
  return kernel;
}

// SoftmaxGrad(y, dy): dx = y * (dy - sum(dy * y)).
absl::StatusOr<std::unique_ptr<Kernel>> SoftmaxGradKernel(const KernelContext& k) {
  const dnnl::memory::desc rows = Rows(k.inputs[0].shape);
  DLF_ASSIGN_OR_RETURN(auto pd, TryDnnl([&] {
    return dnnl::softmax_backward::primitive_desc({rows, rows, 1}, k.engine, SoftmaxForwardPd(rows, k.engine));
  }, "softmax backward"));
  auto kernel = std::make_unique<DnnlKernel>(dnnl::softmax_backward(pd), k);
  kernel->BindInput(DNNL_ARG_DST, 0, rows);
  kernel->BindInput(DNNL_ARG_DIFF_DST, 1, rows);
  kernel->BindOutput(DNNL_ARG_DIFF_SRC, 0, rows);
  return kernel;
}

// ---- LogSoftmax(x) -> y = x - logsumexp(x); LogSoftmaxGrad(y, dy) -> dy - exp(y) sum(dy) ----

const KernelFactory LogSoftmaxKernel = PerRow([](const float* x, const float*, float* y, int64_t c) {
  const float lse = static_cast<float>(LogSumExp(x, c));
  for (int64_t j = 0; j < c; ++j) y[j] = x[j] - lse;
});

const KernelFactory LogSoftmaxGradKernel = PerRow([](const float* y, const float* dy, float* dx, int64_t c) {
  double sum = 0.0;
  for (int64_t j = 0; j < c; ++j) sum += dy[j];
  for (int64_t j = 0; j < c; ++j) dx[j] = dy[j] - std::exp(y[j]) * static_cast<float>(sum);
});

// ---- SoftmaxCrossEntropy(logits, labels) -> (loss [], probs [n, c]) ----
// With label smoothing e (PyTorch's CrossEntropyLoss(label_smoothing=e)) the target of a row is
// q = (1 - e) * onehot(label) + e / classes, and the loss -sum_j q_j log softmax(x)_j.

absl::StatusOr<double> GetSmoothing(const Attrs& attrs) {
  const double e = attrs.GetOr<double>("label_smoothing", 0.0);
  DLF_RETURN_IF_ERROR(Expect(e >= 0.0 && e < 1.0,
                             absl::StrCat("label_smoothing must be in [0, 1), found ", e)));
  return e;
}

absl::StatusOr<std::vector<ValueInfo>> XentShape(const ShapeContext& ctx) {
  DLF_RETURN_IF_ERROR(ExpectLogits(ctx.inputs[0]));
  DLF_RETURN_IF_ERROR(ExpectLabels(ctx.inputs[0], ctx.inputs[1]));
  DLF_RETURN_IF_ERROR(GetSmoothing(ctx.attrs).status());
  return std::vector<ValueInfo>{{DType::kF32, {}}, ctx.inputs[0]};
}

absl::Status CheckLabel(int32_t label, int64_t classes, int64_t row) {
  if (label >= 0 && label < classes) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("label ", label, " at row ", row,
                                                 " is outside [0, ", classes, ")"));
}

// -sum_j q_j log softmax(x)_j = logsumexp(x) - sum_j q_j x_j, never log(0).
double SmoothedXentRow(const float* x, int32_t label, int64_t c, double smoothing) {
  const double lse = LogSumExp(x, c);
  double sum = 0.0;  // of x - lse, which stays small however large the logits are
  for (int64_t j = 0; j < c; ++j) sum += x[j] - lse;
  return -(1.0 - smoothing) * (x[label] - lse) - smoothing / c * sum;
}

absl::StatusOr<std::unique_ptr<Kernel>> XentKernel(const KernelContext& k) {
  const int64_t n = k.inputs[0].shape[0], c = k.inputs[0].shape[1];
  DLF_ASSIGN_OR_RETURN(const double smoothing, GetSmoothing(k.node.attrs));
  return std::make_unique<FunctionKernel>([n, c, smoothing](RunContext& ctx) {
    const int32_t* labels = ctx.inputs[1]->i32();
    for (int64_t i = 0; i < n; ++i) DLF_RETURN_IF_ERROR(CheckLabel(labels[i], c, i));
    const float* x = In(ctx, 0);
    float* probs = Out(ctx, 1);
    double loss = 0.0;
#pragma omp parallel for reduction(+ : loss) schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      SoftmaxRow(x + i * c, probs + i * c, c);
      loss += SmoothedXentRow(x + i * c, labels[i], c, smoothing);
    }
    Out(ctx, 0)[0] = static_cast<float>(loss / static_cast<double>(n));
    return absl::OkStatus();
  });
}

// SoftmaxCrossEntropyGrad(probs, labels, dloss) -> dlogits = (probs - q) * dloss / n
absl::StatusOr<std::vector<ValueInfo>> XentGradShape(const ShapeContext& ctx) {
  return std::vector<ValueInfo>{ctx.inputs[0]};
}

absl::StatusOr<std::unique_ptr<Kernel>> XentGradKernel(const KernelContext& k) {
  const int64_t n = k.inputs[0].shape[0], c = k.inputs[0].shape[1];
  DLF_ASSIGN_OR_RETURN(const double smoothing, GetSmoothing(k.node.attrs));
  const float off = static_cast<float>(smoothing / c), on = static_cast<float>(1.0 - smoothing) + off;
  return std::make_unique<FunctionKernel>([n, c, on, off](RunContext& ctx) {
    const float* probs = In(ctx, 0);
    const int32_t* labels = ctx.inputs[1]->i32();
    const float scale = In(ctx, 2)[0] / static_cast<float>(n);
    float* dx = Out(ctx);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j < c; ++j) {
        dx[i * c + j] = (probs[i * c + j] - (j == labels[i] ? on : off)) * scale;
      }
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<Value>> XentGrad(GradContext& c) {
  std::vector<Value> grads(2);
  grads[0] = c.graph.Op1("SoftmaxCrossEntropyGrad",
                         {c.node.outputs[1], c.node.inputs[1], c.output_grads[0]}, c.node.attrs);
  return grads;
}

// ---- SoftTargetCrossEntropy(logits, targets) -> (loss [], probs [n, c]) ----
// Mean over rows of -sum_j q_j log softmax(x)_j against targets q (f32 [n, c], rows summing
// to 1: mixup's and cutmix's mixed one-hots), with label smoothing folded in as PyTorch's
// CrossEntropyLoss does for probability targets: q' = (1 - e) q + e / c.

absl::StatusOr<std::vector<ValueInfo>> SoftXentShape(const ShapeContext& ctx) {
  DLF_RETURN_IF_ERROR(ExpectLogits(ctx.inputs[0]));
  DLF_RETURN_IF_ERROR(Expect(ctx.inputs[1].dtype == DType::kF32 && ctx.inputs[1].shape == ctx.inputs[0].shape,
                             absl::StrCat("targets must be f32 ", ShapeString(ctx.inputs[0].shape),
                                          " as the logits, found ", DTypeName(ctx.inputs[1].dtype),
                                          ShapeString(ctx.inputs[1].shape))));
  DLF_RETURN_IF_ERROR(GetSmoothing(ctx.attrs).status());
  return std::vector<ValueInfo>{{DType::kF32, {}}, ctx.inputs[0]};
}

absl::StatusOr<std::unique_ptr<Kernel>> SoftXentKernel(const KernelContext& k) {
  const int64_t n = k.inputs[0].shape[0], c = k.inputs[0].shape[1];
  DLF_ASSIGN_OR_RETURN(const double e, GetSmoothing(k.node.attrs));
  return std::make_unique<FunctionKernel>([n, c, e](RunContext& ctx) {
    const float* x = In(ctx, 0);
    const float* q = In(ctx, 1);
    float* probs = Out(ctx, 1);
    double loss = 0.0;
#pragma omp parallel for reduction(+ : loss) schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      SoftmaxRow(x + i * c, probs + i * c, c);
      const double lse = LogSumExp(x + i * c, c);
      for (int64_t j = 0; j < c; ++j) loss -= ((1.0 - e) * q[i * c + j] + e / c) * (x[i * c + j] - lse);
    }
    Out(ctx, 0)[0] = static_cast<float>(loss / static_cast<double>(n));
    return absl::OkStatus();
  });
}

// SoftTargetCrossEntropyGrad(probs, targets, dloss) -> dlogits = (probs - q') * dloss / n
absl::StatusOr<std::unique_ptr<Kernel>> SoftXentGradKernel(const KernelContext& k) {
  const int64_t n = k.inputs[0].shape[0], c = k.inputs[0].shape[1];
  DLF_ASSIGN_OR_RETURN(const double e, GetSmoothing(k.node.attrs));
  return std::make_unique<FunctionKernel>([n, c, e](RunContext& ctx) {
    const float* probs = In(ctx, 0);
    const float* q = In(ctx, 1);
    const float scale = In(ctx, 2)[0] / static_cast<float>(n);
    const float keep = static_cast<float>(1.0 - e), spread = static_cast<float>(e / c);
    float* dx = Out(ctx);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n * c; ++i) dx[i] = (probs[i] - (keep * q[i] + spread)) * scale;
    return absl::OkStatus();
  });
}

// SoftTargetCrossEntropyTargetsGrad(logits, dloss) -> dtargets = -(1 - e) log softmax(x) * dloss / n
absl::StatusOr<std::unique_ptr<Kernel>> SoftXentTargetsGradKernel(const KernelContext& k) {
  const int64_t n = k.inputs[0].shape[0], c = k.inputs[0].shape[1];
  DLF_ASSIGN_OR_RETURN(const double e, GetSmoothing(k.node.attrs));
  return std::make_unique<FunctionKernel>([n, c, e](RunContext& ctx) {
    const float* x = In(ctx, 0);
    const double scale = -(1.0 - e) * In(ctx, 1)[0] / static_cast<double>(n);
    float* dq = Out(ctx);
    for (int64_t i = 0; i < n; ++i) {
      const double lse = LogSumExp(x + i * c, c);
      for (int64_t j = 0; j < c; ++j) dq[i * c + j] = static_cast<float>(scale * (x[i * c + j] - lse));
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<Value>> SoftXentGrad(GradContext& c) {
  return std::vector<Value>{
      c.graph.Op1("SoftTargetCrossEntropyGrad", {c.node.outputs[1], c.node.inputs[1], c.output_grads[0]}, c.node.attrs),
      c.graph.Op1("SoftTargetCrossEntropyTargetsGrad", {c.node.inputs[0], c.output_grads[0]}, c.node.attrs)};
}

// ---- Argmax(logits) -> i32 [n]; CountCorrect(logits, labels) -> f32 [] ----

absl::StatusOr<std::vector<ValueInfo>> ArgmaxShape(const ShapeContext& ctx) {
  DLF_RETURN_IF_ERROR(ExpectLogits(ctx.inputs[0]));
  return std::vector<ValueInfo>{{DType::kI32, {ctx.inputs[0].shape[0]}}};
}

int32_t ArgmaxRow(const float* row, int64_t c) {
  int32_t best = 0;
  for (int64_t j = 1; j < c; ++j) {
    if (row[j] > row[best]) best = static_cast<int32_t>(j);
  }
  return best;
}

absl::StatusOr<std::unique_ptr<Kernel>> ArgmaxKernel(const KernelContext& k) {
  const int64_t n = k.inputs[0].shape[0], c = k.inputs[0].shape[1];
  return std::make_unique<FunctionKernel>([n, c](RunContext& ctx) {
    for (int64_t i = 0; i < n; ++i) ctx.outputs[0]->i32()[i] = ArgmaxRow(In(ctx, 0) + i * c, c);
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<ValueInfo>> CountCorrectShape(const ShapeContext& ctx) {
  DLF_RETURN_IF_ERROR(ExpectLogits(ctx.inputs[0]));
  DLF_RETURN_IF_ERROR(ExpectLabels(ctx.inputs[0], ctx.inputs[1]));
  return std::vector<ValueInfo>{{DType::kF32, {}}};
}

absl::StatusOr<std::unique_ptr<Kernel>> CountCorrectKernel(const KernelContext& k) {
  const int64_t n = k.inputs[0].shape[0], c = k.inputs[0].shape[1];
  return std::make_unique<FunctionKernel>([n, c](RunContext& ctx) {
    int64_t correct = 0;
    for (int64_t i = 0; i < n; ++i) {
      correct += ArgmaxRow(In(ctx, 0) + i * c, c) == ctx.inputs[1]->i32()[i];
    }
    Out(ctx)[0] = static_cast<float>(correct);
    return absl::OkStatus();
  });
}

void RegisterSoftmax() {
  RegisterOpOrDie({"Softmax", 1, SoftmaxShape, SoftmaxKernel,
                   [](GradContext& c) -> absl::StatusOr<std::vector<Value>> {
                     return std::vector<Value>{c.graph.Op1(
                         "SoftmaxGrad", {c.node.outputs[0], c.output_grads[0]})};
                   }});
  RegisterOpOrDie({"SoftmaxGrad", 2, SoftmaxShape, SoftmaxGradKernel, nullptr});
  RegisterOpOrDie({"LogSoftmax", 1, SoftmaxShape, LogSoftmaxKernel,
                   [](GradContext& c) -> absl::StatusOr<std::vector<Value>> {
                     return std::vector<Value>{c.graph.Op1(
                         "LogSoftmaxGrad", {c.node.outputs[0], c.output_grads[0]})};
                   }});
  RegisterOpOrDie({"LogSoftmaxGrad", 2, SoftmaxShape, LogSoftmaxGradKernel, nullptr});
  RegisterOpOrDie({"SoftmaxCrossEntropy", 2, XentShape, XentKernel, XentGrad});
  RegisterOpOrDie({"SoftmaxCrossEntropyGrad", 3, XentGradShape, XentGradKernel, nullptr});
  RegisterOpOrDie({"SoftTargetCrossEntropy", 2, SoftXentShape, SoftXentKernel, SoftXentGrad});
  RegisterOpOrDie({"SoftTargetCrossEntropyGrad", 3, XentGradShape, SoftXentGradKernel, nullptr});
  RegisterOpOrDie({"SoftTargetCrossEntropyTargetsGrad", 2, XentGradShape, SoftXentTargetsGradKernel, nullptr});
  // Not differentiable: no gradient rule, so autodiff reports them if they lie on a needed path.
  RegisterOpOrDie({"Argmax", 1, ArgmaxShape, ArgmaxKernel, nullptr});
  RegisterOpOrDie({"CountCorrect", 2, CountCorrectShape, CountCorrectKernel, nullptr});
}

[[maybe_unused]] const bool registered = (RegisterSoftmax(), true);

}  // namespace

namespace {

// The kernels run over the last axis; another axis is swapped with it there and back.
Value OverAxis(Graph& g, const char* op, Value x, int64_t axis) {
  if (!g.Contains(x)) return Value{};
  const int64_t rank = static_cast<int64_t>(g.shape(x).size());
  if (axis < -rank || axis >= rank) {
    g.RecordError(absl::InvalidArgumentError(absl::StrCat(op, ": axis ", axis, " is out of range for ",
                                                          ShapeString(g.shape(x)))));
    return Value{};
  }
  if (axis < 0) axis += rank;
  if (axis == rank - 1) return g.Op1(op, {x});
  std::vector<int64_t> swap(rank);
  for (int64_t i = 0; i < rank; ++i) swap[i] = i;
  std::swap(swap[axis], swap[rank - 1]);
  return Transpose(g, g.Op1(op, {Transpose(g, x, swap)}), swap);
}

}  // namespace

Value Softmax(Graph& g, Value x, int64_t axis) { return OverAxis(g, "Softmax", x, axis); }
Value LogSoftmax(Graph& g, Value x, int64_t axis) { return OverAxis(g, "LogSoftmax", x, axis); }
Value SoftmaxCrossEntropy(Graph& g, Value logits, Value labels, double label_smoothing) {
  if (!g.Contains(logits) || !g.Contains(labels)) return Value{};
  const Shape shape = g.shape(logits);  // a copy: adding nodes may move the graph's shapes
  if (shape.size() > 2) {
    // A sequence's tokens are rows: [*, classes] against labels [*], mean over all of them.
    const Shape expected(shape.begin(), shape.end() - 1);
    if (g.shape(labels) != expected) {
      g.RecordError(absl::InvalidArgumentError(absl::StrCat(
          "SoftmaxCrossEntropy: labels must be ", ShapeString(expected), " to match the logits ", ShapeString(shape),
          ", found ", ShapeString(g.shape(labels)))));
      return Value{};
    }
    logits = Reshape(g, logits, {-1, shape.back()});
    labels = Reshape(g, labels, {-1});
  }
  Attrs attrs;
  if (label_smoothing != 0.0) attrs.Set("label_smoothing", label_smoothing);
  return g.Op("SoftmaxCrossEntropy", {logits, labels}, std::move(attrs))[0];
}
Value SoftTargetCrossEntropy(Graph& g, Value logits, Value targets, double label_smoothing) {
  Attrs attrs;
  if (label_smoothing != 0.0) attrs.Set("label_smoothing", label_smoothing);
  return g.Op("SoftTargetCrossEntropy", {logits, targets}, std::move(attrs))[0];
}
Value Argmax(Graph& g, Value logits) { return g.Op1("Argmax", {logits}); }
Value CountCorrect(Graph& g, Value logits, Value labels) {
  return g.Op1("CountCorrect", {logits, labels});
}

}  // namespace dlf::ops
