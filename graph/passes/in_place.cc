#include <algorithm>

#include "graph/passes/passes.h"

namespace dlf::passes {

Plan ChooseInPlace(Plan plan) {
  std::vector<int> last_reader(plan.values.size(), -1);
  for (size_t i = 0; i < plan.nodes.size(); ++i) {
    for (Value in : plan.nodes[i].node.inputs) last_reader[in.id] = static_cast<int>(i);
  }
  for (Value v : plan.fetches) last_reader[v.id] = static_cast<int>(plan.nodes.size());
  const std::vector<int> writer = plan.Writers();
  for (size_t i = 0; i < plan.nodes.size(); ++i) {
    PlanNode& n = plan.nodes[i];
    n.writes_in_place = false;
    const OpDef* def = Def(n);
    if (!plan.options.in_place || def == nullptr || !def->in_place || !n.post_ops.empty() ||
        n.node.inputs.empty() || n.node.outputs.empty() || n.parameter_only) {
      continue;
    }
    const Value in = n.node.inputs[0], out = n.node.outputs[0];
    if (writer[in.id] >= 0 && plan.nodes[writer[in.id]].parameter_only) continue;  // kept across runs
    const auto uses = std::count(n.node.inputs.begin(), n.node.inputs.end(), in);
    n.writes_in_place = writer[in.id] >= 0 && last_reader[in.id] == static_cast<int>(i) &&
                        uses == 1 && plan.ValueBytes(in) == plan.ValueBytes(out);
    if (n.writes_in_place) n.passes.push_back("in-place");
  }
  return plan;
}

}  // namespace dlf::passes
