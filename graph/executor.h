#ifndef DLF_GRAPH_EXECUTOR_H_
#define DLF_GRAPH_EXECUTOR_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "graph/graph.h"
#include "graph/op_registry.h"
#include "graph/passes/plan.h"
#include "graph/tensor.h"

namespace dlf {

struct Feed {
  Value value;
  const Tensor* tensor;
};

// Statistics of a compiled plan.
struct PlanStats {
  int num_kernels = 0;
  int64_t arena_bytes = 0;         // peak bytes of intermediate values, after reuse
  int64_t sum_value_bytes = 0;     // what they would take with one buffer each
  int64_t feed_bytes = 0;          // staging buffers for inputs
  int64_t scratch_bytes = 0;       // one buffer all kernels use while they run
  int reorders_per_run = 0;        // layout/precision conversions inside the kernels
  double flops_per_run = 0;        // of the GEMM-shaped kernels (OpDef::flops)
};

// One oneDNN implementation a kernel of the plan runs (Executor::Implementations).
struct KernelImplementation {
  std::string node;            // the node's name
  std::string label;           // the kernel's op, e.g. "Conv2D+Relu"
  std::string implementation;  // impl_info_str(), "reorder " + it for the kernel's reorders
};

// Compiles (graph, fetches) once into a plan (graph/passes/: prune, rewrite, fuse, precision,
// layout, hoist, then the kernels with their oneDNN primitives, in-place, memory), so values whose
// lifetimes do not overlap share one arena. Run() then executes the plan repeatedly without
// allocating.
//
// The graph must outlive the executor; parameters are read from (and updated in) the graph.
class Executor {
 public:
  ~Executor();
  static absl::StatusOr<std::unique_ptr<Executor>> Compile(Graph& graph,
                                                          std::vector<Value> fetches,
                                                          ExecutorOptions options = {});

  // Feeds every Input node the plan needs (checked for shape and dtype), runs every kernel.
  absl::Status Run(absl::Span<const Feed> feeds);
  // The same, calling after_kernel(k) once kernel k of the plan (0 .. num_kernels-1) has
  // finished: a caller can start using values that are final by then (see FinalAfter).
  absl::Status Run(absl::Span<const Feed> feeds, const std::function<void(int)>& after_kernel);
  // The plan position of the last kernel that writes or reads `v`: after it, `v` keeps its
  // value until the run ends. -1 when no kernel touches it (a fed input, a parameter).
  int FinalAfter(Value v) const;

  // With ExecutorOptions::fixed_parameters: the parameters' values changed; the next Run()
  // refreshes what the executor derives from them (bf16 copies).
  void ParametersChanged();
  // The bf16 copy the plan's kernels read of parameter tensor `param` (ExecutorOptions::bf16),
  // or null when none reads one.
  Tensor* bf16_copy(const Tensor* param);
  // The caller wrote the bf16 copies of `params` from their current values (an optimizer does
  // it in its update's pass): the next Run() refreshes only the other copies.
  void Bf16CopiesWritten(absl::Span<Tensor* const> params);

  // The i-th fetched value of the last Run(): a view valid until the next Run().
  const Tensor& fetch(int i) const { return *slots_[plan_.fetches[i].id]; }
  // The same, writable (e.g. to clip gradients in place before an optimizer reads them).
  Tensor& mutable_fetch(int i) { return *slots_[plan_.fetches[i].id]; }
  int num_fetches() const { return static_cast<int>(plan_.fetches.size()); }

  const PlanStats& stats() const { return stats_; }
  // Every oneDNN implementation the plan's kernels run, in plan order.
  std::vector<KernelImplementation> Implementations() const;
  // Milliseconds per run spent in each op (kernels of the same op summed), slowest first; with
  // per_kernel, one row per kernel, named by its node (DLF_PROFILE=kernels).
  std::string ProfileReport(bool per_kernel = false) const;
  bool training() const { return options_.training; }
  // Run counter: each Run() uses it to seed per-step randomness and then increments it.
  uint64_t step() const { return step_; }
  void set_step(uint64_t step) { step_ = step; }
  // Global position of the fed batch's first sample (RunContext::sample_offset); 0 by default.
  void set_sample_offset(int64_t offset) { sample_offset_ = offset; }
  // The Input nodes the plan needs, in graph order.
  const std::vector<Value>& required_inputs() const { return required_inputs_; }

 private:
  struct PlannedKernel {
    int plan_node;  // index into plan_.nodes
    std::unique_ptr<Kernel> kernel;
    RunContext ctx;
    double flops = 0;    // per run (OpDef::flops)
    double seconds = 0;  // summed over runs, when profiling
  };

  Executor(Graph& graph, ExecutorOptions options);
  // An error unless `arena_bytes`, the feeds and scratch fit in memory.
  absl::Status CheckPlanFits(int64_t arena_bytes) const;
  // Feeds become required inputs; parameters, buffers and constants are read where they are.
  void BindSources();
  // Creates the plan's kernels in order, recording in plan_.layouts the layouts they choose.
  absl::Status CreateKernels();
  absl::StatusOr<std::unique_ptr<Kernel>> CreateKernel(const passes::PlanNode& n, RunContext& ctx);
  double Flops(const passes::PlanNode& n) const;  // OpDef::flops of the node, or 0
  absl::Status RunKernel(PlannedKernel& k);  // timed when profiling; errors name the node
  // Allocates the arena and feed buffers and points the kernels at their values.
  void AllocateAndConnect();
  // The bf16 copy of parameter `p` (created on first use) for kernels that read it in bf16.
  const Tensor* Bf16Copy(Value p);  // created on first use
  void RefreshBf16Copies();
  // The profile's name of a kernel: its label and the passes that made or changed it.
  std::string ProfileLabel(const passes::PlanNode& n) const;

  Graph& graph_;
  ExecutorOptions options_;
  passes::Plan plan_;
  dnnl::engine engine_;
  dnnl::stream stream_;
  std::vector<Value> required_inputs_;
  std::vector<Tensor*> slots_;             // by plan value id: the tensor a kernel reads or writes
  std::vector<std::unique_ptr<Tensor>> views_;  // arena views owned by the plan
  std::vector<Tensor> feed_buffers_;       // by position in required_inputs_
  Tensor arena_;
  Tensor scratch_;
  std::vector<PlannedKernel> kernels_;
  struct WeightCopy {
    const Tensor* source;  // the f32 parameter
    std::unique_ptr<Tensor> copy;
    bool written = false;  // by the caller since the last run (Bf16CopiesWritten)
  };
  std::vector<WeightCopy> bf16_copies_;
  double bf16_copy_seconds_ = 0;  // when profiling
  // Under fixed_parameters: the parameters changed since the last run (ParametersChanged), so
  // the bf16 copies and the parameter-only kernels' results need computing again.
  bool parameters_changed_ = true;
  PlanStats stats_;
  uint64_t step_ = 0;
  int64_t sample_offset_ = 0;
  uint64_t profiled_runs_ = 0;
  bool print_profile_ = false;
  bool print_per_kernel_ = false;
};

}  // namespace dlf

#endif  // DLF_GRAPH_EXECUTOR_H_
