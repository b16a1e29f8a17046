#ifndef DLF_GRAPH_EXECUTOR_H_
#define DLF_GRAPH_EXECUTOR_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "graph/graph.h"
#include "graph/op_registry.h"
#include "graph/tensor.h"

namespace dlf {

struct ExecutorOptions {
  bool training = true;  // dropout and similar ops behave differently in inference
  // Kernels may use faster algorithms that round differently from the textbook computation
  // (Winograd convolutions: ~1e-3 relative); false asks for results as exact as f32 allows.
  bool fast_math = true;
  // Convolutions and linear layers compute in bf16 (operands rounded to bf16, products
  // accumulated and written in f32); every value the graph sees stays f32.
  bool bf16 = false;
  // Run an element-wise op inside its producer's kernel (conv + ReLU) where the registry allows.
  bool fuse = true;
  // Let element-wise ops (OpDef::in_place) write over an input nothing reads afterwards.
  bool in_place = true;
  // Values written and read only by oneDNN kernels (OpDef::any_layout) keep the blocked
  // layouts those kernels choose; fetched values and values other kernels read stay plain.
  bool layouts = true;
  // The parameters change only where the caller says so (Executor::ParametersChanged), e.g.
  // inference with loaded weights: the bf16 weight copies are refreshed then, not every run.
  bool fixed_parameters = false;
  // Time every kernel; ProfileReport() sums the times by op. Also turned on by the
  // environment variable DLF_PROFILE=1, which prints the report when the executor is destroyed.
  bool profile = false;
};

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
};

// One oneDNN implementation a kernel of the plan runs (Executor::Implementations).
struct KernelImplementation {
  std::string node;            // the node's name
  std::string label;           // the kernel's op, e.g. "Conv2D+Relu"
  std::string implementation;  // impl_info_str(), "reorder " + it for the kernel's reorders
};

// Compiles (graph, fetches) once: prunes to the nodes the fetches need, orders them, creates
// every kernel (and its oneDNN primitives), and assigns each intermediate value an offset in
// one arena by value lifetime, so values whose lifetimes do not overlap share memory. Run()
// then executes the plan repeatedly without allocating.
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
  void ParametersChanged() { copies_stale_ = true; }

  // The i-th fetched value of the last Run(): a view valid until the next Run().
  const Tensor& fetch(int i) const { return *slots_[fetches_[i].id]; }
  // The same, writable (e.g. to clip gradients in place before an optimizer reads them).
  Tensor& mutable_fetch(int i) { return *slots_[fetches_[i].id]; }
  int num_fetches() const { return static_cast<int>(fetches_.size()); }

  const PlanStats& stats() const { return stats_; }
  // Every oneDNN implementation the plan's kernels run, in plan order.
  std::vector<KernelImplementation> Implementations() const;
  // Milliseconds per run spent in each op (kernels of the same op summed), slowest first.
  std::string ProfileReport() const;
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
    int node_id;
    std::string label;  // the op, or "Conv2D+Relu" for a fused pair
    std::unique_ptr<Kernel> kernel;
    RunContext ctx;
    double seconds = 0;  // summed over runs, when profiling
  };

  Executor(Graph& graph, std::vector<Value> fetches, ExecutorOptions options);
  absl::Status Plan();
  std::vector<int> NeededNodes() const;
  // Producer node -> the element-wise node folded into it (OpDef::post_op), for this plan.
  void FindFusions(const std::vector<int>& order);
  // The values node `n` writes: a fused producer writes its folded op's output as output 0.
  const std::vector<Value>& WrittenValues(const Node& n) const;
  // An error unless the arena (as last placed), feeds and scratch fit in memory.
  absl::Status CheckPlanFits() const;
  // Offsets of the intermediate values in the arena, by value id (-1: not in the arena); sets
  // stats_.arena_bytes. Allocates nothing, so the plan's size is checked before it is allocated.
  std::vector<int64_t> PlaceValues(const std::vector<int>& order);
  // Whether node `n` at plan position `pos` may write its output 0 over its input 0.
  bool WritesInPlace(const Node& n, int pos, const std::vector<int>& last_use,
                     const std::vector<int64_t>& offset) const;
  void AllocateBuffers(const std::vector<int64_t>& offsets);
  // Whether node `n`'s kernel takes its inputs in any layout (OpDef::any_layout...).
  bool AcceptsLayouts(const Node& n) const;
  // Whether each value may be stored in a layout its producer chooses (ExecutorOptions::layouts).
  std::vector<bool> FreeLayouts(const std::vector<int>& order) const;
  // Creates the kernels in plan order, recording the layouts they choose in layouts_.
  absl::Status CreateKernels(const std::vector<int>& order);
  // Points the kernels at their values' buffers, once those are allocated.
  void ConnectKernels();
  // Bytes of value `v` in the arena: its plain size, or its layout's if that is larger.
  int64_t ValueBytes(Value v) const;
  // The bf16 copy of parameter `p` (created on first use) for kernels that read it in bf16.
  const Tensor* Bf16Copy(Value p);
  void RefreshBf16Copies();

  Graph& graph_;
  std::vector<Value> fetches_;
  ExecutorOptions options_;
  dnnl::engine engine_;
  dnnl::stream stream_;
  std::vector<Value> required_inputs_;
  std::vector<Tensor*> slots_;             // by value id: the tensor a kernel reads or writes
  std::vector<dnnl::memory::desc> layouts_;  // by value id: a zero desc is plain row-major
  std::vector<std::unique_ptr<Tensor>> views_;  // arena and feed views owned by the plan
  std::vector<Tensor> feed_buffers_;       // by position in required_inputs_
  Tensor arena_;
  Tensor scratch_;
  std::vector<PlannedKernel> kernels_;
  std::map<int, int> fused_into_;      // producer node id -> folded node id
  // Fused producer node id -> what its kernel writes: its outputs, the folded node's output
  // in place of output 0.
  std::map<int, std::vector<Value>> fused_written_;
  std::set<int> folded_;               // node ids that run inside their producer
  struct WeightCopy {
    const Tensor* source;  // the f32 parameter
    std::unique_ptr<Tensor> copy;
  };
  std::vector<WeightCopy> bf16_copies_;
  double bf16_copy_seconds_ = 0;  // when profiling
  bool copies_stale_ = true;      // the bf16 copies need a refresh before the next run
  PlanStats stats_;
  uint64_t step_ = 0;
  int64_t sample_offset_ = 0;
  uint64_t profiled_runs_ = 0;
  bool print_profile_ = false;
};

}  // namespace dlf

#endif  // DLF_GRAPH_EXECUTOR_H_
