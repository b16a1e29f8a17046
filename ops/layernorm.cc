// LayerNorm with oneDNN's layer_normalization, as torch.nn.functional.layer_norm: each row of the
// last `normalized_rank` axes of x is normalized by its own mean and (biased) variance,
// y = (x - mean) / sqrt(var + eps) * weight + bias, with weight and bias of those axes' shape.
// Any leading axes: a plain row-major tensor is a [rows, features] matrix to oneDNN, whichever
// its rank, so one 2-D descriptor serves a GPT's [B, T, C] and a ConvNeXt's [N, H, W, C].
#include <vector>

#include "ops/op_util.h"
#include "ops/ops.h"

namespace dlf::ops {
namespace {

using flags = dnnl::normalization_flags;
const flags kAffine = flags::use_scale | flags::use_shift;

struct LnAttrs {
  double eps;
  int64_t normalized_rank;  // how many trailing axes form a row
};

absl::StatusOr<LnAttrs> GetLnAttrs(const Attrs& attrs) {
  LnAttrs a{attrs.GetOr<double>("eps", 1e-5), attrs.GetOr<int64_t>("normalized_rank", 1)};
  DLF_RETURN_IF_ERROR(Expect(a.eps > 0, absl::StrCat("eps must be > 0, found ", a.eps)));
  DLF_RETURN_IF_ERROR(Expect(a.normalized_rank >= 1,
                             absl::StrCat("normalized_rank must be >= 1, found ", a.normalized_rank)));
  return a;
}

// x's shape split into the leading axes (one statistic each) and the normalized row.
struct Rows {
  Shape leading, row;
  int64_t count() const { return NumElements(leading); }
  int64_t width() const { return NumElements(row); }
};

absl::StatusOr<Rows> SplitRows(const Shape& x, int64_t normalized_rank) {
  DLF_RETURN_IF_ERROR(Expect(static_cast<int64_t>(x.size()) >= normalized_rank,
                             absl::StrCat("x must have at least ", normalized_rank,
                                          " axes (the normalized ones), found ", ShapeString(x))));
  const auto split = x.end() - normalized_rank;
  return Rows{Shape(x.begin(), split), Shape(split, x.end())};
}

// LayerNorm(x, weight, bias) -> (y, mean, var): the statistics of each row, shaped as the leading
// axes, which the backward pass reads.
absl::StatusOr<std::vector<ValueInfo>> LayerNormShape(const ShapeContext& ctx) {
  DLF_ASSIGN_OR_RETURN(const LnAttrs attrs, GetLnAttrs(ctx.attrs));
  DLF_RETURN_IF_ERROR(ExpectF32(ctx.inputs[0], "x"));
  DLF_ASSIGN_OR_RETURN(const Rows rows, SplitRows(ctx.inputs[0].shape, attrs.normalized_rank));
  const char* names[] = {"weight", "bias"};
  for (int i = 1; i <= 2; ++i) {
    DLF_RETURN_IF_ERROR(ExpectF32(ctx.inputs[i], names[i - 1]));
    DLF_RETURN_IF_ERROR(Expect(ctx.inputs[i].shape == rows.row,
                               absl::StrCat(names[i - 1], " must be ", ShapeString(rows.row),
                                            " (x's last ", attrs.normalized_rank, " axes), found ",
                                            ShapeString(ctx.inputs[i].shape))));
  }
  const ValueInfo stat{DType::kF32, rows.leading};
  return std::vector<ValueInfo>{ctx.inputs[0], stat, stat};
}

struct LnDescs {
  dnnl::memory::desc data, stat, row;
};

LnDescs Descs(const Rows& rows) {
  return {PlainDesc({rows.count(), rows.width()}), PlainDesc({rows.count()}), PlainDesc({rows.width()})};
}

dnnl::layer_normalization_forward::primitive_desc ForwardPd(const dnnl::engine& e, const LnDescs& d, double eps) {
  using fwd = dnnl::layer_normalization_forward;
  return fwd::primitive_desc(
      fwd::desc(dnnl::prop_kind::forward_training, d.data, d.stat, static_cast<float>(eps), kAffine), e);
}

// Always the training forward: it writes the statistics (outputs 1 and 2) in inference too, which
// costs two floats per row.
absl::StatusOr<std::unique_ptr<Kernel>> LayerNormKernel(const KernelContext& k) {
  DLF_ASSIGN_OR_RETURN(const LnAttrs attrs, GetLnAttrs(k.node.attrs));
  DLF_ASSIGN_OR_RETURN(const Rows rows, SplitRows(k.inputs[0].shape, attrs.normalized_rank));
  const LnDescs d = Descs(rows);
  DLF_ASSIGN_OR_RETURN(auto pd, TryDnnl([&] { return ForwardPd(k.engine, d, attrs.eps); },
                                        "layer normalization forward"));
  auto kernel = std::make_unique<DnnlKernel>(dnnl::layer_normalization_forward(pd), k);
  kernel->BindInput(DNNL_ARG_SRC, 0, d.data);
  kernel->BindInput(DNNL_ARG_SCALE, 1, d.row);
  kernel->BindInput(DNNL_ARG_SHIFT, 2, d.row);
  kernel->BindOutput(DNNL_ARG_DST, 0, d.data);
  kernel->BindOutput(DNNL_ARG_MEAN, 1, d.stat);
  kernel->BindOutput(DNNL_ARG_VARIANCE, 2, d.stat);
  return kernel;
}

// LayerNormGrad(dy, x, weight, mean, var, bias) -> (dx, dweight, dbias). oneDNN 2.6's backward
// with use_shift binds the shift, though it does not change the result.
absl::StatusOr<std::vector<ValueInfo>> LayerNormGradShape(const ShapeContext& ctx) {
  return std::vector<ValueInfo>{ctx.inputs[1], ctx.inputs[2], ctx.inputs[2]};
}

absl::StatusOr<std::unique_ptr<Kernel>> LayerNormGradKernel(const KernelContext& k) {
  DLF_ASSIGN_OR_RETURN(const LnAttrs attrs, GetLnAttrs(k.node.attrs));
  DLF_ASSIGN_OR_RETURN(const Rows rows, SplitRows(k.inputs[1].shape, attrs.normalized_rank));
  const LnDescs d = Descs(rows);
  DLF_ASSIGN_OR_RETURN(auto pd, TryDnnl([&] {
    using bwd = dnnl::layer_normalization_backward;
    return bwd::primitive_desc(
        bwd::desc(dnnl::prop_kind::backward, d.data, d.data, d.stat, static_cast<float>(attrs.eps), kAffine),
        k.engine, ForwardPd(k.engine, d, attrs.eps));
  }, "layer normalization backward"));
  auto kernel = std::make_unique<DnnlKernel>(dnnl::layer_normalization_backward(pd), k);
  kernel->BindInput(DNNL_ARG_DIFF_DST, 0, d.data);
  kernel->BindInput(DNNL_ARG_SRC, 1, d.data);
  kernel->BindInput(DNNL_ARG_SCALE, 2, d.row);
  kernel->BindInput(DNNL_ARG_MEAN, 3, d.stat);
  kernel->BindInput(DNNL_ARG_VARIANCE, 4, d.stat);
  kernel->BindInput(DNNL_ARG_SHIFT, 5, d.row);
  kernel->BindOutput(DNNL_ARG_DIFF_SRC, 0, d.data);
  kernel->BindOutput(DNNL_ARG_DIFF_SCALE, 1, d.row);
  kernel->BindOutput(DNNL_ARG_DIFF_SHIFT, 2, d.row);
  return kernel;
}

void RegisterLayerNorm() {
  RegisterOpOrDie({.name = "LayerNorm", .num_inputs = 3, .shape = LayerNormShape, .kernel = LayerNormKernel,
                   .gradient = NormalizationGrad("LayerNormGrad")});
  RegisterOpOrDie({.name = "LayerNormGrad", .num_inputs = 6, .shape = LayerNormGradShape,
                   .kernel = LayerNormGradKernel});
}

[[maybe_unused]] const bool registered = (RegisterLayerNorm(), true);

}  // namespace

Value LayerNorm(Graph& g, Value x, const std::string& name, LayerNormOptions options) {
  if (!g.Contains(x)) return Value{};
  const Shape shape = g.shape(x);  // a copy: adding nodes may move the graph's shapes
  if (options.normalized_rank < 1 || static_cast<int64_t>(shape.size()) < options.normalized_rank) {
    g.RecordError(absl::InvalidArgumentError(absl::StrCat("LayerNorm '", name, "': x must have at least ",
                                                          options.normalized_rank, " axes, found ",
                                                          ShapeString(shape))));
    return Value{};
  }
  const Shape row(shape.end() - options.normalized_rank, shape.end());
  const Value weight = options.affine ? g.Parameter(name + ".weight", row, Initializer::Constant(1.0f))
                                      : g.Constant(Tensor::F32(row, std::vector<float>(NumElements(row), 1.0f)), name + ".weight");
  const Value bias = options.affine && options.bias ? g.Parameter(name + ".bias", row, Initializer::Zeros())
                                                    : g.Constant(Tensor(DType::kF32, row), name + ".bias");
  return g.Op("LayerNorm", {x, weight, bias},
              {{"eps", options.eps}, {"normalized_rank", options.normalized_rank}})[0];
}

Value LayerNorm2d(Graph& g, Value x, const std::string& name, LayerNormOptions options) {
  if (!g.Contains(x)) return Value{};
  if (g.shape(x).size() != 4) {
    g.RecordError(absl::InvalidArgumentError(absl::StrCat(
        "LayerNorm2d '", name, "': x must be [n, c, h, w], found ", ShapeString(g.shape(x)))));
    return Value{};
  }
  options.normalized_rank = 1;
  const Value nhwc = Transpose(g, x, {0, 2, 3, 1});
  return Transpose(g, LayerNorm(g, nhwc, name, options), {0, 3, 1, 2});
}

}  // namespace dlf::ops
