#ifndef DLF_GRAPH_AUTODIFF_H_
#define DLF_GRAPH_AUTODIFF_H_

#include <vector>

#include "absl/status/statusor.h"
#include "graph/graph.h"

namespace dlf {

// The op autodiff uses to sum the gradients of a value used more than once. It is an ordinary
// registered op (ops/elementwise.cc); graph/ only knows its name.
inline constexpr char kAddNOp[] = "AddN";

// Reverse-mode autodiff. Adds to `graph` the nodes computing d(loss)/d(w) for every w in `wrt`
// and returns them in order. `loss` must be a scalar unless `loss_grad` (same shape as loss)
// is given. A returned Value is invalid when that w does not reach the loss (or only through a
// StopGradient). Fails, naming the node, if an op on a needed path has no gradient rule.
absl::StatusOr<std::vector<Value>> Gradients(Graph& graph, Value loss,
                                             const std::vector<Value>& wrt,
                                             Value loss_grad = Value{});

}  // namespace dlf

#endif  // DLF_GRAPH_AUTODIFF_H_
