// Ops that move elements without computing: Transpose, Slice, constant Pad, Concat and Split.
// Their gradients are each other: Slice <-> Pad, Concat <-> Split, Transpose <-> its inverse.
#include <cstring>
#include <numeric>

#include "ops/op_util.h"
#include "ops/ops.h"

namespace dlf::ops {
namespace {

std::vector<int64_t> Strides(const Shape& s) {
  std::vector<int64_t> st(s.size(), 1);
  for (int d = static_cast<int>(s.size()) - 2; d >= 0; --d) st[d] = st[d + 1] * s[d + 1];
  return st;
}

// Copies the box of shape `box` at `src_origin` of src (shape src_shape) to `dst_origin` of
// dst (shape dst_shape), one innermost row at a time.
void CopyBox(const float* src, const Shape& src_shape, const std::vector<int64_t>& src_origin,
             float* dst, const Shape& dst_shape, const std::vector<int64_t>& dst_origin,
             const Shape& box) {
  const int rank = static_cast<int>(box.size());
  if (rank == 0) {
    dst[0] = src[0];
    return;
  }
  const std::vector<int64_t> ss = Strides(src_shape), ds = Strides(dst_shape);
  const int64_t inner = box.back(), rows = NumElements(box) / std::max<int64_t>(inner, 1);
  if (inner == 0) return;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    int64_t so = src_origin[rank - 1], dof = dst_origin[rank - 1], rest = r;
    for (int d = rank - 2; d >= 0; --d) {
      const int64_t i = rest % box[d];
      rest /= box[d];
      so += (src_origin[d] + i) * ss[d];
      dof += (dst_origin[d] + i) * ds[d];
    }
    std::memcpy(dst + dof, src + so, inner * sizeof(float));
  }
}

absl::StatusOr<std::vector<int64_t>> IntList(const Attrs& attrs, const char* name, size_t rank) {
  DLF_ASSIGN_OR_RETURN(std::vector<int64_t> v, attrs.Get<std::vector<int64_t>>(name));
  DLF_RETURN_IF_ERROR(Expect(v.size() == rank, absl::StrCat(name, " needs ", rank, " values (one per axis), found ", v.size())));
  return v;
}

absl::StatusOr<int64_t> Axis(const Attrs& attrs, int rank) {
  DLF_ASSIGN_OR_RETURN(int64_t axis, attrs.Get<int64_t>("axis"));
  DLF_RETURN_IF_ERROR(Expect(axis >= -rank && axis < rank, absl::StrCat("axis ", axis, " is out of range for rank ", rank)));
  return axis < 0 ? axis + rank : axis;
}

// ---- Transpose(x, perm): y.shape[i] = x.shape[perm[i]] ----

absl::StatusOr<std::vector<ValueInfo>> TransposeShape(const ShapeContext& ctx) {
  DLF_RETURN_IF_ERROR(ExpectF32(ctx.inputs[0], "x"));
  const Shape& in = ctx.inputs[0].shape;
  DLF_ASSIGN_OR_RETURN(const std::vector<int64_t> perm, IntList(ctx.attrs, "perm", in.size()));
  std::vector<int64_t> sorted = perm;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> iota(in.size());
  std::iota(iota.begin(), iota.end(), 0);
  DLF_RETURN_IF_ERROR(Expect(sorted == iota, "perm must be a permutation of the axes"));
  Shape out;
  for (int64_t p : perm) out.push_back(in[p]);
  return std::vector<ValueInfo>{{DType::kF32, out}};
}

// A oneDNN reorder (jit) from the input read through permuted strides to the plain output; the
// loop below only for what oneDNN does not take (a scalar, an empty tensor).
absl::StatusOr<std::unique_ptr<Kernel>> TransposeKernel(const KernelContext& k) {
  const Shape out = k.outputs[0].shape;
  const std::vector<int64_t> perm = *k.node.attrs.Get<std::vector<int64_t>>("perm");
  const std::vector<int64_t> in_strides = Strides(k.inputs[0].shape);
  std::vector<int64_t> strides;  // the input stride of each output axis
  for (int64_t p : perm) strides.push_back(in_strides[p]);
  if (!out.empty() && NumElements(out) > 0 && out.size() <= DNNL_MAX_NDIMS) {
    const dnnl::memory::desc view(dnnl::memory::dims(out.begin(), out.end()), dnnl::memory::data_type::f32,
                                  dnnl::memory::dims(strides.begin(), strides.end()));
    const dnnl::memory::desc plain = PlainDesc(out);
    DLF_ASSIGN_OR_RETURN(auto pd, TryDnnl([&] {
      return dnnl::reorder::primitive_desc(k.engine, view, k.engine, plain);
    }, "transpose reorder"));
    auto kernel = std::make_unique<DnnlKernel>(dnnl::reorder(pd), k);
    kernel->BindInput(DNNL_ARG_SRC, 0, view);
    kernel->BindOutput(DNNL_ARG_DST, 0, plain);
    return kernel;
  }
  return std::make_unique<FunctionKernel>([out, strides](RunContext& ctx) {
    const float* x = In(ctx, 0);
    float* y = Out(ctx);
    const int rank = static_cast<int>(out.size());
    const int64_t inner = rank ? out.back() : 1, rows = Size(ctx) / std::max<int64_t>(inner, 1);
    const int64_t step = rank ? strides.back() : 0;
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      int64_t off = 0, rest = r;
      for (int d = rank - 2; d >= 0; --d) {
        off += (rest % out[d]) * strides[d];
        rest /= out[d];
      }
      for (int64_t j = 0; j < inner; ++j) y[r * inner + j] = x[off + j * step];
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<Value>> TransposeGrad(GradContext& c) {
  const std::vector<int64_t> perm = *c.node.attrs.Get<std::vector<int64_t>>("perm");
  std::vector<int64_t> inverse(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) inverse[perm[i]] = static_cast<int64_t>(i);
  return std::vector<Value>{Transpose(c.graph, c.output_grads[0], inverse)};
}

// ---- Slice(x, begin, size) and Pad(x, before, after, value) ----

absl::StatusOr<std::vector<ValueInfo>> SliceShape(const ShapeContext& ctx) {
  DLF_RETURN_IF_ERROR(ExpectF32(ctx.inputs[0], "x"));
  const Shape& in = ctx.inputs[0].shape;
  DLF_ASSIGN_OR_RETURN(const std::vector<int64_t> begin, IntList(ctx.attrs, "begin", in.size()));
  DLF_ASSIGN_OR_RETURN(const std::vector<int64_t> size, IntList(ctx.attrs, "size", in.size()));
  for (size_t d = 0; d < in.size(); ++d) {
    DLF_RETURN_IF_ERROR(Expect(begin[d] >= 0 && size[d] >= 0 && begin[d] <= in[d] && size[d] <= in[d] - begin[d],
                               absl::StrCat("axis ", d, ": begin ", begin[d], " size ", size[d],
                                            " leaves the input's ", in[d])));
  }
  return std::vector<ValueInfo>{{DType::kF32, size}};
}

absl::StatusOr<std::unique_ptr<Kernel>> SliceKernel(const KernelContext& k) {
  const Shape in = k.inputs[0].shape, out = k.outputs[0].shape;
  const std::vector<int64_t> begin = *k.node.attrs.Get<std::vector<int64_t>>("begin");
  return std::make_unique<FunctionKernel>([in, out, begin](RunContext& ctx) {
    CopyBox(In(ctx, 0), in, begin, Out(ctx), out, std::vector<int64_t>(out.size(), 0), out);
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<Value>> SliceGrad(GradContext& c) {
  const Shape in = c.graph.shape(c.node.inputs[0]);
  const std::vector<int64_t> begin = *c.node.attrs.Get<std::vector<int64_t>>("begin");
  const std::vector<int64_t> size = *c.node.attrs.Get<std::vector<int64_t>>("size");
  std::vector<int64_t> after(in.size());
  for (size_t d = 0; d < in.size(); ++d) after[d] = in[d] - begin[d] - size[d];
  return std::vector<Value>{Pad(c.graph, c.output_grads[0], begin, after)};
}

absl::StatusOr<std::vector<ValueInfo>> PadShape(const ShapeContext& ctx) {
  DLF_RETURN_IF_ERROR(ExpectF32(ctx.inputs[0], "x"));
  const Shape& in = ctx.inputs[0].shape;
  DLF_ASSIGN_OR_RETURN(const std::vector<int64_t> before, IntList(ctx.attrs, "before", in.size()));
  DLF_ASSIGN_OR_RETURN(const std::vector<int64_t> after, IntList(ctx.attrs, "after", in.size()));
  Shape out(in.size());
  constexpr int64_t kMaxElements = int64_t{1} << 40;  // no sum or product below can overflow
  int64_t elements = 1;
  for (size_t d = 0; d < in.size(); ++d) {
    DLF_RETURN_IF_ERROR(Expect(before[d] >= 0 && after[d] >= 0, "padding must be >= 0"));
    const bool too_large = before[d] > kMaxElements || after[d] > kMaxElements ||
                           (out[d] = in[d] + before[d] + after[d]) > kMaxElements ||
                           __builtin_mul_overflow(elements, out[d], &elements) || elements > kMaxElements;
    DLF_RETURN_IF_ERROR(Expect(!too_large, absl::StrCat("axis ", d, ": padding ", before[d], " and ", after[d],
                                                        " makes the output larger than 2^40 elements")));
  }
  return std::vector<ValueInfo>{{DType::kF32, out}};
}

absl::StatusOr<std::unique_ptr<Kernel>> PadKernel(const KernelContext& k) {
  const Shape in = k.inputs[0].shape, out = k.outputs[0].shape;
  const std::vector<int64_t> before = *k.node.attrs.Get<std::vector<int64_t>>("before");
  const float value = static_cast<float>(k.node.attrs.GetOr<double>("value", 0.0));
  return std::make_unique<FunctionKernel>([in, out, before, value](RunContext& ctx) {
    ctx.outputs[0]->Fill(value);
    CopyBox(In(ctx, 0), in, std::vector<int64_t>(in.size(), 0), Out(ctx), out, before, in);
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<Value>> PadGrad(GradContext& c) {
  const std::vector<int64_t> before = *c.node.attrs.Get<std::vector<int64_t>>("before");
  return std::vector<Value>{Slice(c.graph, c.output_grads[0], before, c.graph.shape(c.node.inputs[0]))};
}

// ---- Concat(xs..., axis) and Split(x, axis, sizes) -> outputs ----

absl::StatusOr<std::vector<ValueInfo>> ConcatShape(const ShapeContext& ctx) {
  const Shape& first = ctx.inputs[0].shape;
  DLF_ASSIGN_OR_RETURN(const int64_t axis, Axis(ctx.attrs, static_cast<int>(first.size())));
  Shape out = first;
  out[axis] = 0;
  for (const ValueInfo& v : ctx.inputs) {
    DLF_RETURN_IF_ERROR(ExpectF32(v, "every input"));
    Shape a = v.shape, b = first;
    DLF_RETURN_IF_ERROR(Expect(a.size() == b.size(), "inputs must have the same rank"));
    out[axis] += a[axis];
    a[axis] = b[axis] = 0;
    DLF_RETURN_IF_ERROR(Expect(a == b, absl::StrCat("inputs may differ only along axis ", axis, ": ",
                                                    ShapeString(first), " and ", ShapeString(v.shape))));
  }
  return std::vector<ValueInfo>{{DType::kF32, out}};
}

// Copies between a whole tensor and the parts of it along `axis`; to_whole: parts -> whole.
void MoveParts(RunContext& ctx, const Shape& whole, int64_t axis, const std::vector<int64_t>& sizes,
               bool to_whole) {
  std::vector<int64_t> origin(whole.size(), 0);
  for (size_t i = 0; i < sizes.size(); ++i) {
    Shape part = whole;
    part[axis] = sizes[i];
    const std::vector<int64_t> zero(whole.size(), 0);
    if (to_whole) {
      CopyBox(In(ctx, static_cast<int>(i)), part, zero, Out(ctx), whole, origin, part);
    } else {
      CopyBox(In(ctx, 0), whole, origin, Out(ctx, static_cast<int>(i)), part, zero, part);
    }
    origin[axis] += sizes[i];
  }
}

absl::StatusOr<std::unique_ptr<Kernel>> ConcatKernel(const KernelContext& k) {
  const Shape out = k.outputs[0].shape;
  const int64_t axis = *Axis(k.node.attrs, static_cast<int>(out.size()));
  std::vector<int64_t> sizes;
  for (const ValueInfo& v : k.inputs) sizes.push_back(v.shape[axis]);
  return std::make_unique<FunctionKernel>([out, axis, sizes](RunContext& ctx) {
    MoveParts(ctx, out, axis, sizes, true);
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<Value>> ConcatGrad(GradContext& c) {
  const int64_t axis = *Axis(c.node.attrs, static_cast<int>(c.graph.shape(c.node.outputs[0]).size()));
  std::vector<int64_t> sizes;
  for (Value v : c.node.inputs) sizes.push_back(c.graph.shape(v)[axis]);
  return Split(c.graph, c.output_grads[0], axis, sizes);
}

absl::StatusOr<std::vector<ValueInfo>> SplitShape(const ShapeContext& ctx) {
  DLF_RETURN_IF_ERROR(ExpectF32(ctx.inputs[0], "x"));
  const Shape& in = ctx.inputs[0].shape;
  DLF_ASSIGN_OR_RETURN(const int64_t axis, Axis(ctx.attrs, static_cast<int>(in.size())));
  DLF_ASSIGN_OR_RETURN(const std::vector<int64_t> sizes, ctx.attrs.Get<std::vector<int64_t>>("sizes"));
  int64_t total = 0;
  std::vector<ValueInfo> outs;
  for (int64_t s : sizes) {
    DLF_RETURN_IF_ERROR(Expect(s >= 0, "split sizes must be >= 0"));
    total += s;
    Shape part = in;
    part[axis] = s;
    outs.push_back({DType::kF32, part});
  }
  DLF_RETURN_IF_ERROR(Expect(total == in[axis], absl::StrCat("split sizes add up to ", total, ", but axis ",
                                                             axis, " has ", in[axis])));
  return outs;
}

absl::StatusOr<std::unique_ptr<Kernel>> SplitKernel(const KernelContext& k) {
  const Shape in = k.inputs[0].shape;
  const int64_t axis = *Axis(k.node.attrs, static_cast<int>(in.size()));
  const std::vector<int64_t> sizes = *k.node.attrs.Get<std::vector<int64_t>>("sizes");
  return std::make_unique<FunctionKernel>([in, axis, sizes](RunContext& ctx) {
    MoveParts(ctx, in, axis, sizes, false);
    return absl::OkStatus();
  });
}

// Outputs that do not reach the loss contribute zeros.
absl::StatusOr<std::vector<Value>> SplitGrad(GradContext& c) {
  std::vector<Value> parts;
  for (size_t i = 0; i < c.node.outputs.size(); ++i) {
    Value dy = c.output_grads[i];
    if (!dy.valid()) {
      dy = BroadcastTo(c.graph, c.graph.Constant(Tensor::F32({}, {0.0f})), c.graph.shape(c.node.outputs[i]));
    }
    parts.push_back(dy);
  }
  const int64_t axis = *Axis(c.node.attrs, static_cast<int>(c.graph.shape(c.node.inputs[0]).size()));
  return std::vector<Value>{Concat(c.graph, parts, axis)};
}

void RegisterRearrange() {
  RegisterOpOrDie({"Transpose", 1, TransposeShape, TransposeKernel, TransposeGrad});
  RegisterOpOrDie({"Slice", 1, SliceShape, SliceKernel, SliceGrad});
  RegisterOpOrDie({"Pad", 1, PadShape, PadKernel, PadGrad});
  RegisterOpOrDie({"Concat", -1, ConcatShape, ConcatKernel, ConcatGrad});
  RegisterOpOrDie({"Split", 1, SplitShape, SplitKernel, SplitGrad});
}

[[maybe_unused]] const bool registered = (RegisterRearrange(), true);

}  // namespace

Value Transpose(Graph& g, Value x, std::vector<int64_t> perm) {
  return g.Op1("Transpose", {x}, {{"perm", std::move(perm)}});
}
Value Slice(Graph& g, Value x, std::vector<int64_t> begin, std::vector<int64_t> size) {
  return g.Op1("Slice", {x}, {{"begin", std::move(begin)}, {"size", std::move(size)}});
}
Value Pad(Graph& g, Value x, std::vector<int64_t> before, std::vector<int64_t> after, double value) {
  return g.Op1("Pad", {x}, {{"before", std::move(before)}, {"after", std::move(after)}, {"value", value}});
}
Value Concat(Graph& g, std::vector<Value> values, int64_t axis) {
  return g.Op1("Concat", std::move(values), {{"axis", axis}});
}
std::vector<Value> Split(Graph& g, Value x, int64_t axis, std::vector<int64_t> sizes) {
  return g.Op("Split", {x}, {{"axis", axis}, {"sizes", std::move(sizes)}});
}

}  // namespace dlf::ops
