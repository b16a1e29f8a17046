#include <algorithm>
#include <iterator>
#include <map>

#include "graph/passes/passes.h"

namespace dlf::passes {
namespace {

// First-fit allocator over one address range, with merging of freed neighbours. Used only at
// compile time to place values; the peak end offset is the arena size.
class OffsetAllocator {
 public:
  int64_t Allocate(int64_t bytes) {
    for (auto it = free_.begin(); it != free_.end(); ++it) {
      if (it->second >= bytes) {
        const int64_t offset = it->first;
        const int64_t rest = it->second - bytes;
        free_.erase(it);
        if (rest > 0) free_[offset + bytes] = rest;
        return offset;
      }
    }
    // Grow: reuse a free block that ends at the top, if any.
    int64_t offset = top_;
    if (!free_.empty()) {
      auto last = std::prev(free_.end());
      if (last->first + last->second == top_) {
        offset = last->first;
        free_.erase(last);
      }
    }
    top_ = offset + bytes;
    return offset;
  }

  void Free(int64_t offset, int64_t bytes) {
    auto [it, inserted] = free_.emplace(offset, bytes);
    auto next = std::next(it);
    if (next != free_.end() && it->first + it->second == next->first) {
      it->second += next->second;
      free_.erase(next);
    }
    if (it != free_.begin()) {
      auto prev = std::prev(it);
      if (prev->first + prev->second == it->first) {
        prev->second += it->second;
        free_.erase(it);
      }
    }
  }

  int64_t top() const { return top_; }

 private:
  std::map<int64_t, int64_t> free_;  // offset -> size
  int64_t top_ = 0;
};

}  // namespace

Plan PlaceValues(Plan plan) {
  const int num_nodes = static_cast<int>(plan.nodes.size());
  // last_use[v]: the last node reading v; fetches live to the end.
  std::vector<int> last_use(plan.values.size(), -1);
  for (int i = 0; i < num_nodes; ++i) {
    for (Value in : plan.nodes[i].node.inputs) last_use[in.id] = i;
  }
  for (Value v : plan.fetches) last_use[v.id] = num_nodes;

  OffsetAllocator allocator;
  plan.offsets.assign(plan.values.size(), -1);
  plan.sum_value_bytes = 0;
  std::vector<std::vector<Value>> frees_at(num_nodes + 1);
  std::vector<bool> handed_over(plan.values.size(), false);  // its memory went to an output
  for (const PlanNode& n : plan.nodes) {  // kept across runs: placed first, never freed
    if (!n.parameter_only) continue;
    for (Value out : n.node.outputs) {
      plan.offsets[out.id] = allocator.Allocate(plan.ValueBytes(out));
      plan.sum_value_bytes += plan.ValueBytes(out);
    }
  }
  for (int i = 0; i < num_nodes; ++i) {
    const PlanNode& n = plan.nodes[i];
    if (n.parameter_only) continue;
    // Outputs are placed before the inputs are released, so no output aliases an input unless
    // the in-place pass chose it.
    for (size_t o = 0; o < n.node.outputs.size(); ++o) {
      const Value out = n.node.outputs[o];
      if (o == 0 && n.writes_in_place) {
        plan.offsets[out.id] = plan.offsets[n.node.inputs[0].id];
        handed_over[n.node.inputs[0].id] = true;
      } else {
        plan.offsets[out.id] = allocator.Allocate(plan.ValueBytes(out));
      }
      plan.sum_value_bytes += plan.ValueBytes(out);
      frees_at[std::max(last_use[out.id], i)].push_back(out);
    }
    for (Value dead : frees_at[i]) {
      if (!handed_over[dead.id]) allocator.Free(plan.offsets[dead.id], plan.ValueBytes(dead));
    }
  }
  plan.arena_bytes = allocator.top();
  return plan;
}

int64_t ArenaLowerBound(const Plan& plan) {
  const std::vector<int> writer = plan.Writers();
  int64_t bound = 0;
  for (const PlanNode& n : plan.nodes) {
    int64_t inputs = 0, outputs = 0;
    for (Value in : n.node.inputs) inputs += writer[in.id] >= 0 ? plan.ValueBytes(in) : 0;
    for (Value out : n.node.outputs) outputs += plan.ValueBytes(out);
    bound = std::max({bound, inputs, outputs});
  }
  return bound;
}

}  // namespace dlf::passes
