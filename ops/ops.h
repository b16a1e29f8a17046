#ifndef DLF_OPS_OPS_H_
#define DLF_OPS_OPS_H_

// Builder functions for every op in the library. Each adds one node to the graph and returns
// its output; on a bad model they return an invalid Value and the graph's status() names the
// node, the op and the shapes (see Graph).

#include <cstdint>
#include <string>
#include <vector>

#include "graph/graph.h"

namespace dlf::ops {

// binary.cc: element-wise with NumPy broadcasting (shapes aligned on their last axes; axes of
// size 1 stretch); gradients are summed over the broadcast axes.
Value Add(Graph& g, Value a, Value b);
Value Sub(Graph& g, Value a, Value b);
Value Mul(Graph& g, Value a, Value b);
Value Div(Graph& g, Value a, Value b);
Value Maximum(Graph& g, Value a, Value b);  // the gradient goes to a on ties
Value Minimum(Graph& g, Value a, Value b);
Value BroadcastTo(Graph& g, Value x, std::vector<int64_t> shape);

// unary.cc: element-wise math and activations.
Value Exp(Graph& g, Value x);
Value Log(Graph& g, Value x);
Value Sqrt(Graph& g, Value x);
Value Erf(Graph& g, Value x);
Value Neg(Graph& g, Value x);
Value Abs(Graph& g, Value x);
Value Square(Graph& g, Value x);
Value Pow(Graph& g, Value x, double exponent);
Value Clip(Graph& g, Value x, double lo, double hi);  // as torch.clamp
Value LeakyRelu(Graph& g, Value x, double negative_slope = 0.01);
Value Elu(Graph& g, Value x, double alpha = 1.0);
Value Gelu(Graph& g, Value x, bool tanh_approximation = false);
Value Silu(Graph& g, Value x);
Value Softplus(Graph& g, Value x);  // beta 1, linear above 20 (as PyTorch)
Value HardSwish(Graph& g, Value x);
// max(0, min(1, alpha x + beta)), as ONNX's; the defaults are PyTorch's F.hardsigmoid.
Value HardSigmoid(Graph& g, Value x, double alpha = 1.0 / 6.0, double beta = 0.5);

// elementwise.cc: same-shape f32 arithmetic and activations.
Value AddN(Graph& g, std::vector<Value> values);
Value Scale(Graph& g, Value x, double factor);
Value Relu(Graph& g, Value x);
Value Sigmoid(Graph& g, Value x);
Value Tanh(Graph& g, Value x);
Value StopGradient(Graph& g, Value x);

// reduce.cc: reductions over all elements to a scalar (shape []) or over `axes` (negative
// counts from the end); keepdims leaves the reduced axes as 1.
Value Sum(Graph& g, Value x);
Value Mean(Graph& g, Value x);
Value ReduceSum(Graph& g, Value x, std::vector<int64_t> axes, bool keepdims = false);
Value ReduceMean(Graph& g, Value x, std::vector<int64_t> axes, bool keepdims = false);
// The gradient is shared equally by the elements equal to the maximum.
Value ReduceMax(Graph& g, Value x, std::vector<int64_t> axes, bool keepdims = false);
// Sums x over the axes along which `shape` was broadcast to x's shape (the gradient of a
// broadcast); x itself when the shapes are equal.
Value SumToShape(Graph& g, Value x, Shape shape);
// [n, c, h, w] -> [n, c]: the mean of each channel's map.
Value GlobalAvgPool2D(Graph& g, Value x);

// rearrange.cc
Value Transpose(Graph& g, Value x, std::vector<int64_t> perm);  // y.shape[i] = x.shape[perm[i]]
Value Slice(Graph& g, Value x, std::vector<int64_t> begin, std::vector<int64_t> size);
// Constant padding: `before` and `after` elements per axis.
Value Pad(Graph& g, Value x, std::vector<int64_t> before, std::vector<int64_t> after,
          double value = 0.0);
Value Concat(Graph& g, std::vector<Value> values, int64_t axis);
std::vector<Value> Split(Graph& g, Value x, int64_t axis, std::vector<int64_t> sizes);

// matmul.cc
// a [m, k] x b [k, n] (after optional transposes) -> [m, n].
Value MatMul(Graph& g, Value a, Value b, bool transpose_a = false, bool transpose_b = false);
// a [b, m, k] x b [b, k, n] (after optional transposes of the last two axes) -> [b, m, n].
Value BatchMatMul(Graph& g, Value a, Value b, bool transpose_a = false, bool transpose_b = false);
// x [*, in], weight [out, in] (PyTorch layout), optional bias [out] -> x * weight^T + bias, [*, out].
Value Linear(Graph& g, Value x, Value weight, Value bias = Value{});

// conv.cc: x [n, c, h, w], weight [o, c, kh, kw], optional bias [o].
struct Conv2DOptions {
  std::vector<int64_t> stride = {1, 1};
  std::vector<int64_t> padding = {0, 0};      // before: top, left
  std::vector<int64_t> padding_end = {};      // after: bottom, right; empty: as `padding`
  std::vector<int64_t> dilation = {1, 1};
  int64_t groups = 1;  // weight [out, in / groups, kh, kw]; depthwise: groups = in channels
};
Value Conv2D(Graph& g, Value x, Value weight, Value bias = Value{}, Conv2DOptions options = {});
// As torch.nn.functional.conv_transpose2d: x [n, in, h, w], weight [in, out / groups, kh, kw],
// optional bias [out] -> [n, out, (h - 1) * stride - padding - padding_end + (kh - 1) * dilation
// + 1 + output_padding, ...]; output_padding < stride.
struct ConvTranspose2DOptions : Conv2DOptions {
  std::vector<int64_t> output_padding = {0, 0};
};
Value ConvTranspose2D(Graph& g, Value x, Value weight, Value bias = Value{},
                      ConvTranspose2DOptions options = {});

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
// adaptive_pool.cc: as torch.nn.AdaptiveAvgPool2d, x [n, c, h, w] -> [n, c, out_h, out_w]; output
// row i averages input rows [floor(i h / out_h), ceil((i + 1) h / out_h)), columns alike.
Value AdaptiveAvgPool2D(Graph& g, Value x, std::vector<int64_t> output_size);

// batchnorm.cc: BatchNorm2d over the channels of x [n, c, h, w], as torch.nn.BatchNorm2d.
// Adds parameters "<name>.weight" (1) and "<name>.bias" (0) and buffers
// "<name>.running_mean" (0), "<name>.running_var" (1) and "<name>.num_batches_tracked" (i64):
// an executor in training mode normalizes with the batch's statistics and updates the
// running ones; in inference mode it uses the running ones.
struct BatchNormOptions {
  double eps = 1e-5;
  double momentum = 0.1;
};
Value BatchNorm2d(Graph& g, Value x, const std::string& name, BatchNormOptions options = {});

// attention.cc: as PyTorch 2's F.scaled_dot_product_attention(q, k, v, is_causal, dropout_p):
// softmax(q k^T / sqrt(d) + mask) v over q [*, T, d], k [*, S, d], v [*, S, dv] -> [*, T, dv]; the
// causal mask lets query i see keys j <= i; in training, dropout on the weights (from seed, node,
// step and index, as Dropout's).
struct AttentionOptions {
  bool causal = false;
  double dropout = 0.0;
  uint64_t seed = 0;
  // Added to the scores before the softmax when valid: f32 [T, S], broadcast over the leading
  // axes (PyTorch's float attn_mask; -inf hides a key), e.g. a key/value cache's filled rows.
  Value mask;
  // kAuto: the fused kernel (no [*, T, S] tensor kept for the backward pass, which recomputes
  // the scores and the dropout mask) without a mask when a slice has more than 128 x 128
  // scores, the composed ops otherwise (BM_Attention: these are faster at T = 64 and 128, the
  // fused kernel at T = 256, with half the memory). kFused takes no mask (an error).
  enum class Kernel { kAuto, kFused, kComposed };
  Kernel kernel = Kernel::kAuto;
};
Value ScaledDotProductAttention(Graph& g, Value q, Value k, Value v, AttentionOptions options = {});
// The causal mask as values, f32 [T, S]: 0 where query i may see key j (j <= i, PyTorch's
// tril(ones(T, S)) alignment), -inf elsewhere (the composed attention's constant, ONNX export's
// initializer; the fused kernel fills its scores by the same rule).
Tensor CausalMaskValues(int64_t t, int64_t s);

// embedding.cc: as torch.nn.functional.embedding, table [rows, dim] and ids i32 of any shape ->
// [*ids, dim]; an id outside [0, rows) is an error of the run. The table's gradient is a
// scatter-add with the same bits for any thread count.
Value Embedding(Graph& g, Value table, Value ids);

// layernorm.cc: as torch.nn.LayerNorm over x's last `normalized_rank` axes (any leading axes).
// Adds parameters "<name>.weight" (1) and "<name>.bias" (0) of those axes' shape; without
// `affine` neither (the normalization alone), without `bias` no bias (nanoGPT's bias=False).
struct LayerNormOptions {
  double eps = 1e-5;
  int64_t normalized_rank = 1;
  bool affine = true;
  bool bias = true;
};
Value LayerNorm(Graph& g, Value x, const std::string& name, LayerNormOptions options = {});
// ConvNeXt's LayerNorm2d: over the channels of x [n, c, h, w] at each position (torchvision
// permutes to [n, h, w, c], normalizes the last axis and permutes back; so does this).
Value LayerNorm2d(Graph& g, Value x, const std::string& name, LayerNormOptions options = {});

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
// Stochastic depth (torchvision's StochasticDepth "row" mode, timm's DropPath): each sample of x
// [n, ...] is zeroed with probability `rate` and otherwise scaled by 1/(1-rate), one draw per
// sample from (seed, node, executor step, sample index); identity in inference.
Value DropPath(Graph& g, Value x, double rate, uint64_t seed = 0);

// shape_ops.cc
Value Reshape(Graph& g, Value x, std::vector<int64_t> shape);  // one dim may be -1
Value Flatten(Graph& g, Value x);                              // [n, ...] -> [n, prod(...)]


// softmax.cc: over `axis` of x (the last by default; negative counts from the end), any rank.
Value Softmax(Graph& g, Value x, int64_t axis = -1);
Value LogSoftmax(Graph& g, Value x, int64_t axis = -1);
// Mean over the batch of -log softmax(logits)[label]; labels i32 [n] in [0, classes); logits
// [*, classes] with labels [*] (a language model's [b, t, vocab] and [b, t]) take the mean over
// every position. With
// label_smoothing e in [0, 1) the target is (1 - e) * onehot + e / classes, as PyTorch's.
Value SoftmaxCrossEntropy(Graph& g, Value logits, Value labels, double label_smoothing = 0.0);
// Mean over the batch of -sum_j q_j log softmax(logits)_j for targets q f32 [n, classes]
// (mixup's and cutmix's mixed one-hots); label smoothing e makes it (1 - e) q + e / classes, as
// PyTorch's CrossEntropyLoss with probability targets.
Value SoftTargetCrossEntropy(Graph& g, Value logits, Value targets, double label_smoothing = 0.0);
// i32 [n]: index of the largest logit per row.
Value Argmax(Graph& g, Value logits);
// f32 scalar: number of rows whose argmax equals the label.
Value CountCorrect(Graph& g, Value logits, Value labels);

}  // namespace dlf::ops

#endif  // DLF_OPS_OPS_H_
