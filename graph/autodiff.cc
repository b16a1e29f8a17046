#include "graph/autodiff.h"

#include "absl/strings/str_cat.h"
#include "graph/op_registry.h"
#include "graph/status_macros.h"

namespace dlf {
namespace {

// values_reached[v]: v depends on some w in wrt (through any node).
std::vector<bool> ReachedFromWrt(const Graph& g, const std::vector<Value>& wrt) {
  std::vector<bool> reached(g.num_values(), false);
  for (Value w : wrt) reached[w.id] = true;
  for (int n = 0; n < g.num_nodes(); ++n) {
    const Node& node = g.node(n);
    bool any = false;
    for (Value in : node.inputs) any = any || reached[in.id];
    if (any) {
      for (Value out : node.outputs) reached[out.id] = true;
    }
  }
  return reached;
}

// leads[v]: the loss depends on v.
std::vector<bool> LeadsToLoss(const Graph& g, Value loss) {
  std::vector<bool> leads(g.num_values(), false);
  leads[loss.id] = true;
  for (int n = g.producer(loss).id; n >= 0; --n) {
    const Node& node = g.node(n);
    bool any = false;
    for (Value out : node.outputs) any = any || leads[out.id];
    if (any) {
      for (Value in : node.inputs) leads[in.id] = true;
    }
  }
  return leads;
}

// Sums the gradient contributions of one value; invalid when there are none.
absl::StatusOr<Value> SumContributions(Graph& g, const std::vector<Value>& parts) {
  if (parts.empty()) return Value{};
  if (parts.size() == 1) return parts[0];
  DLF_ASSIGN_OR_RETURN(const std::vector<Value> sum, g.AddOp(kAddNOp, parts));
  return sum[0];
}

absl::StatusOr<Value> SeedGradient(Graph& g, Value loss, Value loss_grad) {
  if (loss_grad.valid()) {
    if (g.shape(loss_grad) != g.shape(loss)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Gradients: loss_grad has shape ", ShapeString(g.shape(loss_grad)),
          " but the loss '", g.ValueName(loss), "' has shape ", ShapeString(g.shape(loss))));
    }
    return loss_grad;
  }
  if (NumElements(g.shape(loss)) != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Gradients: the loss '", g.ValueName(loss), "' has shape ", ShapeString(g.shape(loss)),
        "; a non-scalar output needs an explicit loss_grad"));
  }
  Tensor ones(DType::kF32, g.shape(loss));
  ones.Fill(1.0f);
  return g.Constant(std::move(ones), absl::StrCat(g.ValueName(loss), "/grad_seed"));
}

}  // namespace

absl::StatusOr<std::vector<Value>> Gradients(Graph& g, Value loss, const std::vector<Value>& wrt,
                                             Value loss_grad) {
  DLF_RETURN_IF_ERROR(g.status());
  if (!g.Contains(loss)) return absl::InvalidArgumentError("Gradients: invalid loss value");
  if (g.dtype(loss) != DType::kF32) {
    return absl::InvalidArgumentError(absl::StrCat("Gradients: the loss '", g.ValueName(loss),
                                                   "' must be f32, found ", DTypeName(g.dtype(loss))));
  }
  for (Value w : wrt) {
    if (!g.Contains(w)) return absl::InvalidArgumentError("Gradients: invalid value in wrt");
  }
  const int last_forward_node = g.producer(loss).id;
  const std::vector<bool> reached = ReachedFromWrt(g, wrt);
  const std::vector<bool> leads = LeadsToLoss(g, loss);

  DLF_ASSIGN_OR_RETURN(const Value seed, SeedGradient(g, loss, loss_grad));
  std::vector<std::vector<Value>> contributions(g.num_values());
  contributions[loss.id].push_back(seed);

  for (int n = last_forward_node; n >= 0; --n) {
    const Node node = g.node(n);  // a copy: the gradient rule appends to the node list
    if (node.kind != NodeKind::kOp) continue;
    std::vector<bool> wants(node.inputs.size());
    bool any_wanted = false;
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      const Value in = node.inputs[i];
      wants[i] = reached[in.id] && leads[in.id] && g.dtype(in) == DType::kF32;
      any_wanted = any_wanted || wants[i];
    }
    if (!any_wanted) continue;
    std::vector<Value> output_grads;
    bool any_grad = false;
    for (Value out : node.outputs) {
      DLF_ASSIGN_OR_RETURN(const Value sum, SumContributions(g, contributions[out.id]));
      output_grads.push_back(sum);
      any_grad = any_grad || sum.valid();
    }
    if (!any_grad) continue;
    const OpDef* def = OpRegistry::Global().Find(node.op);
    if (def == nullptr || !def->gradient) {
      return absl::UnimplementedError(absl::StrCat(
          "Gradients: op '", node.op, "' (node '", node.name,
          "') has no gradient rule, and it lies on the path from the loss '", g.ValueName(loss),
          "' to a value gradients were asked for"));
    }
    GradContext ctx{g, node, output_grads, wants};
    absl::StatusOr<std::vector<Value>> input_grads = def->gradient(ctx);
    if (!input_grads.ok()) {
      return absl::Status(input_grads.status().code(),
                          absl::StrCat("Gradients: gradient rule of node '", node.name, "' (",
                                       node.op, "): ", input_grads.status().message()));
    }
    if (input_grads->size() != node.inputs.size()) {
      return absl::InternalError(absl::StrCat("gradient rule of op '", node.op, "' returned ",
                                              input_grads->size(), " gradients for ",
                                              node.inputs.size(), " inputs"));
    }
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      if (wants[i] && (*input_grads)[i].valid()) {
        contributions[node.inputs[i].id].push_back((*input_grads)[i]);
      }
    }
  }

  std::vector<Value> result;
  for (Value w : wrt) {
    DLF_ASSIGN_OR_RETURN(const Value sum, SumContributions(g, contributions[w.id]));
    result.push_back(sum);
  }
  DLF_RETURN_IF_ERROR(g.status());
  return result;
}

}  // namespace dlf
