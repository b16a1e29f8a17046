#include "graph/passes/passes.h"

namespace dlf::passes {

Plan Fuse(Plan plan) {
  if (!plan.options.fuse) return plan;
  const std::vector<int> readers = plan.ReaderCounts();
  std::vector<int> writer = plan.Writers();
  std::vector<bool> folded(plan.nodes.size(), false);
  for (size_t i = 0; i < plan.nodes.size(); ++i) {
    const PlanNode& n = plan.nodes[i];
    if (n.node.inputs.size() != 1 || n.node.outputs.size() != 1) continue;
    const OpDef* def = Def(n);
    const Value in = n.node.inputs[0];
    const int p = writer[in.id];
    if (def == nullptr || def->post_op.empty() || p < 0) continue;
    PlanNode& producer = plan.nodes[p];
    const OpDef* producer_def = Def(producer);
    // The post-op applies to the producer's output 0 (e.g. pooling's, not its workspace).
    if (producer_def == nullptr || !producer_def->accepts_post_ops || producer.node.outputs[0] != in ||
        readers[in.id] != 1 || !producer.post_ops.empty() ||
        (producer_def->accepts_only_relu && def->post_op != "relu")) {
      continue;
    }
    producer.post_ops.push_back({def->post_op, n.node.attrs});
    producer.node.outputs[0] = n.node.outputs[0];
    producer.label += "+" + n.node.op;
    producer.passes.push_back("fuse");
    writer[n.node.outputs[0].id] = p;
    folded[i] = true;
  }
  std::vector<PlanNode> kept;
  for (size_t i = 0; i < plan.nodes.size(); ++i) {
    if (!folded[i]) kept.push_back(std::move(plan.nodes[i]));
  }
  plan.nodes = std::move(kept);
  return plan;
}

}  // namespace dlf::passes
