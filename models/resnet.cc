// The ResNets (He et al. 2016) with torchvision's parameter names and initialization:
// ResNet-20 and ResNet-56 for 32x32 images (section 4.2), and torchvision's ResNet-18 and
// ResNet-50 for 224x224 (its resnet.py: the stride of a bottleneck on its 3x3 convolution,
// "ResNet v1.5") and ResNeXt-50 32x4d (Xie et al. 2017). Their checkpoints load into
// torchvision.models.resnet18, resnet50 and resnext50_32x4d(num_classes=N).
#include "absl/strings/str_cat.h"
#include "models/models.h"
#include "models/nn.h"
#include "models/registry.h"
#include "ops/ops.h"

namespace dlf::models {
namespace {

// torchvision's conv3x3 / conv1x1: no bias, Kaiming normal with fan_out.
nn::Conv2dOptions ResNetConv(int64_t stride, int64_t padding) {
  return {.stride = stride, .padding = padding, .bias = false, .weight_init = Initializer::HeNormalFanOut()};
}

// torchvision's BasicBlock: conv-bn-relu, conv-bn, plus the shortcut, relu. Where the shape
// changes the shortcut is a 1x1 strided convolution and BN ("downsample", option B).
Value BasicBlock(Graph& g, const std::string& name, Value x, int64_t width, int64_t stride) {
  Value y = nn::Conv2d(g, name + ".conv1", x, width, 3, ResNetConv(stride, 1));
  y = ops::Relu(g, nn::BatchNorm2d(g, name + ".bn1", y));
  y = nn::BatchNorm2d(g, name + ".bn2", nn::Conv2d(g, name + ".conv2", y, width, 3, ResNetConv(1, 1)));
  Value shortcut = x;
  if (stride != 1 || g.dim(x, 1) != width) {
    shortcut = nn::Conv2d(g, name + ".downsample.0", x, width, 1, ResNetConv(stride, 0));
    shortcut = nn::BatchNorm2d(g, name + ".downsample.1", shortcut);
  }
  return ops::Relu(g, ops::Add(g, y, shortcut));
}

// 6n + 2 layers: a 3x3 conv of 16, three stages of n blocks (16, 32, 64 channels; the second
// and third start with stride 2), global average pooling, one fully connected layer (nn.Linear's
// default initialization, as torchvision leaves it).
Value CifarResNet(Graph& g, Value images, const ModelOptions& o, int n) {
  Value x = ops::Relu(g, nn::BatchNorm2d(g, "bn1", nn::Conv2d(g, "conv1", images, 16, 3, ResNetConv(1, 1))));
  const int64_t widths[] = {16, 32, 64};
  for (int stage = 0; stage < 3; ++stage) {
    for (int block = 0; block < n; ++block) {
      const int64_t stride = stage > 0 && block == 0 ? 2 : 1;
      x = BasicBlock(g, absl::StrCat("layer", stage + 1, ".", block), x, widths[stage], stride);
    }
  }
  return nn::Linear(g, "fc", ops::GlobalAvgPool2D(g, x), o.num_classes);
}

// torchvision's Bottleneck: 1x1 (width), 3x3 (width in `groups` groups, the stride), 1x1 (4 x
// planes), each with BN; ReLU after the first two and after the sum with the shortcut. ResNet:
// width = planes, one group; ResNeXt (Xie et al. 2017): width = planes * width_per_group / 64 *
// groups.
Value GroupedBottleneck(Graph& g, const std::string& name, Value x, int64_t planes, int64_t stride, int64_t groups,
                        int64_t width_per_group) {
  const int64_t width = planes * width_per_group / 64 * groups;
  nn::Conv2dOptions grouped = ResNetConv(stride, 1);
  grouped.groups = groups;
  Value y = ops::Relu(g, nn::BatchNorm2d(g, name + ".bn1", nn::Conv2d(g, name + ".conv1", x, width, 1, ResNetConv(1, 0))));
  y = ops::Relu(g, nn::BatchNorm2d(g, name + ".bn2", nn::Conv2d(g, name + ".conv2", y, width, 3, grouped)));
  y = nn::BatchNorm2d(g, name + ".bn3", nn::Conv2d(g, name + ".conv3", y, 4 * planes, 1, ResNetConv(1, 0)));
  Value shortcut = x;
  if (stride != 1 || g.dim(x, 1) != 4 * planes) {
    shortcut = nn::Conv2d(g, name + ".downsample.0", x, 4 * planes, 1, ResNetConv(stride, 0));
    shortcut = nn::BatchNorm2d(g, name + ".downsample.1", shortcut);
  }
  return ops::Relu(g, ops::Add(g, y, shortcut));
}

Value Bottleneck(Graph& g, const std::string& name, Value x, int64_t planes, int64_t stride) {
  return GroupedBottleneck(g, name, x, planes, stride, 1, 64);
}
// resnext50_32x4d: 32 groups of 4 channels per 64 planes.
Value Bottleneck32x4d(Graph& g, const std::string& name, Value x, int64_t planes, int64_t stride) {
  return GroupedBottleneck(g, name, x, planes, stride, 32, 4);
}

using Block = Value (*)(Graph&, const std::string&, Value, int64_t, int64_t);

// torchvision's ResNet: a 7x7/2 conv of 64, BN, ReLU, 3x3/2 max pooling, four stages (64, 128,
// 256, 512 wide; all but the first start with stride 2), global average pooling, fc. Any
// image size works (the pooling is global).
Value ImageNetResNet(Graph& g, Value images, const ModelOptions& o, Block block, const int (&blocks)[4]) {
  Value x = nn::Conv2d(g, "conv1", images, 64, 7, ResNetConv(2, 3));
  x = ops::Relu(g, nn::BatchNorm2d(g, "bn1", x));
  x = ops::MaxPool2D(g, x, {{3, 3}, {2, 2}, {1, 1}, false});
  for (int stage = 0; stage < 4; ++stage) {
    for (int b = 0; b < blocks[stage]; ++b) {
      const int64_t stride = stage > 0 && b == 0 ? 2 : 1;
      x = block(g, absl::StrCat("layer", stage + 1, ".", b), x, int64_t{64} << stage, stride);
    }
  }
  return nn::Linear(g, "fc", ops::GlobalAvgPool2D(g, x), o.num_classes);
}

}  // namespace

Value ResNet18(Graph& g, Value images, const ModelOptions& o) {
  return ImageNetResNet(g, images, o, BasicBlock, {2, 2, 2, 2});
}
Value ResNet50(Graph& g, Value images, const ModelOptions& o) {
  return ImageNetResNet(g, images, o, Bottleneck, {3, 4, 6, 3});
}

Value ResNeXt50(Graph& g, Value images, const ModelOptions& o) {
  return ImageNetResNet(g, images, o, Bottleneck32x4d, {3, 4, 6, 3});
}

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

DLF_REGISTER_MODEL(ImageNetModel("resnet18",
                                 "torchvision's ResNet-18 for 224x224 (any size: global pooling)",
                                 ResNet18, 11'181'642));

DLF_REGISTER_MODEL(ImageNetModel("resnet50",
                                 "torchvision's ResNet-50 (v1.5) for 224x224 (any size: global pooling)",
                                 ResNet50, 23'528'522));

DLF_REGISTER_MODEL(ImageNetModel("resnext50_32x4d",
                                 "torchvision's ResNeXt-50 32x4d for 224x224 (any size: global pooling)",
                                 ResNeXt50, 23'000'394));

DLF_REGISTER_MODEL({.name = "resnet56",
                    .description = "ResNet-56 for 32x32 (He et al. 2016), BatchNorm, 1x1-conv shortcuts",
                    .build = ResNet56,
                    .input_shape = {3, 32, 32},
                    .default_dataset = "cifar10",
                    .mean = kCifar10Mean,
                    .std = kCifar10Std,
                    .parameters = 855'770});

}  // namespace dlf::models
