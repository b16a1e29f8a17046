#include "graph/passes/plan.h"

#include <algorithm>

namespace dlf::passes {

Value Plan::AddValue(const ValueInfo& info) {
  values.push_back(info);
  if (!layouts.empty()) layouts.emplace_back();
  return Value{static_cast<int>(values.size()) - 1};
}

NodeKind Plan::producer_kind(Value v) const {
  return v.id < graph->num_values() ? graph->producer(v).kind : NodeKind::kOp;
}

int64_t Plan::ValueBytes(Value v) const {
  constexpr int64_t a = Tensor::kAlignment;
  const int64_t plain = NumElements(info(v).shape) * DTypeSize(info(v).dtype);
  const int64_t laid_out =
      v.id < static_cast<int>(layouts.size()) ? static_cast<int64_t>(layouts[v.id].get_size()) : 0;
  return (std::max<int64_t>({1, plain, laid_out}) + a - 1) / a * a;
}

std::vector<int> Plan::ReaderCounts() const {
  std::vector<int> readers(values.size(), 0);
  for (const PlanNode& n : nodes) {
    for (Value in : n.node.inputs) ++readers[in.id];
  }
  for (Value v : fetches) ++readers[v.id];
  return readers;
}

std::vector<int> Plan::Writers() const {
  std::vector<int> writer(values.size(), -1);
  for (size_t i = 0; i < nodes.size(); ++i) {
    for (Value out : nodes[i].node.outputs) writer[out.id] = static_cast<int>(i);
  }
  return writer;
}

const OpDef* Def(const PlanNode& n) { return OpRegistry::Global().Find(n.node.op); }

}  // namespace dlf::passes
