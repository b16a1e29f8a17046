#ifndef DLF_GRAPH_DUMP_H_
#define DLF_GRAPH_DUMP_H_

#include <string>

#include "graph/graph.h"

namespace dlf {

// One line per node: "%7 conv1 = Conv2D(%0 x, %1 conv1.weight) {pad=[2, 2]} -> f32[8, 96, 8, 8]".
std::string DumpText(const Graph& graph);

// Graphviz DOT: sources as boxes (inputs, parameters, constants), ops as ellipses, edges
// labelled with shapes. `dot -Tsvg graph.dot > graph.svg` renders it.
std::string DumpDot(const Graph& graph);

}  // namespace dlf

#endif  // DLF_GRAPH_DUMP_H_
