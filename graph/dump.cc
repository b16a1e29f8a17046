#include "graph/dump.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace dlf {
namespace {

std::string TypeString(const Graph& g, Value v) {
  return absl::StrCat(DTypeName(g.dtype(v)), ShapeString(g.shape(v)));
}

std::string DotEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

std::string DumpText(const Graph& g) {
  std::string out;
  for (int n = 0; n < g.num_nodes(); ++n) {
    const Node& node = g.node(n);
    std::vector<std::string> ins, outs;
    for (Value v : node.inputs) ins.push_back(absl::StrCat("%", v.id, " ", g.ValueName(v)));
    for (Value v : node.outputs) outs.push_back(absl::StrCat("%", v.id, " ", TypeString(g, v)));
    absl::StrAppend(&out, node.name, " = ", node.op, "(", absl::StrJoin(ins, ", "), ")");
    if (!node.attrs.values().empty()) absl::StrAppend(&out, " ", node.attrs.ToString());
    absl::StrAppend(&out, " -> ", absl::StrJoin(outs, ", "), "\n");
  }
  return out;
}

std::string DumpDot(const Graph& g) {
  std::string out = "digraph G {\n  rankdir=TB;\n  node [fontname=\"Helvetica\"];\n";
  for (int n = 0; n < g.num_nodes(); ++n) {
    const Node& node = g.node(n);
    const char* shape = node.kind == NodeKind::kOp ? "ellipse" : "box";
    const char* color = node.kind == NodeKind::kParameter ? "lightblue"
                        : node.kind == NodeKind::kInput ? "lightgreen"
                                                        : "white";
    absl::StrAppend(&out, "  n", n, " [label=\"", DotEscape(node.name), "\\n", node.op,
                    "\", shape=", shape, ", style=filled, fillcolor=", color, "];\n");
    for (Value in : node.inputs) {
      absl::StrAppend(&out, "  n", g.producer(in).id, " -> n", n, " [label=\"",
                      TypeString(g, in), "\", fontsize=9];\n");
    }
  }
  absl::StrAppend(&out, "}\n");
  return out;
}

}  // namespace dlf
