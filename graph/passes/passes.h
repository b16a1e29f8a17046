#ifndef DLF_GRAPH_PASSES_PASSES_H_
#define DLF_GRAPH_PASSES_PASSES_H_
// The compile-time passes, in the order Executor::Compile runs them. Each takes a plan and
// returns the plan it makes; each is in its own file, and the op-specific ones (rewrites) are
// declared by the ops through the registry, so the graph package names no op.

#include <functional>
#include <string>
#include <vector>

#include "graph/passes/plan.h"

namespace dlf::passes {

// prune.cc: the plan of what `fetches` need, in graph order (a topological order).
Plan Prune(const Graph& graph, std::vector<Value> fetches, ExecutorOptions options);

// rewrite.cc: rewrites an op family declares over the plan (RegisterPlanRewrite), each keeping
// every fetched value exact. `apply` changes the plan and returns how many places it rewrote.
struct PlanRewrite {
  std::string name;
  std::function<int(Plan&)> apply;
};
bool RegisterPlanRewrite(PlanRewrite rewrite);
Plan Rewrite(Plan plan);

// fuse.cc: an element-wise node (OpDef::post_op) runs inside its producer's kernel
// (OpDef::accepts_post_ops) when it is the only reader of the producer's output 0.
Plan Fuse(Plan plan);

// precision.cc: under ExecutorOptions::bf16, the inputs OpDef::bf16_inputs names that are
// parameters are read from bf16 copies of them.
Plan ChoosePrecision(Plan plan);

// layout.cc: which outputs a kernel may write in a layout of its choice: those only kernels
// that take any layout read (OpDef::any_layout), and not fetched.
Plan ChooseLayouts(Plan plan);
// Whether node `n`'s kernel reads its inputs in any layout (and is told them).
bool TakesAnyLayout(const Plan& plan, const PlanNode& n);

// hoist.cc: marks the kernels whose results depend on the parameters alone
// (PlanNode::parameter_only), under ExecutorOptions::fixed_parameters.
Plan HoistParameterOnly(Plan plan);

// in_place.cc: an element-wise node (OpDef::in_place) writes over its input 0 when nothing
// reads that input afterwards and both take the same bytes (after the kernels chose layouts).
Plan ChooseInPlace(Plan plan);

// memory.cc: an offset in one arena for every value the kernels write, by lifetime: values
// whose lifetimes do not overlap share memory. Outputs of parameter-only kernels live across
// runs: they share with nothing.
Plan PlaceValues(Plan plan);
// Before the kernels exist (their layouts can only add padding): bytes every placement needs
// at least, the largest node's outputs or its inputs from the arena.
int64_t ArenaLowerBound(const Plan& plan);

}  // namespace dlf::passes

#endif  // DLF_GRAPH_PASSES_PASSES_H_
