#ifndef DLF_MODELS_BLOCKS_H_
#define DLF_MODELS_BLOCKS_H_

// torchvision's building blocks of modern CNNs (torchvision.ops.misc), with its module names,
// for the MobileNets, EfficientNet and RegNet.

#include <cstdint>
#include <optional>
#include <string>

#include "graph/graph.h"
#include "models/nn.h"

namespace dlf::models {

// The activation modules torchvision's blocks take (activation_layer / scale_activation).
enum class Activation { kNone, kRelu, kRelu6, kHardSwish, kHardSigmoid, kSilu, kSigmoid };
Value Activate(Graph& g, Value x, Activation activation);

struct ConvNormOptions {
  int64_t stride = 1;
  int64_t groups = 1;
  Activation activation = Activation::kRelu;
  ops::BatchNormOptions norm;
  // The MobileNets' and EfficientNet's nn.init.kaiming_normal_(mode="fan_out"); RegNet's
  // normal(0, sqrt(2 / fan_out)) is the same distribution.
  Initializer weight_init = Initializer::HeNormalFanOut();
};

// Conv2dNormActivation: "<name>.0" a square convolution without bias, padding (kernel - 1) / 2,
// "<name>.1" BatchNorm2d, then the activation (no parameters).
Value Conv2dNormActivation(Graph& g, const std::string& name, Value x, int64_t out, int64_t kernel,
                           ConvNormOptions options = {});

struct SqueezeExcitationOptions {
  Activation activation = Activation::kRelu;           // after fc1
  Activation scale_activation = Activation::kSigmoid;  // after fc2
  Initializer weight_init = Initializer::HeNormalFanOut();
  std::optional<Initializer> bias_init = Initializer::Zeros();  // absent: nn.Conv2d's default
};

// SqueezeExcitation (Hu et al. 2018): x [n, c, h, w] times a per-channel scale computed from its
// spatial mean by two 1x1 convolutions with bias, "<name>.fc1" (c -> squeeze) and "<name>.fc2".
Value SqueezeExcitation(Graph& g, const std::string& name, Value x, int64_t squeeze,
                        SqueezeExcitationOptions options = {});

// torchvision's _make_divisible (from TensorFlow's MobileNet): `v` rounded to the nearest
// multiple of `divisor` (at least `divisor`), rounded up when that loses more than 10%.
int64_t MakeDivisible(double v, int64_t divisor);

}  // namespace dlf::models

#endif  // DLF_MODELS_BLOCKS_H_
