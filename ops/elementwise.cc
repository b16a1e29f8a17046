// Same-shape element-wise ops: AddN (autodiff's sum), Scale, ReLU, sigmoid, tanh, StopGradient.
#include <cmath>
#include <cstring>

#include "graph/autodiff.h"
#include "ops/op_util.h"
#include "ops/ops.h"

namespace dlf::ops {
namespace {

absl::StatusOr<std::vector<ValueInfo>> SameShapeF32(const ShapeContext& ctx) {
  for (size_t i = 0; i < ctx.inputs.size(); ++i) {
    DLF_RETURN_IF_ERROR(ExpectF32(ctx.inputs[i], "every input"));
    DLF_RETURN_IF_ERROR(Expect(ctx.inputs[i].shape == ctx.inputs[0].shape,
                               absl::StrCat("inputs must have the same shape, found ",
                                            ShapeString(ctx.inputs[0].shape), " and ",
                                            ShapeString(ctx.inputs[i].shape))));
  }
  return std::vector<ValueInfo>{ctx.inputs[0]};
}

// A kernel applying `f(inputs[0][i], inputs[1][i], ...)` element by element.
template <typename F>
KernelFactory Unary(F f) {
  return [f](const KernelContext&) -> absl::StatusOr<std::unique_ptr<Kernel>> {
    return std::make_unique<FunctionKernel>([f](RunContext& ctx) {
      const float* x = In(ctx, 0);
      float* y = Out(ctx);
      const int64_t n = Size(ctx);
#pragma omp parallel for simd schedule(static)
      for (int64_t i = 0; i < n; ++i) y[i] = f(x[i]);
      return absl::OkStatus();
    });
  };
}

template <typename F>
KernelFactory Binary(F f) {
  return [f](const KernelContext&) -> absl::StatusOr<std::unique_ptr<Kernel>> {
    return std::make_unique<FunctionKernel>([f](RunContext& ctx) {
      const float* a = In(ctx, 0);
      const float* b = In(ctx, 1);
      float* y = Out(ctx);
      const int64_t n = Size(ctx);
#pragma omp parallel for simd schedule(static)
      for (int64_t i = 0; i < n; ++i) y[i] = f(a[i], b[i]);
      return absl::OkStatus();
    });
  };
}

absl::Status AddNLoop(RunContext& ctx) {
  float* y = Out(ctx);
  const int64_t n = Size(ctx);
  const int k = static_cast<int>(ctx.inputs.size());
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    float s = 0.0f;
    for (int j = 0; j < k; ++j) s += ctx.inputs[j]->f32()[i];
    y[i] = s;
  }
  return absl::OkStatus();
}

// ReLU's eltwise primitive descriptors for data in layout `data` (oneDNN's ReLU backward
// from its output: dx = y > 0 ? dy : 0).
constexpr auto kReluForward = dnnl::algorithm::eltwise_relu;
constexpr auto kReluBackward = dnnl::algorithm::eltwise_relu_use_dst_for_bwd;

dnnl::eltwise_forward::primitive_desc ReluForwardPd(const dnnl::memory::desc& data,
                                                    dnnl::algorithm algo, const dnnl::engine& e) {
  return dnnl::eltwise_forward::primitive_desc({dnnl::prop_kind::forward_training, algo, data, 0.0f}, e);
}

// Relu, ReluGrad and AddN run as loops on plain tensors; when the layout pass gives an input a
// blocked layout (a convolution's or batch normalization's output), as oneDNN primitives in
// that layout (an input in another layout is staged; a free output keeps it).
absl::StatusOr<std::unique_ptr<Kernel>> ReluKernel(const KernelContext& k) {
  if (!AnyBlockedInput(k)) return Unary([](float x) { return x > 0.0f ? x : 0.0f; })(k);
  const dnnl::memory::desc plain = PlainDesc(k.inputs[0].shape);
  const dnnl::memory::desc x = InputLayout(k, 0, plain);
  DLF_ASSIGN_OR_RETURN(auto pd, TryDnnl([&] { return ReluForwardPd(x, kReluForward, k.engine); },
                                        "ReLU forward"));
  auto kernel = std::make_unique<DnnlKernel>(dnnl::eltwise_forward(pd), k);
  kernel->BindInput(DNNL_ARG_SRC, 0, plain, pd.src_desc());
  kernel->BindOutput(DNNL_ARG_DST, 0, plain, pd.dst_desc());
  return kernel;
}

absl::StatusOr<std::unique_ptr<Kernel>> ReluGradKernel(const KernelContext& k) {
  if (!AnyBlockedInput(k)) return Binary([](float dy, float y) { return y > 0.0f ? dy : 0.0f; })(k);
  const dnnl::memory::desc plain = PlainDesc(k.inputs[1].shape);
  const dnnl::memory::desc y = InputLayout(k, 1, plain);
  DLF_ASSIGN_OR_RETURN(auto pd, TryDnnl([&] {
    return dnnl::eltwise_backward::primitive_desc({kReluBackward, y, y, 0.0f}, k.engine,
                                                  ReluForwardPd(y, kReluBackward, k.engine));
  }, "ReLU backward"));
  auto kernel = std::make_unique<DnnlKernel>(dnnl::eltwise_backward(pd), k);
  kernel->BindInput(DNNL_ARG_DIFF_DST, 0, plain, pd.diff_dst_desc());
  kernel->BindInput(DNNL_ARG_DST, 1, plain, pd.dst_desc());
  kernel->BindOutput(DNNL_ARG_DIFF_SRC, 0, plain, pd.diff_src_desc());
  return kernel;
}

// On blocked layouts AddN runs as oneDNN's binary add (inputs 0 and 1, each further one a binary
// post-op), not its sum: for f32 the sum has only generic loops ("simple:any", and "ref:any" when
// the inputs' layouts differ), the binary add is jit-compiled. Every input is read in the first
// blocked input's layout (one stored otherwise is reordered), which the output takes too.
absl::StatusOr<std::unique_ptr<Kernel>> AddNKernel(const KernelContext& k) {
  if (!AnyBlockedInput(k)) return std::make_unique<FunctionKernel>(AddNLoop);
  const dnnl::memory::desc plain = PlainDesc(k.outputs[0].shape);
  dnnl::memory::desc layout = plain;
  for (int i = static_cast<int>(k.inputs.size()) - 1; i >= 0; --i) {
    if (InputLayout(k, i, plain) != plain) layout = InputLayout(k, i, plain);
  }
  dnnl::post_ops more_inputs;
  for (size_t i = 2; i < k.inputs.size(); ++i) more_inputs.append_binary(dnnl::algorithm::binary_add, layout);
  dnnl::primitive_attr attr;
  attr.set_post_ops(more_inputs);
  DLF_ASSIGN_OR_RETURN(auto pd, TryDnnl([&] {
    return dnnl::binary::primitive_desc({dnnl::algorithm::binary_add, layout, layout, layout}, attr,
                                        k.engine);
  }, "binary add"));
  auto kernel = std::make_unique<DnnlKernel>(dnnl::binary(pd), k);
  kernel->BindInput(DNNL_ARG_SRC_0, 0, plain, layout);
  kernel->BindInput(DNNL_ARG_SRC_1, 1, plain, layout);
  for (size_t i = 2; i < k.inputs.size(); ++i) {
    kernel->BindInput(DNNL_ARG_ATTR_MULTIPLE_POST_OP(static_cast<int>(i) - 2) | DNNL_ARG_SRC_1,
                      static_cast<int>(i), plain, layout);
  }
  kernel->BindOutput(DNNL_ARG_DST, 0, plain, layout);
  return kernel;
}

// Gradient of an activation y = f(x) whose derivative is a function of y: dx = Grad(dy, y).
GradFn ActivationGrad(const char* grad_op) {
  return [grad_op](GradContext& c) -> absl::StatusOr<std::vector<Value>> {
    return std::vector<Value>{c.graph.Op1(grad_op, {c.output_grads[0], c.node.outputs[0]})};
  };
}

void RegisterElementwise() {
  RegisterOpOrDie({.name = kAddNOp,
                   .num_inputs = -1,
                   .shape = SameShapeF32,
                   .kernel = AddNKernel,
                   .gradient = [](GradContext& c) -> absl::StatusOr<std::vector<Value>> {
                     return std::vector<Value>(c.node.inputs.size(), c.output_grads[0]);
                   },
                   .any_layout = true});
  RegisterOpOrDie(
      {"Scale", 1, SameShapeF32,
       [](const KernelContext& k) -> absl::StatusOr<std::unique_ptr<Kernel>> {
         DLF_ASSIGN_OR_RETURN(const double factor, k.node.attrs.Get<double>("factor"));
         return Unary([s = static_cast<float>(factor)](float x) { return s * x; })(k);
       },
       [](GradContext& c) -> absl::StatusOr<std::vector<Value>> {
         return std::vector<Value>{
             Scale(c.graph, c.output_grads[0], c.node.attrs.GetOr<double>("factor", 1.0))};
       }});
  RegisterOpOrDie({.name = "Relu",
                   .num_inputs = 1,
                   .shape = SameShapeF32,
                   .kernel = ReluKernel,
                   .gradient = ActivationGrad("ReluGrad"),
                   .post_op = "relu",
                   .in_place = true,
                   .any_layout = true});
  RegisterOpOrDie({.name = "ReluGrad",
                   .num_inputs = 2,
                   .shape = SameShapeF32,
                   .kernel = ReluGradKernel,
                   .in_place = true,
                   .any_layout = true});
  RegisterOpOrDie({"Sigmoid", 1, SameShapeF32,
                   Unary([](float x) { return 1.0f / (1.0f + std::exp(-x)); }),
                   ActivationGrad("SigmoidGrad")});
  RegisterOpOrDie({"SigmoidGrad", 2, SameShapeF32,
                   Binary([](float dy, float y) { return dy * y * (1.0f - y); }), nullptr});
  RegisterOpOrDie({"Tanh", 1, SameShapeF32, Unary([](float x) { return std::tanh(x); }),
                   ActivationGrad("TanhGrad")});
  RegisterOpOrDie({"TanhGrad", 2, SameShapeF32,
                   Binary([](float dy, float y) { return dy * (1.0f - y * y); }), nullptr});
  // Identity forward; its gradient rule returns "no gradient", which cuts the path.
  RegisterOpOrDie({"StopGradient", 1,
                   [](const ShapeContext& c) -> absl::StatusOr<std::vector<ValueInfo>> {
                     return std::vector<ValueInfo>{c.inputs[0]};
                   },
                   [](const KernelContext&) -> absl::StatusOr<std::unique_ptr<Kernel>> {
                     return std::make_unique<FunctionKernel>([](RunContext& ctx) {
                       std::memcpy(ctx.outputs[0]->raw(), ctx.inputs[0]->raw(),
                                   ctx.inputs[0]->num_bytes());
                       return absl::OkStatus();
                     });
                   },
                   [](GradContext& c) -> absl::StatusOr<std::vector<Value>> {
                     return NoGrads(c);
                   }});
}

[[maybe_unused]] const bool registered = (RegisterElementwise(), true);

}  // namespace

Value AddN(Graph& g, std::vector<Value> values) { return g.Op1(kAddNOp, std::move(values)); }
Value Scale(Graph& g, Value x, double factor) { return g.Op1("Scale", {x}, {{"factor", factor}}); }
Value Relu(Graph& g, Value x) { return g.Op1("Relu", {x}); }
Value Sigmoid(Graph& g, Value x) { return g.Op1("Sigmoid", {x}); }
Value Tanh(Graph& g, Value x) { return g.Op1("Tanh", {x}); }
Value StopGradient(Graph& g, Value x) { return g.Op1("StopGradient", {x}); }

}  // namespace dlf::ops
