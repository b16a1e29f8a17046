#include "graph/passes/passes.h"

namespace dlf::passes {

Plan Prune(const Graph& graph, std::vector<Value> fetches, ExecutorOptions options) {
  Plan plan;
  plan.graph = &graph;
  plan.options = options;
  std::vector<bool> needed(graph.num_nodes(), false);
  for (Value v : fetches) needed[graph.producer(v).id] = true;
  for (int n = graph.num_nodes() - 1; n >= 0; --n) {
    if (!needed[n]) continue;
    for (Value in : graph.node(n).inputs) needed[graph.producer(in).id] = true;
  }
  plan.fetches = std::move(fetches);
  for (int v = 0; v < graph.num_values(); ++v) plan.values.push_back(graph.info(Value{v}));
  for (int n = 0; n < graph.num_nodes(); ++n) {  // node ids are already a topological order
    if (!needed[n]) continue;
    const Node& node = graph.node(n);
    if (node.kind == NodeKind::kOp) {
      plan.nodes.push_back({.node = node, .label = node.op});
    } else {
      plan.sources.push_back(n);
    }
  }
  return plan;
}

}  // namespace dlf::passes
