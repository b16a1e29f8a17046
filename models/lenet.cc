#include "models/models.h"
#include "models/nn.h"
#include "models/registry.h"

namespace dlf::models {
namespace {

// He normal for layers followed by ReLU, Xavier for the last; zero biases.
nn::Conv2dOptions LeNetConv(int64_t pad) {
  return {.padding = pad, .weight_init = Initializer::HeNormal(), .bias_init = Initializer::Zeros()};
}

nn::LinearOptions LeNetFc(bool relu) {
  return {.weight_init = relu ? Initializer::HeNormal() : Initializer::XavierUniform(), .bias_init = Initializer::Zeros()};
}

}  // namespace

Value LeNet5(Graph& g, Value images, const ModelOptions& o) {
  const ops::Pool2DOptions pool{{2, 2}, {2, 2}, {0, 0}, false};
  Value x = ops::MaxPool2D(g, ops::Relu(g, nn::Conv2d(g, "conv1", images, 6, 5, LeNetConv(2))), pool);
  x = ops::MaxPool2D(g, ops::Relu(g, nn::Conv2d(g, "conv2", x, 16, 5, LeNetConv(0))), pool);
  x = ops::Relu(g, nn::Linear(g, "fc1", ops::Flatten(g, x), 120, LeNetFc(true)));
  x = ops::Relu(g, nn::Linear(g, "fc2", x, 84, LeNetFc(true)));
  return nn::Linear(g, "fc3", x, o.num_classes, LeNetFc(false));
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
