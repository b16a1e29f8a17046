#ifndef DLF_OPS_OP_UTIL_H_
#define DLF_OPS_OP_UTIL_H_

// Helpers shared by the op files: shape-rule checks, attribute reading, oneDNN descriptors.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "graph/graph.h"
#include "graph/op_registry.h"
#include "graph/status_macros.h"
#include "oneapi/dnnl/dnnl.hpp"

namespace dlf::ops {

inline absl::Status Expect(bool ok, const std::string& message) {
  return ok ? absl::OkStatus() : absl::InvalidArgumentError(message);
}

absl::Status ExpectF32(const ValueInfo& v, const char* what);
absl::Status ExpectRank(const ValueInfo& v, int rank, const char* what);

// NumPy broadcasting of two shapes (aligned on their last axes; a 1 stretches), or an error
// naming both.
absl::StatusOr<Shape> BroadcastShapes(const Shape& a, const Shape& b);

// Reads a 2-vector attribute (e.g. stride = [sh, sw]); a single value means both.
absl::StatusOr<std::vector<int64_t>> GetPair(const Attrs& attrs, const std::string& name,
                                             int64_t fallback);

// Output size of a sliding window along one dimension; errors name the dimension.
absl::StatusOr<int64_t> WindowOutputSize(int64_t in, int64_t kernel, int64_t stride, int64_t pad,
                                         bool ceil_mode, const char* dim);

// oneDNN descriptors in plain row-major layouts.
// x [n, c, h, w] in the channel-blocked layout of this CPU's oneDNN kernels (nChw16c with
// AVX-512, nChw8c below: ChannelBlock()), or plain when the channels do not fill whole blocks.
// oneDNN 2.6.3's jit batch normalization and pooling take only that layout; on another one they
// run reference or simple loops.
dnnl::memory::desc BlockedDesc(const Shape& x, dnnl::memory::data_type type = dnnl::memory::data_type::f32);
dnnl::memory::desc PlainDesc(const Shape& shape, dnnl::memory::data_type dt =
                                                     dnnl::memory::data_type::f32);
dnnl::memory::dims ToDims(const std::vector<int64_t>& v);
// f32 [batch, rows, cols] as stored; `transposed` reads it as [batch, cols, rows] (a matmul
// operand's transpose without a copy).
dnnl::memory::desc BatchDesc(const Shape& stored, bool transposed);
// oneDNN's softmax over the rows of `rows` ([n, c], axis 1), training's (its backward's hint).
dnnl::softmax_forward::primitive_desc SoftmaxForwardPd(const dnnl::memory::desc& rows, const dnnl::engine& engine);

// An engine for shape rules that must ask oneDNN (e.g. workspace sizes).
const dnnl::engine& ShapeEngine();

// Wraps a oneDNN primitive-descriptor construction, converting its exception into a Status.
template <typename Fn>
auto TryDnnl(Fn fn, const char* what) -> absl::StatusOr<decltype(fn())> {
  try {
    return fn();
  } catch (const dnnl::error& e) {
    return absl::InvalidArgumentError(absl::StrCat("oneDNN cannot create ", what, ": ", e.what()));
  }
}

// oneDNN lets a primitive choose its layouts (format_tag::any): most convolutions run several
// times faster on blocked layouts (nChw16c ...) than on plain NCHW. Tensors between kernels stay
// plain, so such an argument is "staged": reordered from the plain tensor into the kernel's
// scratch before the primitive runs (inputs) or back after it (outputs).
dnnl::memory::desc AnyLayout(const dnnl::memory::desc& plain);
// The same dims in bf16 when `bf16` (any layout, or plain strides for WithType), else `desc`.
dnnl::memory::desc AnyLayout(const dnnl::memory::desc& plain, bool bf16);
dnnl::memory::desc WithType(const dnnl::memory::desc& desc, bool bf16);
// The primitive attributes that apply KernelContext::post_ops ("relu" and "clip").
absl::StatusOr<dnnl::primitive_attr> PostOpsAttr(const std::vector<PostOp>& post_ops);

// The primitive's oneDNN implementation name (impl_info_str()).
std::string ImplementationName(const dnnl::primitive& p);

// A oneDNN primitive whose arguments are the kernel's inputs and outputs plus memory the kernel
// owns. Arguments are bound once; each run only points them at the tensors. Under the layout
// pass (OpDef::any_layout) an input is read in the layout its producer wrote, and a free output
// is written in the primitive's own layout: reorders remain only where those differ.
class DnnlKernel : public Kernel {
 public:
  DnnlKernel(dnnl::primitive primitive, const KernelContext& k)
      : primitive_(std::move(primitive)),
        engine_(k.engine),
        input_layouts_(k.input_layouts),
        fixed_inputs_(k.fixed_inputs),
        free_outputs_(k.free_outputs),
        output_layouts_(k.free_outputs.size()) {}
  // `plain` is the tensor's row-major layout, `wanted` the primitive's. The argument is staged
  // (reordered through scratch) when the tensor's actual layout differs from `wanted`; a fixed
  // input (KernelContext::fixed_inputs) into memory of its own, once per set of parameters.
  void BindInput(int arg, int input_index, const dnnl::memory::desc& plain,
                 const dnnl::memory::desc& wanted);
  void BindOutput(int arg, int output_index, const dnnl::memory::desc& plain,
                  const dnnl::memory::desc& wanted);
  void BindInput(int arg, int input_index, const dnnl::memory::desc& md) {
    BindInput(arg, input_index, md, md);
  }
  void BindOutput(int arg, int output_index, const dnnl::memory::desc& md) {
    BindOutput(arg, output_index, md, md);
  }
  void BindOwned(int arg, const dnnl::memory::desc& md);  // e.g. an unused workspace
  // Zero-fills output `output_index` before each run: for a primitive that writes only part
  // of it (through a view).
  void ZeroOutputFirst(int output_index) { zeroed_outputs_.push_back(output_index); }
  int64_t scratch_bytes() const override { return scratch_bytes_; }
  int reorders_per_run() const override;
  dnnl::memory::desc output_layout(int i) const override {
    return i < static_cast<int>(output_layouts_.size()) ? output_layouts_[i] : dnnl::memory::desc();
  }
  absl::Status Run(RunContext& ctx) override;
  std::vector<std::string> implementations() const override;

 private:
  struct Binding {
    dnnl::memory user;  // the input or output tensor
    int index;
    bool is_input;
    // Staged only: the primitive's layout in scratch, and the reorder between the two.
    dnnl::memory staged;
    int64_t scratch_offset = -1;
    // A fixed input (KernelContext::fixed_inputs) is staged into memory the kernel owns, and
    // reordered only when the parameters changed.
    bool fixed = false;
    dnnl::primitive reorder;
    std::vector<dnnl_exec_arg_t> reorder_args;
  };
  void Bind(int arg, int index, bool is_input, const dnnl::memory::desc& plain,
            const dnnl::memory::desc& wanted);
  static absl::Status Execute(const dnnl::primitive& p, const std::vector<dnnl_exec_arg_t>& args,
                              RunContext& ctx);

  dnnl::primitive primitive_;
  dnnl::engine engine_;
  std::vector<Binding> bindings_;
  std::vector<dnnl::memory::desc> input_layouts_;
  std::vector<bool> fixed_inputs_;
  std::vector<bool> free_outputs_;
  std::vector<dnnl::memory::desc> output_layouts_;
  std::vector<dnnl::memory> owned_;
  std::vector<int> zeroed_outputs_;
  std::vector<dnnl_exec_arg_t> args_;  // built once; the C API takes it without copying
  int64_t scratch_bytes_ = 0;
};

// Kernel bodies for element-wise ops.
inline float* Out(RunContext& ctx, int i = 0) { return ctx.outputs[i]->f32(); }
inline const float* In(RunContext& ctx, int i) { return ctx.inputs[i]->f32(); }
inline int64_t Size(RunContext& ctx, int i = 0) { return ctx.outputs[i]->num_elements(); }

// The layout input `i` is stored in: KernelContext::input_layouts[i], or `plain` if it has none.
dnnl::memory::desc InputLayout(const KernelContext& k, int i, const dnnl::memory::desc& plain);
// Whether the layout pass lets the kernel write output `i` in a layout of its choice.
inline bool FreeOutput(const KernelContext& k, int i) {
  return i < static_cast<int>(k.free_outputs.size()) && k.free_outputs[i];
}
// bf16 activations: under ExecutorOptions::bf16 a kernel writes a free output (read only by
// kernels that take any layout) in bf16, and those kernels read it as it is, so values between
// bf16 kernels make no f32 round trip. Fetched values and what other kernels read stay f32.
inline bool Bf16Output(const KernelContext& k, int i) { return k.bf16 && FreeOutput(k, i); }
// The data type input `i` is stored in (bf16 when its producer wrote it so), f32 if plain.
dnnl::memory::data_type InputType(const KernelContext& k, int i);
// Whether any input is stored in a layout other than its plain one.
bool AnyBlockedInput(const KernelContext& k);
// A 4-D layout like `like`'s (the same format tag: nchw, nhwc, nChw16c, nChw8c) for other
// dims and data type; a zero desc when `like` is none of those.
dnnl::memory::desc LikeLayout(const dnnl::memory::desc& like, const dnnl::memory::dims& dims,
                              dnnl::memory::data_type type);

// The gradient rule of a normalization (x, weight, bias, ...) -> (y, mean, var): one `grad_op`
// node (dy, x, weight, mean, var, bias) -> (dx, dweight, dbias), given the forward's attributes.
GradFn NormalizationGrad(const std::string& grad_op);

// A gradient rule's result with no gradient for any input.
inline std::vector<Value> NoGrads(const GradContext& ctx) {
  return std::vector<Value>(ctx.node.inputs.size());
}

}  // namespace dlf::ops

#endif  // DLF_OPS_OP_UTIL_H_
