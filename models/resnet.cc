// ResNet-20 and ResNet-56 for 32x32 images (He et al. 2016, section 4.2), with torchvision's
// parameter names and initialization.
#include "absl/strings/str_cat.h"
#include "models/models.h"
#include "models/registry.h"
#include "ops/ops.h"

namespace dlf::models {
namespace {

// A bias-free convolution "<name>.weight" [out, in, k, k], Kaiming normal with fan_out.
Value Conv(Graph& g, const std::string& name, Value x, int64_t out, int64_t k, int64_t stride) {
  if (!g.Contains(x)) return Value{};
  Value w = g.Parameter(name + ".weight", {out, g.shape(x)[1], k, k}, Initializer::HeNormalFanOut());
  return ops::Conv2D(g, x, w, Value{}, {{stride, stride}, {k / 2, k / 2}});
}

// torchvision's BasicBlock: conv-bn-relu, conv-bn, plus the shortcut, relu. Where the shape
// changes the shortcut is a 1x1 strided convolution and BN ("downsample", option B).
Value BasicBlock(Graph& g, const std::string& name, Value x, int64_t width, int64_t stride) {
  if (!g.Contains(x)) return Value{};
  Value y = ops::Relu(g, ops::BatchNorm2d(g, Conv(g, name + ".conv1", x, width, 3, stride), name + ".bn1"));
  y = ops::BatchNorm2d(g, Conv(g, name + ".conv2", y, width, 3, 1), name + ".bn2");
  Value shortcut = x;
  if (stride != 1 || g.shape(x)[1] != width) {
    shortcut = ops::BatchNorm2d(g, Conv(g, name + ".downsample.0", x, width, 1, stride),
                                name + ".downsample.1");
  }
  return ops::Relu(g, ops::Add(g, y, shortcut));
}

// 6n + 2 layers: a 3x3 conv of 16, three stages of n blocks (16, 32, 64 channels; the second
// and third start with stride 2), global average pooling, one fully connected layer.
Value CifarResNet(Graph& g, Value images, const ModelOptions& o, int n) {
  Value x = ops::Relu(g, ops::BatchNorm2d(g, Conv(g, "conv1", images, 16, 3, 1), "bn1"));
  const int64_t widths[] = {16, 32, 64};
  for (int stage = 0; stage < 3; ++stage) {
    for (int block = 0; block < n; ++block) {
      const int64_t stride = stage > 0 && block == 0 ? 2 : 1;
      x = BasicBlock(g, absl::StrCat("layer", stage + 1, ".", block), x, widths[stage], stride);
    }
  }
  x = ops::GlobalAvgPool2D(g, x);
  if (!g.Contains(x)) return Value{};
  // nn.Linear's default initialization, as torchvision leaves it.
  Value w = g.Parameter("fc.weight", {o.num_classes, 64}, Initializer::TorchDefault());
  Value b = g.Parameter("fc.bias", {o.num_classes}, Initializer::Uniform(1.0f / 8.0f));  // 1/sqrt(64)
  return ops::Linear(g, x, w, b);
}

}  // namespace

Value ResNet20(Graph& g, Value images, const ModelOptions& o) { return CifarResNet(g, images, o, 3); }
Value ResNet56(Graph& g, Value images, const ModelOptions& o) { return CifarResNet(g, images, o, 9); }

DLF_REGISTER_MODEL({.name = "resnet20",
                    .description = "ResNet-20 for 32x32 (He et al. 2016), BatchNorm, 1x1-conv shortcuts",
                    .build = ResNet20,
                    .input_shape = {3, 32, 32},
                    .default_dataset = "cifar10",
                    .mean = kCifar10Mean,
                    .std = kCifar10Std,
                    .parameters = 272'474});

DLF_REGISTER_MODEL({.name = "resnet56",
                    .description = "ResNet-56 for 32x32 (He et al. 2016), BatchNorm, 1x1-conv shortcuts",
                    .build = ResNet56,
                    .input_shape = {3, 32, 32},
                    .default_dataset = "cifar10",
                    .mean = kCifar10Mean,
                    .std = kCifar10Std,
                    .parameters = 855'770});

}  // namespace dlf::models
