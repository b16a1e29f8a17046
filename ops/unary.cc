// Element-wise math and activations: Exp, Log, Sqrt, Neg, Abs, Square, Pow, Clip, Erf,
// LeakyReLU, ELU, GELU (erf and tanh forms), SiLU, Softplus, HardSigmoid, HardSwish.
//
// Each op is a pair of scalar functions, y = f(x) and dy/dx = df(x), with up to two scalar
// attributes (p, q); its gradient is "<op>Grad"(dy, x) = dy * df(x). On plain tensors our own
// loops: one pass over memory that GCC vectorizes, no primitive per shape. An op oneDNN's eltwise
// computes too takes any layout: on a blocked input (a convolution's or batch normalization's
// output) it runs as that eltwise primitive, forward and backward, in the input's layout, so a
// MobileNet's ReLU6 between two convolutions costs no reorders.
#include <cmath>

#include "ops/op_util.h"
#include "ops/ops.h"

namespace dlf::ops {
namespace {

constexpr float kSqrt1_2 = 0.70710678118654752f;     // 1/sqrt(2)
constexpr float kInvSqrt2Pi = 0.39894228040143268f;  // 1/sqrt(2 pi)
constexpr float kSqrt2OverPi = 0.79788456080286536f;

inline float Sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

struct Params {
  float p = 0, q = 0;
};

absl::StatusOr<Params> GetParams(const Attrs& attrs) {
  return Params{static_cast<float>(attrs.GetOr<double>("p", 0.0)),
                static_cast<float>(attrs.GetOr<double>("q", 0.0))};
}

absl::StatusOr<std::vector<ValueInfo>> F32Like(const ShapeContext& ctx) {
  for (const ValueInfo& v : ctx.inputs) DLF_RETURN_IF_ERROR(ExpectF32(v, "the input"));
  return std::vector<ValueInfo>{ctx.inputs.back()};
}

// The oneDNN eltwise algorithm computing an op, and its alpha and beta from the op's (p, q). Only
// where oneDNN 2.6.3 has jit kernels for both directions on padded blocked layouts (not Exp, Log,
// Sqrt, HardSwish: a forward with f(0) != 0 or a backward that are reference loops there).
struct Eltwise {
  dnnl::algorithm algorithm = dnnl::algorithm::undef;  // undef: the loops only, plain layout
  std::pair<float, float> (*alpha_beta)(Params) = nullptr;  // null: 0, 0
  // The primitive on plain tensors too: its jit kernels vectorize what GCC leaves scalar in our
  // loop (std::erf: GELU, a transformer MLP's activation).
  bool on_plain = false;
  bool any_layout() const { return algorithm != dnnl::algorithm::undef; }
  bool used_for(const KernelContext& k) const { return any_layout() && (on_plain || AnyBlockedInput(k)); }
};

dnnl::eltwise_forward::primitive_desc EltwiseForwardPd(const Eltwise& e, Params prm, const dnnl::memory::desc& x,
                                                       const dnnl::engine& engine) {
  const auto [alpha, beta] = e.alpha_beta ? e.alpha_beta(prm) : std::pair{0.0f, 0.0f};
  return dnnl::eltwise_forward::primitive_desc({dnnl::prop_kind::forward_training, e.algorithm, x, alpha, beta},
                                               engine);
}

// y = f(x) on x's blocked layout.
absl::StatusOr<std::unique_ptr<Kernel>> EltwiseForwardKernel(const KernelContext& k, const Eltwise& e, Params prm) {
  const dnnl::memory::desc plain = PlainDesc(k.inputs[0].shape);
  DLF_ASSIGN_OR_RETURN(auto pd, TryDnnl([&] { return EltwiseForwardPd(e, prm, InputLayout(k, 0, plain), k.engine); },
                                        "eltwise forward"));
  auto kernel = std::make_unique<DnnlKernel>(dnnl::eltwise_forward(pd), k);
  kernel->BindInput(DNNL_ARG_SRC, 0, plain, pd.src_desc());
  kernel->BindOutput(DNNL_ARG_DST, 0, plain, pd.dst_desc());
  return kernel;
}

// dx = dy * df(x) on x's (input 1's) layout; dy is read in it too.
absl::StatusOr<std::unique_ptr<Kernel>> EltwiseBackwardKernel(const KernelContext& k, const Eltwise& e, Params prm) {
  const dnnl::memory::desc plain = PlainDesc(k.inputs[1].shape);
  const dnnl::memory::desc x = InputLayout(k, 1, plain);
  // A pair, not a structured binding: C++17 lambdas cannot capture those (clang refuses).
  const std::pair<float, float> alpha_beta = e.alpha_beta ? e.alpha_beta(prm) : std::pair{0.0f, 0.0f};
  DLF_ASSIGN_OR_RETURN(auto pd, TryDnnl([&] {
    return dnnl::eltwise_backward::primitive_desc({e.algorithm, x, x, alpha_beta.first, alpha_beta.second}, k.engine,
                                                  EltwiseForwardPd(e, prm, x, k.engine));
  }, "eltwise backward"));
  auto kernel = std::make_unique<DnnlKernel>(dnnl::eltwise_backward(pd), k);
  kernel->BindInput(DNNL_ARG_DIFF_DST, 0, plain, pd.diff_dst_desc());
  kernel->BindInput(DNNL_ARG_SRC, 1, plain, pd.src_desc());
  kernel->BindOutput(DNNL_ARG_DIFF_SRC, 0, plain, pd.diff_src_desc());
  return kernel;
}

// F and DF are stateless lambdas float(float x, Params), inlined into the loops.
// `post_op`: the oneDNN eltwise post-op that computes the same (OpDef::post_op), if any.
template <typename F, typename DF>
void RegisterUnary(const std::string& name, F f, DF df, Eltwise eltwise = {}, const std::string& post_op = "") {
  KernelFactory forward = [f, eltwise](const KernelContext& k) -> absl::StatusOr<std::unique_ptr<Kernel>> {
    DLF_ASSIGN_OR_RETURN(const Params prm, GetParams(k.node.attrs));
    if (eltwise.used_for(k)) return EltwiseForwardKernel(k, eltwise, prm);
    return std::make_unique<FunctionKernel>([f, prm](RunContext& ctx) {
      const float* x = In(ctx, 0);
      float* y = Out(ctx);
      const int64_t n = Size(ctx);
#pragma omp parallel for simd schedule(static)
      for (int64_t i = 0; i < n; ++i) y[i] = f(x[i], prm);
      return absl::OkStatus();
    });
  };
  KernelFactory backward = [df, eltwise](const KernelContext& k) -> absl::StatusOr<std::unique_ptr<Kernel>> {
    DLF_ASSIGN_OR_RETURN(const Params prm, GetParams(k.node.attrs));
    if (eltwise.used_for(k)) return EltwiseBackwardKernel(k, eltwise, prm);
    return std::make_unique<FunctionKernel>([df, prm](RunContext& ctx) {
      const float* dy = In(ctx, 0);
      const float* x = In(ctx, 1);
      float* dx = Out(ctx);
      const int64_t n = Size(ctx);
#pragma omp parallel for simd schedule(static)
      for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * df(x[i], prm);
      return absl::OkStatus();
    });
  };
  const std::string grad_name = name + "Grad";
  GradFn grad = [grad_name](GradContext& c) -> absl::StatusOr<std::vector<Value>> {
    return std::vector<Value>{
        c.graph.Op1(grad_name, {c.output_grads[0], c.node.inputs[0]}, c.node.attrs)};
  };
  RegisterOpOrDie({.name = name, .num_inputs = 1, .shape = F32Like, .kernel = forward, .gradient = grad,
                   .post_op = post_op, .any_layout = eltwise.any_layout()});
  RegisterOpOrDie({.name = grad_name, .num_inputs = 2, .shape = F32Like, .kernel = backward,
                   .any_layout = eltwise.any_layout()});
}

void RegisterAll() {
  RegisterUnary("Exp", [](float x, Params) { return std::exp(x); },
                [](float x, Params) { return std::exp(x); });
  RegisterUnary("Log", [](float x, Params) { return std::log(x); },
                [](float x, Params) { return 1.0f / x; });
  RegisterUnary("Sqrt", [](float x, Params) { return std::sqrt(x); },
                [](float x, Params) { return 0.5f / std::sqrt(x); });
  RegisterUnary("Neg", [](float x, Params) { return -x; }, [](float, Params) { return -1.0f; },
                Eltwise{dnnl::algorithm::eltwise_linear, [](Params) { return std::pair{-1.0f, 0.0f}; }});
  RegisterUnary("Abs", [](float x, Params) { return std::fabs(x); },
                [](float x, Params) { return x > 0 ? 1.0f : x < 0 ? -1.0f : 0.0f; },
                Eltwise{dnnl::algorithm::eltwise_abs});
  RegisterUnary("Square", [](float x, Params) { return x * x; },
                [](float x, Params) { return 2.0f * x; },
                Eltwise{dnnl::algorithm::eltwise_square});
  RegisterUnary("Pow", [](float x, Params a) { return std::pow(x, a.p); },
                [](float x, Params a) { return a.p * std::pow(x, a.p - 1.0f); },
                Eltwise{dnnl::algorithm::eltwise_pow, [](Params a) { return std::pair{1.0f, a.p}; }});
  // As torch.clamp forward; the gradient passes where lo < x < hi, as nn.Hardtanh's and ReLU6's
  // (torch.clamp's passes at the bounds too) and oneDNN's clip_v2. ReLU6 (MobileNet) is
  // Clip(0, 6): in inference after a convolution or linear layer it runs as their post-op.
  RegisterUnary("Clip", [](float x, Params a) { return std::fmin(std::fmax(x, a.p), a.q); },
                [](float x, Params a) { return x > a.p && x < a.q ? 1.0f : 0.0f; },
                Eltwise{dnnl::algorithm::eltwise_clip_v2, [](Params a) { return std::pair{a.p, a.q}; }}, "clip");
  RegisterUnary("LeakyRelu", [](float x, Params a) { return x > 0 ? x : a.p * x; },
                [](float x, Params a) { return x > 0 ? 1.0f : a.p; },
                Eltwise{dnnl::algorithm::eltwise_relu, [](Params a) { return std::pair{a.p, 0.0f}; }});
  RegisterUnary("Elu", [](float x, Params a) { return x > 0 ? x : a.p * (std::exp(x) - 1.0f); },
                [](float x, Params a) { return x > 0 ? 1.0f : a.p * std::exp(x); },
                Eltwise{dnnl::algorithm::eltwise_elu, [](Params a) { return std::pair{a.p, 0.0f}; }});
  // 2 / sqrt(pi) = 2 kInvSqrt2Pi sqrt(2).
  RegisterUnary("Erf", [](float x, Params) { return std::erf(x); },
                [](float x, Params) { return 2.0f * kInvSqrt2Pi * std::sqrt(2.0f) * std::exp(-x * x); });
  RegisterUnary("Gelu", [](float x, Params) { return 0.5f * x * (1.0f + std::erf(x * kSqrt1_2)); },
                [](float x, Params) {
                  return 0.5f * (1.0f + std::erf(x * kSqrt1_2)) +
                         x * kInvSqrt2Pi * std::exp(-0.5f * x * x);
                },
                Eltwise{.algorithm = dnnl::algorithm::eltwise_gelu_erf, .on_plain = true});
  RegisterUnary("GeluTanh",
                [](float x, Params) {
                  return 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * (x + 0.044715f * x * x * x)));
                },
                [](float x, Params) {
                  const float t = std::tanh(kSqrt2OverPi * (x + 0.044715f * x * x * x));
                  return 0.5f * (1.0f + t) +
                         0.5f * x * (1.0f - t * t) * kSqrt2OverPi * (1.0f + 3 * 0.044715f * x * x);
                },
                Eltwise{dnnl::algorithm::eltwise_gelu_tanh});
  RegisterUnary("Silu", [](float x, Params) { return x * Sigmoid(x); },
                [](float x, Params) { const float s = Sigmoid(x); return s * (1.0f + x * (1.0f - s)); },
                Eltwise{dnnl::algorithm::eltwise_swish, [](Params) { return std::pair{1.0f, 0.0f}; }});
  // As torch.nn.Softplus (beta 1, threshold 20): linear above 20, where log1p(exp(x)) == x.
  RegisterUnary("Softplus", [](float x, Params) { return x > 20.0f ? x : std::log1p(std::exp(x)); },
                [](float x, Params) { return Sigmoid(x); });
  // ONNX's HardSigmoid(alpha p, beta q) = max(0, min(1, p x + q)); PyTorch's is p = 1/6, q = 1/2.
  RegisterUnary("HardSigmoid", [](float x, Params a) { return std::fmin(std::fmax(a.p * x + a.q, 0.0f), 1.0f); },
                [](float x, Params a) {
                  const float z = a.p * x + a.q;
                  return z > 0.0f && z < 1.0f ? a.p : 0.0f;
                });
  RegisterUnary("HardSwish",
                [](float x, Params) { return x * std::fmin(std::fmax(x + 3.0f, 0.0f), 6.0f) / 6.0f; },
                [](float x, Params) { return x < -3.0f ? 0.0f : x > 3.0f ? 1.0f : (2.0f * x + 3.0f) / 6.0f; });
}

[[maybe_unused]] const bool registered = (RegisterAll(), true);

Value Apply(Graph& g, const char* op, Value x, double p = 0, double q = 0) {
  Attrs attrs;
  if (p != 0) attrs.Set("p", p);
  if (q != 0) attrs.Set("q", q);
  return g.Op1(op, {x}, std::move(attrs));
}

}  // namespace

Value Exp(Graph& g, Value x) { return Apply(g, "Exp", x); }
Value Log(Graph& g, Value x) { return Apply(g, "Log", x); }
Value Sqrt(Graph& g, Value x) { return Apply(g, "Sqrt", x); }
Value Erf(Graph& g, Value x) { return Apply(g, "Erf", x); }
Value Neg(Graph& g, Value x) { return Apply(g, "Neg", x); }
Value Abs(Graph& g, Value x) { return Apply(g, "Abs", x); }
Value Square(Graph& g, Value x) { return Apply(g, "Square", x); }
Value Pow(Graph& g, Value x, double exponent) { return Apply(g, "Pow", x, exponent); }
Value Clip(Graph& g, Value x, double lo, double hi) {
  if (!(lo <= hi)) {
    g.RecordError(absl::InvalidArgumentError(absl::StrCat("Clip: lo ", lo, " must be <= hi ", hi)));
    return Value{};
  }
  Attrs attrs{{"p", lo}, {"q", hi}};
  return g.Op1("Clip", {x}, std::move(attrs));
}
Value LeakyRelu(Graph& g, Value x, double negative_slope) {
  return Apply(g, "LeakyRelu", x, negative_slope);
}
Value Elu(Graph& g, Value x, double alpha) { return Apply(g, "Elu", x, alpha); }
Value Gelu(Graph& g, Value x, bool tanh_approximation) {
  return Apply(g, tanh_approximation ? "GeluTanh" : "Gelu", x);
}
Value Silu(Graph& g, Value x) { return Apply(g, "Silu", x); }
Value Softplus(Graph& g, Value x) { return Apply(g, "Softplus", x); }
Value HardSwish(Graph& g, Value x) { return Apply(g, "HardSwish", x); }
Value HardSigmoid(Graph& g, Value x, double alpha, double beta) { return Apply(g, "HardSigmoid", x, alpha, beta); }

}  // namespace dlf::ops
