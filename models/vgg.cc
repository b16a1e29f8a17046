// VGG-11 with BatchNorm for 32x32 images: the "A" configuration's eight 3x3 convolutions, each
// followed by BatchNorm and ReLU, five 2x2 max-pools down to 1x1, one linear classifier.
#include <string>

#include "absl/strings/str_cat.h"
#include "models/models.h"
#include "models/nn.h"
#include "models/registry.h"
#include "ops/ops.h"

namespace dlf::models {

// Names as nn.Sequential gives them (features.0 conv, features.1 bn, features.2 relu, ...);
// convs Kaiming normal (fan_out) with zero bias, as torchvision's VGG; the classifier is an
// nn.Linear with its default initialization.
Value Vgg11Bn(Graph& g, Value images, const ModelOptions& o) {
  constexpr int64_t kMaxPool = 0;
  const int64_t config[] = {64, kMaxPool, 128, kMaxPool, 256, 256, kMaxPool,
                            512, 512, kMaxPool, 512, 512, kMaxPool};
  const nn::Conv2dOptions conv{.padding = 1, .weight_init = Initializer::HeNormalFanOut(), .bias_init = Initializer::Zeros()};
  Value x = images;
  int index = 0;
  for (int64_t width : config) {
    if (width == kMaxPool) {
      x = ops::MaxPool2D(g, x, {{2, 2}, {2, 2}, {0, 0}, false});
      ++index;
      continue;
    }
    x = nn::Conv2d(g, absl::StrCat("features.", index), x, width, 3, conv);
    x = ops::Relu(g, nn::BatchNorm2d(g, absl::StrCat("features.", index + 1), x));
    index += 3;
  }
  return nn::Linear(g, "classifier", ops::Flatten(g, x), o.num_classes);
}

DLF_REGISTER_MODEL({.name = "vgg11_bn",
                    .description = "VGG-11 with BatchNorm for 32x32: 8 convs, 5 max-pools, 1 linear",
                    .build = Vgg11Bn,
                    .input_shape = {3, 32, 32},
                    .default_dataset = "cifar10",
                    .mean = kCifar10Mean,
                    .std = kCifar10Std,
                    .parameters = 9'231'114});

}  // namespace dlf::models
