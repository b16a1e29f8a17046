#ifndef DLF_GRAPH_OP_REGISTRY_H_
#define DLF_GRAPH_OP_REGISTRY_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "graph/graph.h"
#include "graph/tensor.h"
#include "oneapi/dnnl/dnnl.hpp"

namespace dlf {

// What a shape rule sees: the node's attributes and its inputs' dtypes and shapes.
struct ShapeContext {
  const Attrs& attrs;
  const std::vector<ValueInfo>& inputs;
};
using ShapeFn = std::function<absl::StatusOr<std::vector<ValueInfo>>(const ShapeContext&)>;

// What a kernel sees at each run. Tensors are views with fixed shapes; data pointers of fed
// inputs may change between runs.
struct RunContext {
  std::vector<const Tensor*> inputs;
  std::vector<Tensor*> outputs;
  bool training = true;
  uint64_t step = 0;  // the executor's run counter: seeds per-step randomness (dropout)
  // Position of this batch's first sample in the global batch (data-parallel ranks each run a
  // slice of it): per-sample randomness is keyed by global position, not by the rank.
  int64_t sample_offset = 0;
  dnnl::stream* stream = nullptr;
  void* scratch = nullptr;  // scratch_bytes() of memory, shared by all kernels of the plan
  // The inputs named in OpDef::state_inputs, writable (graph buffers the kernel updates).
  std::vector<Tensor*> state;
  // The parameters may have changed since the last run (KernelContext::fixed_inputs).
  bool parameters_changed = true;
};

// A compiled kernel: created once by the executor (that is where oneDNN primitives are built),
// then run many times.
class Kernel {
 public:
  virtual ~Kernel() = default;
  virtual absl::Status Run(RunContext& ctx) = 0;
  // Memory the kernel needs only while it runs (e.g. operands reordered to a oneDNN layout).
  // Kernels run one at a time, so the executor gives them all one buffer of the largest size.
  virtual int64_t scratch_bytes() const { return 0; }
  // Layout or precision conversions (oneDNN reorders) each run performs, reported by
  // DLF_PROFILE: those the layout pass leaves (weights, edges to plain ops, bf16 operands).
  virtual int reorders_per_run() const { return 0; }
  // The oneDNN layout the kernel writes output i in, when KernelContext::free_outputs allowed
  // it to choose; a zero desc means the value's plain row-major layout.
  virtual dnnl::memory::desc output_layout(int /*i*/) const { return {}; }
  // The oneDNN implementations the kernel runs (impl_info_str(): "brg:avx512_core_bf16",
  // "jit:uni", ...), its reorders included; empty for a kernel of our own loops.
  virtual std::vector<std::string> implementations() const { return {}; }
};

// What a kernel factory sees when the executor compiles.
// An element-wise op folded into its producer's kernel (passes::Fuse): its OpDef::post_op name
// and the node's attributes (a Clip's bounds).
struct PostOp {
  std::string op;
  Attrs attrs;
};

struct KernelContext {
  const Node& node;
  const std::vector<ValueInfo>& inputs;
  const std::vector<ValueInfo>& outputs;
  const dnnl::engine& engine;
  bool training;
  bool fast_math;  // ExecutorOptions::fast_math
  bool bf16;       // ExecutorOptions::bf16
  // Element-wise ops to apply to output 0 before it is written, in order.
  std::vector<PostOp> post_ops = {};
  // The layout pass (OpDef::any_layout ops only; empty otherwise): the layout each input is
  // stored in (a zero desc: plain row-major), and the outputs the kernel may write in a layout
  // of its choice (every reader of such an output takes any layout; see Kernel::output_layout).
  std::vector<dnnl::memory::desc> input_layouts = {};
  std::vector<bool> free_outputs = {};
  // Inputs whose values change only with the parameters (ExecutorOptions::fixed_parameters:
  // a parameter, its bf16 copy, or a value computed from parameters alone): a kernel may keep
  // them converted to its own layout and convert again only when RunContext says they changed.
  std::vector<bool> fixed_inputs = {};
};
using KernelFactory = std::function<absl::StatusOr<std::unique_ptr<Kernel>>(const KernelContext&)>;

// What a gradient rule sees. It adds nodes to `graph` and returns one gradient per input of
// `node`; an invalid Value means "no gradient" for that input. output_grads[i] is invalid when
// output i does not reach the loss. wants[i] says whether input i's gradient is needed at all.
struct GradContext {
  Graph& graph;
  const Node& node;
  const std::vector<Value>& output_grads;
  const std::vector<bool>& wants;
};
using GradFn = std::function<absl::StatusOr<std::vector<Value>>(GradContext&)>;

// Floating-point operations one run of a kernel does (a multiply-add counts two), from its
// inputs' and outputs' shapes: for GFLOP/s and share-of-peak reports.
using FlopsFn = std::function<double(const std::vector<ValueInfo>& inputs,
                                     const std::vector<ValueInfo>& outputs)>;

struct OpDef {
  std::string name;
  int num_inputs = 1;  // -1: any number >= 1
  ShapeFn shape;
  KernelFactory kernel;
  GradFn gradient;  // empty: the op has no gradient rule (an error on a path autodiff needs)
  // Inputs the kernel updates in place in training mode (e.g. running statistics). Each must
  // be a graph Buffer; the executor hands them over writable in RunContext::state.
  std::vector<int> state_inputs = {};
  // Inputs the kernel can read in bf16 (KernelContext::inputs[i].dtype is then kBF16): under
  // ExecutorOptions::bf16 the executor feeds a parameter there from a bf16 copy it refreshes
  // once per run, instead of each kernel converting the f32 weights itself.
  std::vector<int> bf16_inputs = {};
  // Fusion: an element-wise op that oneDNN can apply as a post-op names it here (e.g. "relu");
  // an op whose kernel applies KernelContext::post_ops sets accepts_post_ops. The executor then
  // runs producer + op as one kernel when the op is the producer's only reader; the graph (and
  // the backward pass derived from it) does not change.
  std::string post_op = "";
  bool accepts_post_ops = false;
  bool accepts_only_relu = false;  // e.g. batch normalization (oneDNN's fuse_norm_relu)
  // Output 0 may take input 0's memory when nothing reads that input afterwards (the kernel
  // is element-wise: output element i depends on input elements i only).
  bool in_place = false;
  // The kernel reads inputs in the layouts KernelContext::input_layouts names and may write
  // KernelContext::free_outputs in layouts it chooses: consecutive oneDNN ops then keep
  // oneDNN's blocked layouts, with no reorder between them.
  bool any_layout = false;
  // any_layout for nodes whose inputs all have output 0's shape (element-wise ops: a
  // broadcasting node reads plain tensors).
  bool any_layout_same_shape = false;
  // The GEMM-shaped ops (convolutions, linear layers) count their FLOPs; others (memory-bound
  // element-wise ops, pooling) leave it empty.
  FlopsFn flops = nullptr;
};

class OpRegistry {
 public:
  static OpRegistry& Global();
  absl::Status Register(OpDef def);
  const OpDef* Find(const std::string& name) const;
  std::vector<std::string> Names() const;

 private:
  absl::flat_hash_map<std::string, std::unique_ptr<OpDef>> ops_;
};

// Registers at static-initialization time; aborts on a duplicate name (a build-time bug).
bool RegisterOpOrDie(OpDef def);

#define DLF_CONCAT_INNER(a, b) a##b
#define DLF_CONCAT(a, b) DLF_CONCAT_INNER(a, b)
#define DLF_REGISTER_OP(def) \
  static const bool DLF_CONCAT(dlf_op_registered_, __COUNTER__) = ::dlf::RegisterOpOrDie(def)

// Wraps a function object as a Kernel.
class FunctionKernel : public Kernel {
 public:
  using Fn = std::function<absl::Status(RunContext&)>;
  explicit FunctionKernel(Fn fn) : fn_(std::move(fn)) {}
  absl::Status Run(RunContext& ctx) override { return fn_(ctx); }

 private:
  Fn fn_;
};

}  // namespace dlf

#endif  // DLF_GRAPH_OP_REGISTRY_H_
