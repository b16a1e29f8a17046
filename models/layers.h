#ifndef DLF_MODELS_LAYERS_H_
#define DLF_MODELS_LAYERS_H_

#include <cstdint>
#include <optional>
#include <string>

#include "graph/graph.h"
#include "models/models.h"
#include "models/nn.h"
#include "ops/ops.h"

namespace dlf::models {

// Builds a chain of layers the way PyTorch's nn.Sequential names them: every layer, with or
// without parameters, takes the next index, and parameters are "<prefix>.<index>.weight" and
// ".bias" (conv weights [out, in, kh, kw], linear weights [out, in]), initialized as `init`
// says (see InitScheme).
class Sequential {
 public:
  Sequential(Graph& g, std::string prefix, Value x, InitScheme init = InitScheme::kHe)
      : g_(g), prefix_(std::move(prefix)), x_(x), init_(init) {}

  Sequential& Conv(int64_t out, int64_t kernel, int64_t stride = 1, int64_t padding = 0);
  Sequential& Relu();
  Sequential& MaxPool(int64_t kernel, int64_t stride, int64_t padding = 0);
  Sequential& Lrn();
  Sequential& Dropout(double rate);
  Sequential& Linear(int64_t out, bool followed_by_relu = true);
  // Flattens [n, ...] to [n, features] without taking an index (as torch.flatten in forward).
  Sequential& Flatten();

  // Relu().MaxPool() runs as max pooling then ReLU: the compiler's "relu before max pooling"
  // rewrite (ops/pool.cc), which every model gets.
  Value output() const { return x_; }

 private:
  std::string Name() const;  // "<prefix>.<index>"
  // The weight and bias initializers of a layer under init_ (nullopt: PyTorch's default bias).
  std::pair<Initializer, std::optional<Initializer>> Inits(bool followed_by_relu) const;

  Graph& g_;
  std::string prefix_;
  Value x_;
  InitScheme init_;
  int index_ = 0;
};

// The number of scalars in a graph's parameters.
int64_t CountParameters(const Graph& g);

}  // namespace dlf::models

#endif  // DLF_MODELS_LAYERS_H_
