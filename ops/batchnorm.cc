// BatchNorm2d with oneDNN's batch_normalization: forward in training mode (batch statistics,
// running statistics updated), forward in inference mode (running statistics), backward with
// scale and shift. As PyTorch: y = (x - mean) / sqrt(var + eps) * weight + bias over each
// channel of [n, c, h, w]; running = (1 - momentum) * running + momentum * batch, with the
// unbiased batch variance; num_batches_tracked counts the training steps.
#include <algorithm>
#include <cstring>

#include "ops/op_util.h"
#include "ops/ops.h"

namespace dlf::ops {
namespace {

using flags = dnnl::normalization_flags;

struct BnAttrs {
  double eps, momentum;
};

absl::StatusOr<BnAttrs> GetBnAttrs(const Attrs& attrs) {
  BnAttrs a{attrs.GetOr<double>("eps", 1e-5), attrs.GetOr<double>("momentum", 0.1)};
  DLF_RETURN_IF_ERROR(Expect(a.eps > 0, absl::StrCat("eps must be > 0, found ", a.eps)));
  DLF_RETURN_IF_ERROR(Expect(a.momentum >= 0 && a.momentum <= 1,
                             absl::StrCat("momentum must be in [0, 1], found ", a.momentum)));
  return a;
}

// BatchNorm(x, weight, bias, running_mean, running_var, num_batches_tracked)
//   -> (y, mean, var): the statistics used (the batch's in training, the running ones else).
absl::StatusOr<std::vector<ValueInfo>> BatchNormShape(const ShapeContext& ctx) {
  DLF_RETURN_IF_ERROR(ExpectF32(ctx.inputs[0], "x"));
  DLF_RETURN_IF_ERROR(ExpectRank(ctx.inputs[0], 4, "x [n, c, h, w]"));
  const int64_t c = ctx.inputs[0].shape[1];
  const char* names[] = {"weight", "bias", "running_mean", "running_var"};
  for (int i = 1; i <= 4; ++i) {
    DLF_RETURN_IF_ERROR(ExpectF32(ctx.inputs[i], names[i - 1]));
    DLF_RETURN_IF_ERROR(Expect(ctx.inputs[i].shape == Shape{c},
                               absl::StrCat(names[i - 1], " must be [", c, "], found ",
                                            ShapeString(ctx.inputs[i].shape))));
  }
  DLF_RETURN_IF_ERROR(Expect(ctx.inputs[5].dtype == DType::kI64 && ctx.inputs[5].shape.empty(),
                             "num_batches_tracked must be an i64 scalar"));
  DLF_RETURN_IF_ERROR(GetBnAttrs(ctx.attrs).status());
  const ValueInfo stat{DType::kF32, {c}};
  return std::vector<ValueInfo>{ctx.inputs[0], stat, stat};
}

// oneDNN's batch normalization is several times faster on the channel-blocked layout
// (BlockedDesc) than on plain NCHW; tensors in another layout are staged into it (see
// DnnlKernel) when the channels divide into blocks.
// In bf16 (`type`: the input's, as its producer wrote it) the normalization reads and writes bf16
// and computes in f32 inside.
dnnl::memory::desc BnLayout(const Shape& x, dnnl::memory::data_type type = dnnl::memory::data_type::f32) {
  return BlockedDesc(x, type);
}

// Batch statistics in training mode; the running ones in inference mode (also a frozen layer,
// kInferenceModeAttr, inside a training step).
// With `relu` the forward applies a following ReLU itself (oneDNN's fuse_norm_relu; the fuse
// pass's post-op): the ReLU's output is written in one pass, and in training a bit mask of it
// goes to a workspace the kernel keeps (the backward reads the ReLU's output instead).
flags BnFlags(bool training, bool relu = false) {
  const flags f = training ? flags::use_scale | flags::use_shift
                           : flags::use_scale | flags::use_shift | flags::use_global_stats;
  return relu ? f | flags::fuse_norm_relu : f;
}

dnnl::batch_normalization_forward::primitive_desc ForwardPd(const dnnl::engine& e,
                                                            const Shape& x, double eps,
                                                            bool training, dnnl::prop_kind prop,
                                                            bool relu = false,
                                                            dnnl::memory::data_type type = dnnl::memory::data_type::f32) {
  using fwd = dnnl::batch_normalization_forward;
  return fwd::primitive_desc(fwd::desc(prop, BnLayout(x, type), static_cast<float>(eps), BnFlags(training, relu)), e);
}

// Runs the primitive, then (training) updates the running statistics in the graph's buffers,
// or (inference) reports the running statistics it used as outputs 1 and 2.
class BatchNormKernel : public Kernel {
 public:
  BatchNormKernel(std::unique_ptr<DnnlKernel> primitive, BnAttrs attrs, int64_t per_channel)
      : primitive_(std::move(primitive)), attrs_(attrs), per_channel_(per_channel) {}

  int64_t scratch_bytes() const override { return primitive_->scratch_bytes(); }
  int reorders_per_run() const override { return primitive_->reorders_per_run(); }
  dnnl::memory::desc output_layout(int i) const override { return primitive_->output_layout(i); }

  absl::Status Run(RunContext& ctx) override {
    DLF_RETURN_IF_ERROR(primitive_->Run(ctx));
    ctx.stream->wait();
    const int64_t c = ctx.outputs[1]->num_elements();
    if (!ctx.training) {
      std::memcpy(Out(ctx, 1), In(ctx, 3), c * sizeof(float));
      std::memcpy(Out(ctx, 2), In(ctx, 4), c * sizeof(float));
      return absl::OkStatus();
    }
    const float m = static_cast<float>(attrs_.momentum);
    const double unbias = per_channel_ > 1 ? static_cast<double>(per_channel_) / (per_channel_ - 1) : 1.0;
    float* running_mean = ctx.state[0]->f32();
    float* running_var = ctx.state[1]->f32();
    for (int64_t i = 0; i < c; ++i) {
      running_mean[i] = (1 - m) * running_mean[i] + m * Out(ctx, 1)[i];
      running_var[i] = (1 - m) * running_var[i] + m * static_cast<float>(Out(ctx, 2)[i] * unbias);
    }
    ctx.state[2]->i64()[0] += 1;
    return absl::OkStatus();
  }

 private:
  std::unique_ptr<DnnlKernel> primitive_;
  BnAttrs attrs_;
  int64_t per_channel_;  // elements per channel in a batch: n * h * w
};

absl::StatusOr<std::unique_ptr<Kernel>> BatchNormKernelFactory(const KernelContext& k) {
  DLF_ASSIGN_OR_RETURN(const BnAttrs attrs, GetBnAttrs(k.node.attrs));
  const Shape& x = k.inputs[0].shape;
  const bool relu = k.post_ops.size() == 1 && k.post_ops[0].op == "relu";
  DLF_RETURN_IF_ERROR(Expect(relu || k.post_ops.empty(), "batch normalization fuses only a ReLU"));
  const dnnl::memory::data_type type = InputType(k, 0);
  DLF_ASSIGN_OR_RETURN(auto pd, TryDnnl([&] {
    return ForwardPd(k.engine, x, attrs.eps, k.training,
                     k.training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference,
                     relu, type);
  },
                                        "batch normalization forward"));
  auto primitive = std::make_unique<DnnlKernel>(dnnl::batch_normalization_forward(pd), k);
  const dnnl::memory::desc data = PlainDesc(x), staged = BnLayout(x, type), channel = PlainDesc({x[1]});
  primitive->BindInput(DNNL_ARG_SRC, 0, data, staged);
  primitive->BindInput(DNNL_ARG_SCALE, 1, channel);
  primitive->BindInput(DNNL_ARG_SHIFT, 2, channel);
  primitive->BindOutput(DNNL_ARG_DST, 0, data, staged);
  if (k.training) {
    primitive->BindOutput(DNNL_ARG_MEAN, 1, channel);
    primitive->BindOutput(DNNL_ARG_VARIANCE, 2, channel);
    if (relu) primitive->BindOwned(DNNL_ARG_WORKSPACE, pd.workspace_desc());
  } else {
    primitive->BindInput(DNNL_ARG_MEAN, 3, channel);
    primitive->BindInput(DNNL_ARG_VARIANCE, 4, channel);
  }
  return std::make_unique<BatchNormKernel>(std::move(primitive), attrs, x[0] * x[2] * x[3]);
}

// BatchNormGrad(dy, x, weight, mean, var, bias) -> (dx, dweight, dbias) with the statistics
// the forward used: the batch's (training mode), or the running ones of a layer in inference
// mode, which are constants (dx = dy * weight / sqrt(var + eps)). oneDNN 2.6's backward with
// use_shift reads the shift too, though it does not change the result.
absl::StatusOr<std::vector<ValueInfo>> BatchNormGradShape(const ShapeContext& ctx) {
  return std::vector<ValueInfo>{ctx.inputs[1], ctx.inputs[2], ctx.inputs[2]};
}

absl::StatusOr<std::unique_ptr<Kernel>> BatchNormGradKernel(const KernelContext& k) {
  DLF_ASSIGN_OR_RETURN(const BnAttrs attrs, GetBnAttrs(k.node.attrs));
  const Shape& x = k.inputs[1].shape;
  const dnnl::memory::data_type type = InputType(k, 1);  // x's: dy and dx take it too
  const dnnl::memory::desc data = PlainDesc(x), staged = BnLayout(x, type), channel = PlainDesc({x[1]});
  DLF_ASSIGN_OR_RETURN(auto pd, TryDnnl([&] {
    auto hint = ForwardPd(k.engine, x, attrs.eps, k.training, dnnl::prop_kind::forward_training, false, type);
    using bwd = dnnl::batch_normalization_backward;
    return bwd::primitive_desc(bwd::desc(dnnl::prop_kind::backward, staged, staged,
                                         static_cast<float>(attrs.eps), BnFlags(k.training)),
                               k.engine, hint);
  }, "batch normalization backward"));
  auto kernel = std::make_unique<DnnlKernel>(dnnl::batch_normalization_backward(pd), k);
  kernel->BindInput(DNNL_ARG_DIFF_DST, 0, data, staged);
  kernel->BindInput(DNNL_ARG_SRC, 1, data, staged);
  kernel->BindInput(DNNL_ARG_SCALE, 2, channel);
  kernel->BindInput(DNNL_ARG_MEAN, 3, channel);
  kernel->BindInput(DNNL_ARG_VARIANCE, 4, channel);
  kernel->BindInput(DNNL_ARG_SHIFT, 5, channel);
  kernel->BindOutput(DNNL_ARG_DIFF_SRC, 0, data, staged);
  kernel->BindOutput(DNNL_ARG_DIFF_SCALE, 1, channel);
  kernel->BindOutput(DNNL_ARG_DIFF_SHIFT, 2, channel);
  return kernel;
}

void RegisterBatchNorm() {
  RegisterOpOrDie({.name = "BatchNorm",
                   .num_inputs = 6,
                   .shape = BatchNormShape,
                   .kernel = BatchNormKernelFactory,
                   .gradient = NormalizationGrad("BatchNormGrad"),
                   .state_inputs = {3, 4, 5},
                   .accepts_post_ops = true,
                   .accepts_only_relu = true,
                   .any_layout = true});
  RegisterOpOrDie({.name = "BatchNormGrad",
                   .num_inputs = 6,
                   .shape = BatchNormGradShape,
                   .kernel = BatchNormGradKernel,
                   .any_layout = true});
}

[[maybe_unused]] const bool registered = (RegisterBatchNorm(), true);

}  // namespace

Value BatchNorm2d(Graph& g, Value x, const std::string& name, BatchNormOptions options) {
  if (!g.Contains(x)) return Value{};
  if (g.shape(x).size() != 4) {
    g.RecordError(absl::InvalidArgumentError(absl::StrCat(
        "BatchNorm2d '", name, "': x must be [n, c, h, w], found ", ShapeString(g.shape(x)))));
    return Value{};
  }
  const int64_t c = g.shape(x)[1];
  Value weight = g.Parameter(name + ".weight", {c}, Initializer::Constant(1.0f));
  Value bias = g.Parameter(name + ".bias", {c}, Initializer::Zeros());
  Value mean = g.Buffer(name + ".running_mean", DType::kF32, {c}, 0.0f);
  Value var = g.Buffer(name + ".running_var", DType::kF32, {c}, 1.0f);
  Value count = g.Buffer(name + ".num_batches_tracked", DType::kI64, {});
  return g.Op("BatchNorm", {x, weight, bias, mean, var, count},
              {{"eps", options.eps}, {"momentum", options.momentum}})[0];
}

}  // namespace dlf::ops
