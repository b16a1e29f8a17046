#include <algorithm>

#include "graph/passes/passes.h"

namespace dlf::passes {

bool TakesAnyLayout(const Plan& plan, const PlanNode& n) {
  const OpDef* def = Def(n);
  if (def == nullptr) return false;
  if (def->any_layout) return true;
  const Shape& out = plan.info(n.node.outputs[0]).shape;
  return def->any_layout_same_shape &&
         std::all_of(n.node.inputs.begin(), n.node.inputs.end(),
                     [&](Value in) { return plan.info(in).shape == out; });
}

Plan ChooseLayouts(Plan plan) {
  std::vector<bool> free(plan.values.size(), false);
  if (plan.options.layouts) {
    for (const PlanNode& n : plan.nodes) {
      if (!TakesAnyLayout(plan, n)) continue;
      for (Value out : n.node.outputs) free[out.id] = true;
    }
    for (const PlanNode& n : plan.nodes) {
      if (TakesAnyLayout(plan, n)) continue;
      for (Value in : n.node.inputs) free[in.id] = false;
    }
    for (Value v : plan.fetches) free[v.id] = false;
  }
  for (PlanNode& n : plan.nodes) {
    n.free_outputs.clear();
    if (!TakesAnyLayout(plan, n)) continue;
    bool chosen = false;
    for (Value out : n.node.outputs) {
      n.free_outputs.push_back(free[out.id]);
      chosen = chosen || free[out.id];
    }
    if (chosen) n.passes.push_back("layout");
  }
  plan.layouts.assign(plan.values.size(), dnnl::memory::desc());
  return plan;
}

}  // namespace dlf::passes
