// torchvision's MobileNetV2 (Sandler et al. 2018) and MobileNetV3-Small (Howard et al. 2019),
// width 1.0, with its parameter names and initialization: their checkpoints load into
// torchvision.models.mobilenet_v2 / mobilenet_v3_small(num_classes=N) (strict).
#include "absl/strings/str_cat.h"
#include "models/blocks.h"
#include "models/models.h"
#include "models/registry.h"
#include "ops/ops.h"

namespace dlf::models {
namespace {

// Both heads' linear layers: nn.init.normal_(w, 0, 0.01), zero bias.
nn::LinearOptions HeadLinear() { return {.weight_init = Initializer::Normal(0.01f), .bias_init = Initializer::Zeros()}; }

// V2's inverted residual "features.<i>": a 1x1 expansion (ReLU6; none when the ratio is 1), a
// 3x3 depthwise convolution (ReLU6), a linear 1x1 projection; the input added where the shape
// stays.
Value InvertedResidualV2(Graph& g, const std::string& name, Value x, int64_t out, int64_t stride, int64_t expand) {
  const int64_t in = g.dim(x, 1), hidden = in * expand;
  const std::string conv = name + ".conv.";
  int index = 0;
  Value y = x;
  if (expand != 1) {
    y = Conv2dNormActivation(g, conv + "0", y, hidden, 1, {.activation = Activation::kRelu6});
    ++index;
  }
  y = Conv2dNormActivation(g, absl::StrCat(conv, index), y, hidden, 3,
                           {.stride = stride, .groups = hidden, .activation = Activation::kRelu6});
  const nn::Conv2dOptions project{.bias = false, .weight_init = Initializer::HeNormalFanOut()};
  y = nn::Conv2d(g, absl::StrCat(conv, index + 1), y, out, 1, project);
  y = nn::BatchNorm2d(g, absl::StrCat(conv, index + 2), y);
  return stride == 1 && in == out ? ops::Add(g, x, y) : y;
}

Value MobileNetV2(Graph& g, Value images, const ModelOptions& o) {
  struct Stage { int64_t expand, channels, blocks, stride; };
  static constexpr Stage kStages[] = {{1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2},
                                      {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
  Value x = Conv2dNormActivation(g, "features.0", images, 32, 3, {.stride = 2, .activation = Activation::kRelu6});
  int feature = 1;
  for (const Stage& s : kStages) {
    for (int64_t b = 0; b < s.blocks; ++b) {
      x = InvertedResidualV2(g, absl::StrCat("features.", feature++), x, s.channels, b == 0 ? s.stride : 1, s.expand);
    }
  }
  x = Conv2dNormActivation(g, absl::StrCat("features.", feature), x, 1280, 1, {.activation = Activation::kRelu6});
  x = ops::Dropout(g, ops::GlobalAvgPool2D(g, x), o.dropout);
  return nn::Linear(g, "classifier.1", x, o.num_classes, HeadLinear());
}

// V3's BatchNorm: eps 1e-3, momentum 0.01.
constexpr ops::BatchNormOptions kV3Norm{.eps = 1e-3, .momentum = 0.01};

// V3's inverted residual "features.<i>.block": expansion (where the width changes), depthwise
// k x k, squeeze-and-excitation (squeeze width MakeDivisible(expanded / 4, 8), hard sigmoid),
// linear projection; the input added where the shape stays.
struct BlockV3 { int64_t kernel, expanded, out; bool se, hard_swish; int64_t stride; };

Value InvertedResidualV3(Graph& g, const std::string& name, Value x, const BlockV3& b) {
  const int64_t in = g.dim(x, 1);
  const Activation act = b.hard_swish ? Activation::kHardSwish : Activation::kRelu;
  const std::string block = name + ".block.";
  int index = 0;
  Value y = x;
  if (b.expanded != in) {
    y = Conv2dNormActivation(g, block + "0", y, b.expanded, 1, {.activation = act, .norm = kV3Norm});
    ++index;
  }
  y = Conv2dNormActivation(g, absl::StrCat(block, index++), y, b.expanded, b.kernel,
                           {.stride = b.stride, .groups = b.expanded, .activation = act, .norm = kV3Norm});
  if (b.se) {
    y = SqueezeExcitation(g, absl::StrCat(block, index++), y, MakeDivisible(b.expanded / 4, 8),
                          {.scale_activation = Activation::kHardSigmoid});
  }
  y = Conv2dNormActivation(g, absl::StrCat(block, index), y, b.out, 1,
                           {.activation = Activation::kNone, .norm = kV3Norm});
  return b.stride == 1 && in == b.out ? ops::Add(g, x, y) : y;
}

Value MobileNetV3Small(Graph& g, Value images, const ModelOptions& o) {
  static constexpr BlockV3 kBlocks[] = {
      {3, 16, 16, true, false, 2},   {3, 72, 24, false, false, 2}, {3, 88, 24, false, false, 1},
      {5, 96, 40, true, true, 2},    {5, 240, 40, true, true, 1},  {5, 240, 40, true, true, 1},
      {5, 120, 48, true, true, 1},   {5, 144, 48, true, true, 1},  {5, 288, 96, true, true, 2},
      {5, 576, 96, true, true, 1},   {5, 576, 96, true, true, 1}};
  Value x = Conv2dNormActivation(g, "features.0", images, 16, 3,
                                 {.stride = 2, .activation = Activation::kHardSwish, .norm = kV3Norm});
  int feature = 1;
  for (const BlockV3& b : kBlocks) x = InvertedResidualV3(g, absl::StrCat("features.", feature++), x, b);
  x = Conv2dNormActivation(g, absl::StrCat("features.", feature), x, 576, 1,
                           {.activation = Activation::kHardSwish, .norm = kV3Norm});
  x = ops::HardSwish(g, nn::Linear(g, "classifier.0", ops::GlobalAvgPool2D(g, x), 1024, HeadLinear()));
  return nn::Linear(g, "classifier.3", ops::Dropout(g, x, o.dropout), o.num_classes, HeadLinear());
}

}  // namespace

DLF_REGISTER_MODEL(ImageNetModel("mobilenet_v2",
                                 "torchvision's MobileNetV2 (width 1.0) for 224x224 (any size: global pooling)",
                                 MobileNetV2, 2'236'682, 0.2));

DLF_REGISTER_MODEL(ImageNetModel("mobilenet_v3_small",
                                 "torchvision's MobileNetV3-Small for 224x224 (any size: global pooling)",
                                 MobileNetV3Small, 1'528'106, 0.2));

}  // namespace dlf::models
