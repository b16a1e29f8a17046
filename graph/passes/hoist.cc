#include "graph/passes/passes.h"

namespace dlf::passes {

Plan HoistParameterOnly(Plan plan) {
  if (!plan.options.fixed_parameters) return plan;
  std::vector<bool>& fixed = plan.fixed_values;
  fixed.assign(plan.values.size(), false);
  for (size_t v = 0; v < plan.values.size(); ++v) {
    const NodeKind kind = plan.producer_kind(Value{static_cast<int>(v)});
    fixed[v] = kind == NodeKind::kParameter || kind == NodeKind::kBuffer || kind == NodeKind::kConstant;
  }
  for (PlanNode& n : plan.nodes) {
    const OpDef* def = Def(n);
    bool only = def != nullptr && def->state_inputs.empty() && !n.node.inputs.empty();
    for (Value in : n.node.inputs) only = only && fixed[in.id];
    n.parameter_only = only;
    if (!only) continue;
    for (Value out : n.node.outputs) fixed[out.id] = true;
    n.passes.push_back("hoist");
  }
  return plan;
}

}  // namespace dlf::passes
