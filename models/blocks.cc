#include "models/blocks.h"

#include <algorithm>

#include "ops/ops.h"

namespace dlf::models {

Value Activate(Graph& g, Value x, Activation activation) {
  switch (activation) {
    case Activation::kNone: return x;
    case Activation::kRelu: return ops::Relu(g, x);
    case Activation::kRelu6: return ops::Clip(g, x, 0.0, 6.0);
    case Activation::kHardSwish: return ops::HardSwish(g, x);
    case Activation::kHardSigmoid: return ops::HardSigmoid(g, x);
    case Activation::kSilu: return ops::Silu(g, x);
    case Activation::kSigmoid: return ops::Sigmoid(g, x);
  }
  return x;
}

Value Conv2dNormActivation(Graph& g, const std::string& name, Value x, int64_t out, int64_t kernel,
                           ConvNormOptions o) {
  const nn::Conv2dOptions conv{
      .stride = o.stride, .padding = (kernel - 1) / 2, .groups = o.groups, .bias = false, .weight_init = o.weight_init};
  const Value y = nn::BatchNorm2d(g, name + ".1", nn::Conv2d(g, name + ".0", x, out, kernel, conv), o.norm);
  return Activate(g, y, o.activation);
}

Value SqueezeExcitation(Graph& g, const std::string& name, Value x, int64_t squeeze,
                        SqueezeExcitationOptions o) {
  if (!g.Contains(x)) return Value{};
  const int64_t channels = g.dim(x, 1);
  const nn::Conv2dOptions fc{.weight_init = o.weight_init, .bias_init = o.bias_init};
  Value scale = ops::Reshape(g, ops::GlobalAvgPool2D(g, x), {-1, channels, 1, 1});
  scale = Activate(g, nn::Conv2d(g, name + ".fc1", scale, squeeze, 1, fc), o.activation);
  scale = Activate(g, nn::Conv2d(g, name + ".fc2", scale, channels, 1, fc), o.scale_activation);
  return ops::Mul(g, scale, x);
}

int64_t MakeDivisible(double v, int64_t divisor) {
  int64_t rounded = std::max(divisor, static_cast<int64_t>(v + divisor / 2.0) / divisor * divisor);
  if (rounded < 0.9 * v) rounded += divisor;
  return rounded;
}

}  // namespace dlf::models
