#ifndef DLF_MODELS_NN_H_
#define DLF_MODELS_NN_H_

// Layer helpers for model code, named and initialized as PyTorch's torch.nn modules: each takes
// the module's name prefix ("layer1.0.conv1") and adds "<prefix>.weight", "<prefix>.bias" ...
// with PyTorch's default initialization unless told otherwise, so every model builds with the
// same helpers and PyTorch's names, and its checkpoints load into the equivalent nn.Module.
// An invalid input (an earlier error, already recorded in the graph) gives an invalid output:
// model code needs no guards of its own.

#include <cstdint>
#include <optional>
#include <string>

#include "graph/graph.h"
#include "ops/ops.h"

namespace dlf::nn {

struct Conv2dOptions {
  int64_t stride = 1;
  int64_t padding = 0;
  int64_t dilation = 1;
  int64_t groups = 1;  // weight [out, in / groups, kernel, kernel]; depthwise: groups = in
  bool bias = true;
  // nn.Conv2d's default: kaiming_uniform_(a=sqrt(5)), i.e. U(+-1/sqrt(fan_in)).
  Initializer weight_init = Initializer::TorchDefault();
  // Absent: nn.Conv2d's default U(+-1/sqrt(fan_in)).
  std::optional<Initializer> bias_init;
};

// nn.Conv2d(in, out, kernel, stride, padding, dilation, groups, bias): a square kernel over
// x [n, in, h, w].
Value Conv2d(Graph& g, const std::string& name, Value x, int64_t out, int64_t kernel,
             Conv2dOptions options = {});

struct ConvTranspose2dOptions : Conv2dOptions {
  int64_t output_padding = 0;  // < stride: which of the input sizes a stride-s conv maps to h
};

// nn.ConvTranspose2d(in, out, kernel, stride, padding, output_padding, groups, bias, dilation):
// weight "<name>.weight" [in, out / groups, kernel, kernel], initialized as PyTorch's (its fan_in
// is weight.size(1) * kernel^2 = out / groups * kernel^2).
Value ConvTranspose2d(Graph& g, const std::string& name, Value x, int64_t out, int64_t kernel,
                      ConvTranspose2dOptions options = {});

struct LinearOptions {
  bool bias = true;
  Initializer weight_init = Initializer::TorchDefault();  // nn.Linear's default
  std::optional<Initializer> bias_init;                    // absent: U(+-1/sqrt(in_features))
};

// nn.Linear(in, out): weight [out, in], over x [*, in] (any leading axes).
Value Linear(Graph& g, const std::string& name, Value x, int64_t out, LinearOptions options = {});

// nn.Embedding(rows, dim): weight "<name>.weight" [rows, dim], N(0, 1) as PyTorch's default
// unless told otherwise, over ids i32 of any shape -> [*ids, dim].
Value Embedding(Graph& g, const std::string& name, Value ids, int64_t rows, int64_t dim,
                Initializer init = Initializer::Normal(1.0f));

// nn.MultiheadAttention(dim, heads, batch_first=True) as self-attention over x [n, t, dim]
// (query = key = value = x): "<name>.in_proj_weight" [3 dim, dim] (Xavier uniform),
// "<name>.in_proj_bias" (0), "<name>.out_proj.weight" (nn.Linear's default) and ".bias" (0);
// heads of dim / heads features, scaled dot-product attention in each.
Value MultiheadSelfAttention(Graph& g, const std::string& name, Value x, int64_t heads,
                             ops::AttentionOptions attention = {});

// nn.BatchNorm2d: weight 1, bias 0, running_mean 0, running_var 1, num_batches_tracked.
Value BatchNorm2d(Graph& g, const std::string& name, Value x, ops::BatchNormOptions options = {});

// The bias initialization PyTorch's nn.Conv2d and nn.Linear use by default: U(+-1/sqrt(fan_in)).
Initializer TorchDefaultBias(int64_t fan_in);

}  // namespace dlf::nn

#endif  // DLF_MODELS_NN_H_
