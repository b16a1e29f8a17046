#include "ops/op_util.h"

#include "graph/cpu.h"

#include <cstring>
#include <map>

namespace dlf::ops {

absl::Status ExpectF32(const ValueInfo& v, const char* what) {
  return Expect(v.dtype == DType::kF32, absl::StrCat(what, " must be f32, found ",
                                                     DTypeName(v.dtype)));
}

absl::Status ExpectRank(const ValueInfo& v, int rank, const char* what) {
  return Expect(static_cast<int>(v.shape.size()) == rank,
                absl::StrCat(what, " must have rank ", rank, ", found shape ",
                             ShapeString(v.shape)));
}

absl::StatusOr<Shape> BroadcastShapes(const Shape& a, const Shape& b) {
  const size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1) {
      return absl::InvalidArgumentError(absl::StrCat("shapes ", ShapeString(a), " and ", ShapeString(b),
                                                     " do not broadcast (axis ", i, ": ", da, " vs ", db, ")"));
    }
    out[i] = da == 1 ? db : da;
  }
  return out;
}

absl::StatusOr<std::vector<int64_t>> GetPair(const Attrs& attrs, const std::string& name,
                                             int64_t fallback) {
  if (!attrs.Has(name)) return std::vector<int64_t>{fallback, fallback};
  if (absl::StatusOr<int64_t> one = attrs.Get<int64_t>(name); one.ok()) {
    return std::vector<int64_t>{*one, *one};
  }
  absl::StatusOr<std::vector<int64_t>> pair = attrs.Get<std::vector<int64_t>>(name);
  if (!pair.ok() || pair->size() != 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("attribute '", name, "' must be an integer or a pair of integers"));
  }
  return *pair;
}

absl::StatusOr<int64_t> WindowOutputSize(int64_t in, int64_t kernel, int64_t stride, int64_t pad,
                                         bool ceil_mode, const char* dim) {
  if (kernel <= 0 || stride <= 0 || pad < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        dim, ": kernel and stride must be positive and padding non-negative, found kernel ",
        kernel, ", stride ", stride, ", padding ", pad));
  }
  const int64_t padded = in + 2 * pad;
  if (kernel > padded) {
    return absl::InvalidArgumentError(absl::StrCat(dim, ": kernel ", kernel,
                                                   " is larger than the padded input ", in,
                                                   " + 2*", pad, " = ", padded));
  }
  int64_t out = (padded - kernel) / stride + 1;
  // Ceil mode adds a last window only if it starts inside the input or left padding (PyTorch).
  if (ceil_mode && (padded - kernel) % stride != 0 && (out * stride) < in + pad) ++out;
  return out;
}

dnnl::memory::desc PlainDesc(const Shape& shape, dnnl::memory::data_type dt) {
  dnnl::memory::dims dims(shape.begin(), shape.end());
  dnnl::memory::dims strides(shape.size(), 1);
  for (int i = static_cast<int>(shape.size()) - 2; i >= 0; --i) {
    strides[i] = strides[i + 1] * shape[i + 1];
  }
  return dnnl::memory::desc(dims, dt, strides);
}

dnnl::memory::desc BatchDesc(const Shape& stored, bool transposed) {
  if (!transposed) return PlainDesc(stored);
  return dnnl::memory::desc({stored[0], stored[2], stored[1]}, dnnl::memory::data_type::f32,
                            dnnl::memory::format_tag::acb);
}

dnnl::softmax_forward::primitive_desc SoftmaxForwardPd(const dnnl::memory::desc& rows, const dnnl::engine& engine) {
  return dnnl::softmax_forward::primitive_desc({dnnl::prop_kind::forward_training, rows, 1}, engine);
}

dnnl::memory::dims ToDims(const std::vector<int64_t>& v) {
  return dnnl::memory::dims(v.begin(), v.end());
}

const dnnl::engine& ShapeEngine() {
  static const dnnl::engine* engine = new dnnl::engine(dnnl::engine::kind::cpu, 0);
  return *engine;
}

dnnl::memory::desc AnyLayout(const dnnl::memory::desc& plain) {
  return dnnl::memory::desc(plain.dims(), plain.data_type(), dnnl::memory::format_tag::any);
}

dnnl::memory::desc AnyLayout(const dnnl::memory::desc& plain, bool bf16) {
  return AnyLayout(WithType(plain, bf16));
}

absl::StatusOr<dnnl::primitive_attr> PostOpsAttr(const std::vector<PostOp>& post_ops) {
  dnnl::post_ops ops;
  // OpDef::post_op name -> oneDNN's eltwise algorithm; alpha and beta are the op's attributes
  // p and q (unary.cc's Clip: min(max(x, p), q) is clip_v2; ReLU takes none).
  static const auto* algorithms = new std::map<std::string, dnnl::algorithm>{
      {"relu", dnnl::algorithm::eltwise_relu}, {"clip", dnnl::algorithm::eltwise_clip_v2}};
  for (const PostOp& op : post_ops) {
    const auto it = algorithms->find(op.op);
    if (it == algorithms->end()) return absl::UnimplementedError(absl::StrCat("no oneDNN post-op for '", op.op, "'"));
    ops.append_eltwise(1.0f, it->second, static_cast<float>(op.attrs.GetOr<double>("p", 0.0)),
                       static_cast<float>(op.attrs.GetOr<double>("q", 0.0)));
  }
  dnnl::primitive_attr attr;
  attr.set_post_ops(ops);
  return attr;
}

dnnl::memory::desc WithType(const dnnl::memory::desc& desc, bool bf16) {
  if (!bf16) return desc;
  dnnl::memory::desc out = desc;
  out.data.data_type = dnnl_bf16;
  return out;
}

std::string ImplementationName(const dnnl::primitive& p) {
  const char* name = nullptr;
  dnnl_primitive_desc_query(p.get_primitive_desc(), dnnl_query_impl_info_str, 0, &name);
  return name == nullptr ? "unknown" : name;
}

void DnnlKernel::BindInput(int arg, int input_index, const dnnl::memory::desc& plain,
                           const dnnl::memory::desc& wanted) {
  Bind(arg, input_index, true, plain, wanted);
}

void DnnlKernel::BindOutput(int arg, int output_index, const dnnl::memory::desc& plain,
                            const dnnl::memory::desc& wanted) {
  Bind(arg, output_index, false, plain, wanted);
}

void DnnlKernel::Bind(int arg, int index, bool is_input, const dnnl::memory::desc& plain,
                      const dnnl::memory::desc& wanted) {
  dnnl::memory::desc actual = plain;
  if (is_input && index < static_cast<int>(input_layouts_.size()) &&
      !input_layouts_[index].is_zero()) {
    actual = input_layouts_[index];
  }
  if (!is_input && index < static_cast<int>(free_outputs_.size()) && free_outputs_[index]) {
    actual = output_layouts_[index] = wanted;
  }
  Binding b{dnnl::memory(actual, engine_, DNNL_MEMORY_NONE), index, is_input};
  if (actual == wanted) {
    args_.push_back({arg, b.user.get()});
  } else {
    constexpr int64_t kAlign = Tensor::kAlignment;
    b.fixed = is_input && index < static_cast<int>(fixed_inputs_.size()) && fixed_inputs_[index];
    if (b.fixed) {
      b.staged = dnnl::memory(wanted, engine_);  // kept between runs
    } else {
      b.staged = dnnl::memory(wanted, engine_, DNNL_MEMORY_NONE);
      b.scratch_offset = scratch_bytes_;
      scratch_bytes_ += (static_cast<int64_t>(wanted.get_size()) + kAlign - 1) / kAlign * kAlign;
    }
    b.reorder = is_input ? dnnl::reorder(b.user, b.staged) : dnnl::reorder(b.staged, b.user);
    b.reorder_args = {{DNNL_ARG_FROM, (is_input ? b.user : b.staged).get()},
                      {DNNL_ARG_TO, (is_input ? b.staged : b.user).get()}};
    args_.push_back({arg, b.staged.get()});
  }
  bindings_.push_back(std::move(b));
}

int DnnlKernel::reorders_per_run() const {
  int n = 0;
  for (const Binding& b : bindings_) n += b.scratch_offset >= 0;  // fixed ones: not per run
  return n;
}

std::vector<std::string> DnnlKernel::implementations() const {
  std::vector<std::string> names = {ImplementationName(primitive_)};
  for (const Binding& b : bindings_) {
    if (b.reorder) names.push_back("reorder " + ImplementationName(b.reorder));
  }
  return names;
}

void DnnlKernel::BindOwned(int arg, const dnnl::memory::desc& md) {
  owned_.emplace_back(md, engine_);
  args_.push_back({arg, owned_.back().get()});
}

absl::Status DnnlKernel::Execute(const dnnl::primitive& p,
                                 const std::vector<dnnl_exec_arg_t>& args, RunContext& ctx) {
  const dnnl_status_t status = dnnl_primitive_execute(
      p.get(), ctx.stream->get(), static_cast<int>(args.size()), args.data());
  if (status != dnnl_success) {
    return absl::InternalError(absl::StrCat("oneDNN execution failed with status ", status));
  }
  return absl::OkStatus();
}

absl::Status DnnlKernel::Run(RunContext& ctx) {
  for (Binding& b : bindings_) {
    void* data = b.is_input ? const_cast<void*>(ctx.inputs[b.index]->raw())
                            : ctx.outputs[b.index]->raw();
    b.user.set_data_handle(data);
    if (b.scratch_offset >= 0) {
      b.staged.set_data_handle(static_cast<std::byte*>(ctx.scratch) + b.scratch_offset);
    }
  }
  for (int i : zeroed_outputs_) std::memset(ctx.outputs[i]->raw(), 0, ctx.outputs[i]->num_bytes());
  for (const Binding& b : bindings_) {
    const bool reorder = b.scratch_offset >= 0 || (b.fixed && ctx.parameters_changed);
    if (b.is_input && reorder) DLF_RETURN_IF_ERROR(Execute(b.reorder, b.reorder_args, ctx));
  }
  DLF_RETURN_IF_ERROR(Execute(primitive_, args_, ctx));
  for (const Binding& b : bindings_) {
    if (!b.is_input && b.scratch_offset >= 0) DLF_RETURN_IF_ERROR(Execute(b.reorder, b.reorder_args, ctx));
  }
  return absl::OkStatus();
}

dnnl::memory::desc InputLayout(const KernelContext& k, int i, const dnnl::memory::desc& plain) {
  const bool has = i < static_cast<int>(k.input_layouts.size()) && !k.input_layouts[i].is_zero();
  return has ? k.input_layouts[i] : plain;
}

dnnl::memory::data_type InputType(const KernelContext& k, int i) {
  const dnnl::memory::desc layout = InputLayout(k, i, {});
  return layout.is_zero() ? dnnl::memory::data_type::f32 : layout.data_type();
}

bool AnyBlockedInput(const KernelContext& k) {
  for (size_t i = 0; i < k.inputs.size(); ++i) {
    const dnnl::memory::desc plain = PlainDesc(k.inputs[i].shape);
    if (InputLayout(k, static_cast<int>(i), plain) != plain) return true;
  }
  return false;
}

dnnl::memory::desc LikeLayout(const dnnl::memory::desc& like, const dnnl::memory::dims& dims,
                              dnnl::memory::data_type type) {
  using tag = dnnl::memory::format_tag;
  if (like.data.ndims != 4 || dims.size() != 4) return {};
  for (tag t : {tag::nchw, tag::nhwc, tag::nChw16c, tag::nChw8c}) {
    if (dnnl::memory::desc(like.dims(), like.data_type(), t) == like) {
      return dnnl::memory::desc(dims, type, t);
    }
  }
  return {};
}

dnnl::memory::desc BlockedDesc(const Shape& x, dnnl::memory::data_type type) {
  const int64_t block = ChannelBlock();
  if (x.size() != 4 || x[1] % block != 0) return PlainDesc(x, type);
  return dnnl::memory::desc(ToDims(x), type,
                            block == 16 ? dnnl::memory::format_tag::nChw16c : dnnl::memory::format_tag::nChw8c);
}

GradFn NormalizationGrad(const std::string& grad_op) {
  return [grad_op](GradContext& c) -> absl::StatusOr<std::vector<Value>> {
    const Node& n = c.node;
    std::vector<Value> grads(n.inputs.size());
    if (!c.output_grads[0].valid()) return grads;
    const std::vector<Value> g = c.graph.Op(
        grad_op, {c.output_grads[0], n.inputs[0], n.inputs[1], n.outputs[1], n.outputs[2], n.inputs[2]}, n.attrs);
    if (g.size() != 3) return grads;  // the error is recorded in the graph
    for (int i = 0; i < 3; ++i) {
      if (c.wants[i]) grads[i] = g[i];
    }
    return grads;
  };
}

}  // namespace dlf::ops
