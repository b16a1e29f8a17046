#ifndef DLF_OPS_OPS_H_
#define DLF_OPS_OPS_H_

// Builder functions for every op in the library. Each adds one node to the graph and returns
// its output; on a bad model they return an invalid Value and the graph's status() names the
// node, the op and the shapes (see Graph).

#include <cstdint>
#include <vector>

#include "graph/graph.h"

namespace dlf::ops {

// elementwise.cc: same-shape f32 arithmetic and activations.
Value Add(Graph& g, Value a, Value b);
Value Mul(Graph& g, Value a, Value b);
Value AddN(Graph& g, std::vector<Value> values);
Value Scale(Graph& g, Value x, double factor);
Value Relu(Graph& g, Value x);
Value Sigmoid(Graph& g, Value x);
Value Tanh(Graph& g, Value x);
Value StopGradient(Graph& g, Value x);

// reduce.cc: reductions over all elements to a scalar (shape []).
Value Sum(Graph& g, Value x);
Value Mean(Graph& g, Value x);

// matmul.cc
// a [m, k] x b [k, n] (after optional transposes) -> [m, n].
Value MatMul(Graph& g, Value a, Value b, bool transpose_a = false, bool transpose_b = false);
// x [n, in], weight [out, in] (PyTorch layout), optional bias [out] -> x * weight^T + bias.
Value Linear(Graph& g, Value x, Value weight, Value bias = Value{});

// conv.cc: x [n, c, h, w], weight [o, c, kh, kw], optional bias [o].
struct Conv2DOptions {
  std::vector<int64_t> stride = {1, 1};
  std::vector<int64_t> padding = {0, 0};
};
Value Conv2D(Graph& g, Value x, Value weight, Value bias = Value{}, Conv2DOptions options = {});

// pool.cc: output size floor((h + 2p - k) / s) + 1, or ceil(...) + 1 with ceil_mode (as PyTorch:
// a last window starting in the right padding is dropped). Average pooling divides by the
// number of input elements in each window, padding excluded.
struct Pool2DOptions {
  std::vector<int64_t> kernel = {2, 2};
  std::vector<int64_t> stride = {2, 2};
  std::vector<int64_t> padding = {0, 0};
  bool ceil_mode = false;
};
Value MaxPool2D(Graph& g, Value x, Pool2DOptions options);
Value AvgPool2D(Graph& g, Value x, Pool2DOptions options);

// lrn.cc: across-channel LRN as in AlexNet (2012): b = a / (k + alpha/n * sum a^2)^beta.
struct LrnOptions {
  int64_t size = 5;
  double alpha = 1e-4;
  double beta = 0.75;
  double k = 2.0;
};
Value LocalResponseNorm(Graph& g, Value x, LrnOptions options = {});

// dropout.cc: in training, zeroes each element with probability `rate` and scales the rest by
// 1/(1-rate); identity in inference. The mask depends only on (seed, node, executor step, index).
Value Dropout(Graph& g, Value x, double rate, uint64_t seed = 0);

// shape_ops.cc
Value Reshape(Graph& g, Value x, std::vector<int64_t> shape);  // one dim may be -1
Value Flatten(Graph& g, Value x);                              // [n, ...] -> [n, prod(...)]

// softmax.cc: over the last axis of [n, classes].
Value Softmax(Graph& g, Value logits);
// Mean over the batch of -log softmax(logits)[label]; labels i32 [n] in [0, classes). With
// label_smoothing e in [0, 1) the target is (1 - e) * onehot + e / classes, as PyTorch's.
Value SoftmaxCrossEntropy(Graph& g, Value logits, Value labels, double label_smoothing = 0.0);
// i32 [n]: index of the largest logit per row.
Value Argmax(Graph& g, Value logits);
// f32 scalar: number of rows whose argmax equals the label.
Value CountCorrect(Graph& g, Value logits, Value labels);

}  // namespace dlf::ops

#endif  // DLF_OPS_OPS_H_
