#include "models/layers.h"
#include "models/models.h"
#include "models/registry.h"

namespace dlf::models {
namespace {

// A LeNet layer with PyTorch-style module names (conv1.weight, fc1.bias, ...).
Value Conv(Graph& g, const char* name, Value x, int64_t out, int64_t k, int64_t pad) {
  Value w = g.Parameter(std::string(name) + ".weight", {out, g.shape(x)[1], k, k},
                        Initializer::HeNormal());
  Value b = g.Parameter(std::string(name) + ".bias", {out}, Initializer::Zeros());
  return ops::Relu(g, ops::Conv2D(g, x, w, b, {{1, 1}, {pad, pad}}));
}

Value Fc(Graph& g, const char* name, Value x, int64_t out, bool relu) {
  Value w = g.Parameter(std::string(name) + ".weight", {out, g.shape(x)[1]},
                        relu ? Initializer::HeNormal() : Initializer::XavierUniform());
  Value b = g.Parameter(std::string(name) + ".bias", {out}, Initializer::Zeros());
  Value y = ops::Linear(g, x, w, b);
  return relu ? ops::Relu(g, y) : y;
}

}  // namespace

Value LeNet5(Graph& g, Value images, const ModelOptions& o) {
  const ops::Pool2DOptions pool{{2, 2}, {2, 2}, {0, 0}, false};
  if (!g.Contains(images)) return Value{};
  Value x = ops::MaxPool2D(g, Conv(g, "conv1", images, 6, 5, 2), pool);
  if (!g.Contains(x)) return Value{};
  x = ops::MaxPool2D(g, Conv(g, "conv2", x, 16, 5, 0), pool);
  if (!g.Contains(x)) return Value{};
  x = Fc(g, "fc1", ops::Flatten(g, x), 120, true);
  x = Fc(g, "fc2", x, 84, true);
  return Fc(g, "fc3", x, o.num_classes, false);
}

DLF_REGISTER_MODEL({.name = "lenet",
                    .description = "LeNet-5 (ReLU, max pooling) for 28x28 gray images",
                    .build = LeNet5,
                    .input_shape = {1, 28, 28},
                    .default_dataset = "fashion_mnist",
                    .mean = {0.2860f},  // Fashion-MNIST's training set
                    .std = {0.3530f},
                    .parameters = 61'706});

}  // namespace dlf::models
