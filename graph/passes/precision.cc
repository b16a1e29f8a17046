#include "graph/passes/passes.h"

namespace dlf::passes {

Plan ChoosePrecision(Plan plan) {
  for (PlanNode& n : plan.nodes) {
    n.bf16_copy_inputs.assign(n.node.inputs.size(), false);
    const OpDef* def = Def(n);
    if (!plan.options.bf16 || def == nullptr) continue;
    bool converted = false;
    for (int i : def->bf16_inputs) {
      if (i >= static_cast<int>(n.node.inputs.size())) continue;
      if (plan.producer_kind(n.node.inputs[i]) != NodeKind::kParameter) continue;
      n.bf16_copy_inputs[i] = converted = true;
    }
    if (converted) n.passes.push_back("precision");
  }
  return plan;
}

}  // namespace dlf::passes
