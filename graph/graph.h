#ifndef DLF_GRAPH_GRAPH_H_
#define DLF_GRAPH_GRAPH_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "graph/attrs.h"
#include "graph/tensor.h"

namespace dlf {

// An SSA value of a Graph: one output of one node. Invalid (id < 0) means "none".
struct Value {
  int id = -1;
  bool valid() const { return id >= 0; }
  bool operator==(const Value& o) const { return id == o.id; }
  bool operator!=(const Value& o) const { return id != o.id; }
};

struct ValueInfo {
  DType dtype = DType::kF32;
  Shape shape;
};

enum class NodeKind { kInput, kParameter, kBuffer, kConstant, kOp };

// A node attribute every op understands: true makes the node run as in inference (e.g. a
// BatchNorm with frozen statistics) inside an executor compiled for training.
inline constexpr char kInferenceModeAttr[] = "inference_mode";

struct Node {
  int id = 0;
  NodeKind kind = NodeKind::kOp;
  std::string op;    // "Input", "Parameter", "Constant" for sources; the op name otherwise
  std::string name;  // unique in the graph
  Attrs attrs;
  std::vector<Value> inputs;
  std::vector<Value> outputs;
};

// How a parameter starts. Fans follow PyTorch: dim 0 is "out", dim 1 "in", the rest the
// receptive field.
struct Initializer {
  enum class Kind {
    kZeros, kConstant, kUniform, kHeUniform, kHeNormal, kHeNormalFanOut, kXavierUniform,
    kXavierNormal, kTorchDefault, kNormal
  };
  Kind kind = Kind::kZeros;
  float value = 0.0f;  // kConstant: the value; kUniform: the bound; kNormal: the deviation

  static Initializer Zeros() { return {Kind::kZeros}; }
  static Initializer Constant(float v) { return {Kind::kConstant, v}; }
  static Initializer HeUniform() { return {Kind::kHeUniform}; }
  static Initializer HeNormal() { return {Kind::kHeNormal}; }
  // U(-bound, bound): e.g. PyTorch's bias initialization, bound = 1/sqrt(fan_in of the weight).
  static Initializer Uniform(float bound) { return {Kind::kUniform, bound}; }
  // N(0, stddev^2): e.g. torchvision's classifier heads, nn.init.normal_(w, 0, 0.01).
  static Initializer Normal(float stddev) { return {Kind::kNormal, stddev}; }
  // Kaiming normal with fan_out, for ReLU (torchvision's ResNet convolutions).
  static Initializer HeNormalFanOut() { return {Kind::kHeNormalFanOut}; }
  // PyTorch's default for nn.Conv2d and nn.Linear weights: kaiming_uniform_(a=sqrt(5)), i.e.
  // U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
  static Initializer TorchDefault() { return {Kind::kTorchDefault}; }
  static Initializer XavierUniform() { return {Kind::kXavierUniform}; }
  static Initializer XavierNormal() { return {Kind::kXavierNormal}; }
};

// Fills `t` (shape [out, in, ...] as PyTorch lays out conv and linear weights) with `init`,
// deterministically from `seed`.
void InitializeTensor(const Initializer& init, uint64_t seed, Tensor& t);

// A static computation graph. Nodes are appended in topological order (a node's inputs always
// exist before it), and shapes are inferred as each node is added.
//
// Errors while building are recorded TensorFlow-Scope style: Op() returns invalid values and
// status() keeps the first error, so model code can build a whole network and check once. The
// StatusOr-returning AddOp() is the same without the recording.
class Graph {
 public:
  explicit Graph(uint64_t seed = 0) : seed_(seed) {}
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  Value Input(const std::string& name, DType dtype, Shape shape);
  Value Parameter(const std::string& name, Shape shape, Initializer init);
  // Persistent state that is not trained (BatchNorm's running statistics): owned by the graph
  // like a parameter and saved with it, never given a gradient or handed to an optimizer.
  // Ops that declare it in OpDef::state_inputs update it in training mode.
  Value Buffer(const std::string& name, DType dtype, Shape shape, float initial_value = 0.0f);
  Value Constant(Tensor value, const std::string& name = "");

  absl::StatusOr<std::vector<Value>> AddOp(const std::string& op, std::vector<Value> inputs,
                                           Attrs attrs = {}, const std::string& name = "");
  std::vector<Value> Op(const std::string& op, std::vector<Value> inputs, Attrs attrs = {},
                        const std::string& name = "");
  // Single-output convenience form of Op().
  Value Op1(const std::string& op, std::vector<Value> inputs, Attrs attrs = {},
            const std::string& name = "");

  // Changes an attribute of op node `node` after it was added: a rewrite between building and
  // compiling (e.g. kInferenceModeAttr on one layer). The op's shape rule must accept the new
  // attributes and give the same outputs; otherwise nothing changes and the error says why.
  absl::Status SetAttr(int node, const std::string& name, AttrValue value);

  const absl::Status& status() const { return status_; }
  void RecordError(absl::Status s);

  uint64_t seed() const { return seed_; }
  int num_nodes() const { return static_cast<int>(nodes_.size()); }
  int num_values() const { return static_cast<int>(values_.size()); }
  const Node& node(int id) const { return nodes_[id]; }
  const Node& producer(Value v) const { return nodes_[values_[v.id].producer]; }
  // Safe on an invalid value (an earlier error): an empty shape, so model code needs no guard.
  const ValueInfo& info(Value v) const { return Contains(v) ? values_[v.id].info : NoValueInfo(); }
  const Shape& shape(Value v) const { return info(v).shape; }
  DType dtype(Value v) const { return info(v).dtype; }
  // The size of axis i of v (negative i counts from the end); 0 for an invalid value or axis.
  int64_t dim(Value v, int i) const;
  std::string ValueName(Value v) const;  // "conv1" or "maxpool_3:1"
  bool Contains(Value v) const { return v.id >= 0 && v.id < num_values(); }

  // Parameters: persistent tensors owned by the graph, updated in place by optimizers.
  // parameter_value() also returns a buffer's tensor.
  const std::vector<Value>& parameters() const { return parameters_; }
  const std::vector<Value>& buffers() const { return buffers_; }
  // Parameters and buffers: the state a checkpoint holds.
  std::vector<Value> persistent_values() const;
  Tensor& parameter_value(Value v) { return *source_values_.at(v.id); }
  const Tensor& parameter_value(Value v) const { return *source_values_.at(v.id); }
  absl::StatusOr<Value> FindParameter(const std::string& name) const;
  // A parameter or buffer by name.
  absl::StatusOr<Value> FindPersistent(const std::string& name) const;
  const std::string& name(Value v) const { return producer(v).name; }
  // The stored tensor of a Parameter or Constant value.
  const Tensor* source_value(Value v) const;

  absl::StatusOr<Value> FindInput(const std::string& name) const;

 private:
  struct ValueData {
    ValueInfo info;
    int producer = 0;
    int output_index = 0;
  };

  static const ValueInfo& NoValueInfo();
  Node& NewNode(NodeKind kind, const std::string& op, const std::string& name);
  Value NewOutput(Node& node, ValueInfo info);
  absl::Status CheckName(const std::string& name) const;
  std::string UniqueName(const std::string& base);

  uint64_t seed_;
  std::vector<Node> nodes_;
  std::vector<ValueData> values_;
  std::vector<Value> parameters_;
  std::vector<Value> buffers_;
  absl::flat_hash_map<std::string, int> node_by_name_;
  absl::flat_hash_map<int, std::unique_ptr<Tensor>> source_values_;  // by value id
  int64_t parameter_bytes_ = 0;
  absl::Status status_;
};

}  // namespace dlf

#endif  // DLF_GRAPH_GRAPH_H_
