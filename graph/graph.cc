#include "graph/graph.h"

#include <cmath>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "graph/memory.h"
#include "graph/op_registry.h"
#include "graph/status_macros.h"

namespace dlf {
namespace {

// Stable across platforms and runs (std::hash is not), so a parameter's initial value depends
// only on the graph seed and the parameter's name.
uint64_t Fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

// PyTorch's convention: dim 0 is "out", dim 1 is "in", the rest is the receptive field.
void FanInOut(const Shape& shape, double& fan_in, double& fan_out) {
  if (shape.size() < 2) {
    fan_in = fan_out = shape.empty() ? 1 : shape[0];
    return;
  }
  double receptive = 1;
  for (size_t i = 2; i < shape.size(); ++i) receptive *= shape[i];
  fan_in = shape[1] * receptive;
  fan_out = shape[0] * receptive;
}

std::string InputsString(const Graph& g, const std::vector<Value>& inputs) {
  std::vector<std::string> parts;
  for (Value v : inputs) {
    parts.push_back(absl::StrCat("'", g.ValueName(v), "' ", DTypeName(g.dtype(v)),
                                 ShapeString(g.shape(v))));
  }
  return absl::StrJoin(parts, ", ");
}

}  // namespace

void InitializeTensor(const Initializer& init, uint64_t seed, Tensor& t) {
  using Kind = Initializer::Kind;
  float* p = t.f32();
  const int64_t n = t.num_elements();
  if (init.kind == Kind::kZeros || init.kind == Kind::kConstant) {
    t.Fill(init.kind == Kind::kZeros ? 0.0f : init.value);
    return;
  }
  double fan_in, fan_out;
  FanInOut(t.shape(), fan_in, fan_out);
  std::mt19937_64 rng(seed);
  double variance = 2.0 / (fan_in + fan_out);  // Xavier
  if (init.kind == Kind::kHeUniform || init.kind == Kind::kHeNormal) variance = 2.0 / fan_in;
  if (init.kind == Kind::kHeNormalFanOut) variance = 2.0 / fan_out;
  if (init.kind == Kind::kTorchDefault) variance = 1.0 / (3.0 * fan_in);  // bound 1/sqrt(fan_in)
  if (init.kind == Kind::kUniform) variance = init.value * init.value / 3.0;
  if (init.kind == Kind::kNormal) variance = init.value * init.value;
  if (init.kind == Kind::kHeUniform || init.kind == Kind::kXavierUniform ||
      init.kind == Kind::kTorchDefault || init.kind == Kind::kUniform) {
    const double bound = std::sqrt(3.0 * variance);
    std::uniform_real_distribution<double> dist(-bound, bound);
    for (int64_t i = 0; i < n; ++i) p[i] = static_cast<float>(dist(rng));
  } else {
    std::normal_distribution<double> dist(0.0, std::sqrt(variance));
    for (int64_t i = 0; i < n; ++i) p[i] = static_cast<float>(dist(rng));
  }
}

const ValueInfo& Graph::NoValueInfo() {
  static const ValueInfo* none = new ValueInfo{};
  return *none;
}

int64_t Graph::dim(Value v, int i) const {
  const Shape& s = shape(v);
  const int rank = static_cast<int>(s.size());
  if (i < 0) i += rank;
  return i >= 0 && i < rank ? s[i] : 0;
}

void Graph::RecordError(absl::Status s) {
  if (status_.ok() && !s.ok()) status_ = std::move(s);
}

absl::Status Graph::CheckName(const std::string& name) const {
  if (name.empty()) return absl::InvalidArgumentError("a node name must not be empty");
  if (node_by_name_.contains(name)) {
    return absl::AlreadyExistsError(absl::StrCat("a node named '", name, "' already exists"));
  }
  return absl::OkStatus();
}

std::string Graph::UniqueName(const std::string& base) {
  std::string name = absl::StrCat(base, "_", nodes_.size());
  while (node_by_name_.contains(name)) name += "_";
  return name;
}

Node& Graph::NewNode(NodeKind kind, const std::string& op, const std::string& name) {
  Node node;
  node.id = static_cast<int>(nodes_.size());
  node.kind = kind;
  node.op = op;
  node.name = name;
  node_by_name_[name] = node.id;
  nodes_.push_back(std::move(node));
  return nodes_.back();
}

Value Graph::NewOutput(Node& node, ValueInfo info) {
  Value v{static_cast<int>(values_.size())};
  values_.push_back({std::move(info), node.id, static_cast<int>(node.outputs.size())});
  node.outputs.push_back(v);
  return v;
}

Value Graph::Input(const std::string& name, DType dtype, Shape shape) {
  if (absl::Status s = CheckName(name); !s.ok()) {
    RecordError(s);
    return {};
  }
  return NewOutput(NewNode(NodeKind::kInput, "Input", name), {dtype, std::move(shape)});
}

Value Graph::Parameter(const std::string& name, Shape shape, Initializer init) {
  if (absl::Status s = CheckName(name); !s.ok()) {
    RecordError(s);
    return {};
  }
  parameter_bytes_ += NumElements(shape) * DTypeSize(DType::kF32);
  if (absl::Status s = CheckFitsInMemory(
          parameter_bytes_, absl::StrCat("parameter '", name, "' ", ShapeString(shape),
                                         " (with the parameters before it)"));
      !s.ok()) {
    RecordError(s);
    return {};
  }
  Node& node = NewNode(NodeKind::kParameter, "Parameter", name);
  Value v = NewOutput(node, {DType::kF32, shape});
  auto tensor = std::make_unique<Tensor>(DType::kF32, shape);
  InitializeTensor(init, seed_ ^ Fnv1a(name), *tensor);
  source_values_[v.id] = std::move(tensor);
  parameters_.push_back(v);
  return v;
}

Value Graph::Buffer(const std::string& name, DType dtype, Shape shape, float initial_value) {
  if (absl::Status s = CheckName(name); !s.ok()) {
    RecordError(s);
    return {};
  }
  Node& node = NewNode(NodeKind::kBuffer, "Buffer", name);
  Value v = NewOutput(node, {dtype, shape});
  auto tensor = std::make_unique<Tensor>(dtype, shape);
  if (dtype == DType::kF32) tensor->Fill(initial_value);
  source_values_[v.id] = std::move(tensor);
  buffers_.push_back(v);
  return v;
}

std::vector<Value> Graph::persistent_values() const {
  std::vector<Value> all = parameters_;
  all.insert(all.end(), buffers_.begin(), buffers_.end());
  return all;
}

absl::StatusOr<Value> Graph::FindPersistent(const std::string& name) const {
  auto it = node_by_name_.find(name);
  if (it != node_by_name_.end() && (nodes_[it->second].kind == NodeKind::kParameter ||
                                    nodes_[it->second].kind == NodeKind::kBuffer)) {
    return nodes_[it->second].outputs[0];
  }
  return absl::NotFoundError(absl::StrCat("no parameter or buffer named '", name, "'"));
}

Value Graph::Constant(Tensor value, const std::string& name) {
  const std::string node_name = name.empty() ? UniqueName("const") : name;
  if (absl::Status s = CheckName(node_name); !s.ok()) {
    RecordError(s);
    return {};
  }
  Node& node = NewNode(NodeKind::kConstant, "Constant", node_name);
  Value v = NewOutput(node, {value.dtype(), value.shape()});
  source_values_[v.id] = std::make_unique<Tensor>(std::move(value));
  return v;
}

absl::StatusOr<std::vector<Value>> Graph::AddOp(const std::string& op, std::vector<Value> inputs,
                                                Attrs attrs, const std::string& name) {
  const std::string node_name = name.empty() ? UniqueName(op) : name;
  const OpDef* def = OpRegistry::Global().Find(op);
  if (def == nullptr) {
    return absl::NotFoundError(absl::StrCat("node '", node_name, "': no op named '", op,
                                            "' is registered (is its library linked?)"));
  }
  if (def->num_inputs >= 0 ? static_cast<int>(inputs.size()) != def->num_inputs
                           : inputs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "node '", node_name, "' (", op, "): expected ",
        def->num_inputs >= 0 ? absl::StrCat(def->num_inputs) : "at least 1", " inputs, got ",
        inputs.size()));
  }
  std::vector<ValueInfo> infos;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!Contains(inputs[i])) {
      return absl::InvalidArgumentError(absl::StrCat("node '", node_name, "' (", op, "): input ",
                                                     i, " is not a value of this graph"));
    }
    infos.push_back(info(inputs[i]));
  }
  absl::StatusOr<std::vector<ValueInfo>> outputs = def->shape(ShapeContext{attrs, infos});
  if (!outputs.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("node '", node_name, "' (", op,
                                                   ") with inputs ", InputsString(*this, inputs),
                                                   ": ", outputs.status().message()));
  }
  DLF_RETURN_IF_ERROR(CheckName(node_name));
  Node& node = NewNode(NodeKind::kOp, op, node_name);
  node.inputs = std::move(inputs);
  node.attrs = std::move(attrs);
  std::vector<Value> result;
  for (ValueInfo& out : *outputs) result.push_back(NewOutput(nodes_.back(), std::move(out)));
  return result;
}

absl::Status Graph::SetAttr(int node_id, const std::string& name, AttrValue value) {
  if (node_id < 0 || node_id >= num_nodes() || nodes_[node_id].kind != NodeKind::kOp) {
    return absl::InvalidArgumentError(absl::StrCat("SetAttr: ", node_id, " is not an op node of this graph"));
  }
  Node& node = nodes_[node_id];
  Attrs attrs = node.attrs;
  attrs.Set(name, std::move(value));
  std::vector<ValueInfo> infos;
  for (Value in : node.inputs) infos.push_back(info(in));
  absl::StatusOr<std::vector<ValueInfo>> outputs =
      OpRegistry::Global().Find(node.op)->shape(ShapeContext{attrs, infos});
  bool same = outputs.ok() && outputs->size() == node.outputs.size();
  for (size_t i = 0; same && i < node.outputs.size(); ++i) {
    same = (*outputs)[i].dtype == dtype(node.outputs[i]) && (*outputs)[i].shape == shape(node.outputs[i]);
  }
  if (!same) {
    return absl::InvalidArgumentError(absl::StrCat(
        "node '", node.name, "' (", node.op, "): attribute '", name, "' cannot change after the node was added: ",
        outputs.ok() ? "its outputs would change" : outputs.status().message()));
  }
  node.attrs = std::move(attrs);
  return absl::OkStatus();
}

std::vector<Value> Graph::Op(const std::string& op, std::vector<Value> inputs, Attrs attrs,
                             const std::string& name) {
  for (Value v : inputs) {
    if (!v.valid()) return {Value{}};  // an earlier error is already recorded
  }
  absl::StatusOr<std::vector<Value>> outputs =
      AddOp(op, std::move(inputs), std::move(attrs), name);
  if (!outputs.ok()) {
    RecordError(outputs.status());
    return {Value{}};
  }
  return *std::move(outputs);
}

Value Graph::Op1(const std::string& op, std::vector<Value> inputs, Attrs attrs,
                 const std::string& name) {
  return Op(op, std::move(inputs), std::move(attrs), name)[0];
}

std::string Graph::ValueName(Value v) const {
  const ValueData& data = values_[v.id];
  const Node& node = nodes_[data.producer];
  if (node.outputs.size() == 1) return node.name;
  return absl::StrCat(node.name, ":", data.output_index);
}

absl::StatusOr<Value> Graph::FindParameter(const std::string& name) const {
  auto it = node_by_name_.find(name);
  if (it == node_by_name_.end() || nodes_[it->second].kind != NodeKind::kParameter) {
    return absl::NotFoundError(absl::StrCat("no parameter named '", name, "'"));
  }
  return nodes_[it->second].outputs[0];
}

absl::StatusOr<Value> Graph::FindInput(const std::string& name) const {
  auto it = node_by_name_.find(name);
  if (it == node_by_name_.end() || nodes_[it->second].kind != NodeKind::kInput) {
    return absl::NotFoundError(absl::StrCat("no input named '", name, "'"));
  }
  return nodes_[it->second].outputs[0];
}

const Tensor* Graph::source_value(Value v) const {
  auto it = source_values_.find(v.id);
  return it == source_values_.end() ? nullptr : it->second.get();
}

}  // namespace dlf
