#ifndef DLF_GRAPH_PASSES_PLAN_H_
#define DLF_GRAPH_PASSES_PLAN_H_
// The executor's plan: what the compile-time passes read and write. The user's graph (and the
// gradients autodiff added to it) stays as built; the plan holds its own copy of the nodes to
// run, which passes reorder, rewrite, fuse and annotate.

#include <cstdint>
#include <string>
#include <vector>

#include "graph/graph.h"
#include "graph/op_registry.h"
#include "oneapi/dnnl/dnnl.hpp"

namespace dlf {

struct ExecutorOptions {
  bool training = true;  // dropout and similar ops behave differently in inference
  // Kernels may use faster algorithms that round differently from the textbook computation
  // (Winograd convolutions: ~1e-3 relative); false asks for results as exact as f32 allows.
  bool fast_math = true;
  // Convolutions and linear layers compute in bf16 (operands rounded to bf16, products
  // accumulated in f32); values written and read only by oneDNN kernels are kept in bf16
  // between them (ops/op_util.h: Bf16Output). Fetched values and parameters stay f32.
  bool bf16 = false;
  // Apply the rewrites the ops declare (graph/passes/passes.h: Rewrite), e.g. ReLU after max
  // pooling; every fetched value stays exact.
  bool rewrite = true;
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
  // environment variable DLF_PROFILE=1, which prints the report when the executor is destroyed
  // (DLF_PROFILE=kernels: one row per kernel).
  bool profile = false;
};

namespace passes {

// One kernel of the plan: a node of the graph, or what a pass made of nodes.
struct PlanNode {
  Node node;  // op, name, attributes; inputs and outputs are plan values
  std::string label;                   // the op, or "Conv2D+Relu" for a fused pair
  std::vector<std::string> passes;     // the passes that made or changed it, in order
  std::vector<PostOp> post_ops;       // fuse: the ops folded into it
  std::vector<bool> bf16_copy_inputs;  // precision: input i is read from its parameter's bf16 copy
  std::vector<bool> free_outputs;      // layout: output i may be written in the kernel's layout
  bool writes_in_place = false;        // in-place: output 0 takes input 0's memory
  // hoist: every input is a parameter, buffer, constant or another such node's output, and the
  // parameters change only when the caller says (ExecutorOptions::fixed_parameters): the kernel
  // runs only after they changed, and its outputs keep their memory between runs.
  bool parameter_only = false;
};

struct Plan {
  const Graph* graph = nullptr;
  std::vector<Value> fetches;
  ExecutorOptions options;
  std::vector<int> sources;        // the graph's non-op nodes the plan reads, in graph order
  std::vector<PlanNode> nodes;     // the kernels, in the order they run
  std::vector<ValueInfo> values;   // by value id: the graph's values, then those passes added
  std::vector<dnnl::memory::desc> layouts;  // by value id, as the kernels chose (zero: plain)
  // hoist: by value id, whether it changes only with the parameters (a parameter, buffer,
  // constant or parameter-only node's output); empty unless ExecutorOptions::fixed_parameters.
  std::vector<bool> fixed_values;
  std::vector<int64_t> offsets;    // memory: by value id, the place in the arena (-1: none)
  int64_t arena_bytes = 0;         // memory: the arena's size
  int64_t sum_value_bytes = 0;     // memory: what the arena's values take without reuse

  const ValueInfo& info(Value v) const { return values[v.id]; }
  Value AddValue(const ValueInfo& info);
  // The kind of node that produces `v`: kOp for a value a plan node writes.
  NodeKind producer_kind(Value v) const;
  // Bytes of `v` in memory: its plain size, or its layout's when that is larger; aligned.
  int64_t ValueBytes(Value v) const;
  // By value id: how many plan nodes read it (a node reading it twice counts twice), plus one
  // for each fetch of it.
  std::vector<int> ReaderCounts() const;
  // By value id: the index of the plan node that writes it, or -1.
  std::vector<int> Writers() const;
};

// The registry's entry for a plan node's op (every op node is registered once the graph built).
const OpDef* Def(const PlanNode& n);

}  // namespace passes
}  // namespace dlf

#endif  // DLF_GRAPH_PASSES_PLAN_H_
