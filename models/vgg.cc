// VGG-11 with BatchNorm for 32x32 images: the "A" configuration's eight 3x3 convolutions, each
// followed by BatchNorm and ReLU, five 2x2 max-pools down to 1x1, one linear classifier.
#include <string>

#include "absl/strings/str_cat.h"
#include "models/models.h"
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
  Value x = images;
  int index = 0;
  for (int64_t width : config) {
    if (!g.Contains(x)) return Value{};
    if (width == kMaxPool) {
      x = ops::MaxPool2D(g, x, {{2, 2}, {2, 2}, {0, 0}, false});
      ++index;
      continue;
    }
    const std::string conv = absl::StrCat("features.", index);
    Value w = g.Parameter(conv + ".weight", {width, g.shape(x)[1], 3, 3}, Initializer::HeNormalFanOut());
    Value b = g.Parameter(conv + ".bias", {width}, Initializer::Zeros());
    x = ops::Conv2D(g, x, w, b, {{1, 1}, {1, 1}});
    x = ops::BatchNorm2d(g, x, absl::StrCat("features.", index + 1));
    x = ops::Relu(g, x);
    index += 3;
  }
  x = ops::Flatten(g, x);
  if (!g.Contains(x)) return Value{};
  Value w = g.Parameter("classifier.weight", {o.num_classes, 512}, Initializer::TorchDefault());
  Value b = g.Parameter("classifier.bias", {o.num_classes}, Initializer::Uniform(1.0f / 22.627417f));  // 1/sqrt(512)
  return ops::Linear(g, x, w, b);
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
