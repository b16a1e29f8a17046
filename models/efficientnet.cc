// torchvision's EfficientNet-B0 (Tan & Le 2019) with its parameter names and initialization: its
// checkpoints load into torchvision.models.efficientnet_b0(num_classes=N) (strict).
#include <cmath>

#include "absl/strings/str_cat.h"
#include "models/blocks.h"
#include "models/models.h"
#include "models/registry.h"
#include "ops/ops.h"

namespace dlf::models {
namespace {

// torchvision's stochastic_depth_prob for B0: block i of n drops its branch with 0.2 i / n.
constexpr double kStochasticDepth = 0.2;

struct Stage { int64_t expand, kernel, stride, out, blocks; };

// MBConv "features.<s>.<b>": a 1x1 expansion (SiLU; none for ratio 1), a k x k depthwise
// convolution (SiLU), squeeze-and-excitation (squeeze max(1, in / 4), SiLU and sigmoid), a
// linear 1x1 projection; where the shape stays, stochastic depth on the branch and the input
// added.
Value MBConv(Graph& g, const std::string& name, Value x, const Stage& s, int64_t stride, double drop) {
  const int64_t in = g.dim(x, 1), expanded = MakeDivisible(in * s.expand, 8);
  const std::string block = name + ".block.";
  int index = 0;
  Value y = x;
  if (expanded != in) {
    y = Conv2dNormActivation(g, block + "0", y, expanded, 1, {.activation = Activation::kSilu});
    ++index;
  }
  y = Conv2dNormActivation(g, absl::StrCat(block, index++), y, expanded, s.kernel,
                           {.stride = stride, .groups = expanded, .activation = Activation::kSilu});
  y = SqueezeExcitation(g, absl::StrCat(block, index++), y, std::max<int64_t>(1, in / 4),
                        {.activation = Activation::kSilu});
  y = Conv2dNormActivation(g, absl::StrCat(block, index), y, s.out, 1, {.activation = Activation::kNone});
  if (stride != 1 || in != s.out) return y;
  return ops::Add(g, ops::DropPath(g, y, drop), x);
}

Value EfficientNetB0(Graph& g, Value images, const ModelOptions& o) {
  static constexpr Stage kStages[] = {{1, 3, 1, 16, 1}, {6, 3, 2, 24, 2},  {6, 5, 2, 40, 2}, {6, 3, 2, 80, 3},
                                      {6, 5, 1, 112, 3}, {6, 5, 2, 192, 4}, {6, 3, 1, 320, 1}};
  int64_t total_blocks = 0;
  for (const Stage& s : kStages) total_blocks += s.blocks;
  Value x = Conv2dNormActivation(g, "features.0", images, 32, 3, {.stride = 2, .activation = Activation::kSilu});
  int64_t block_id = 0;
  for (int stage = 0; stage < 7; ++stage) {
    const Stage& s = kStages[stage];
    for (int64_t b = 0; b < s.blocks; ++b, ++block_id) {
      x = MBConv(g, absl::StrCat("features.", stage + 1, ".", b), x, s, b == 0 ? s.stride : 1,
                 kStochasticDepth * block_id / total_blocks);
    }
  }
  x = Conv2dNormActivation(g, "features.8", x, 1280, 1, {.activation = Activation::kSilu});
  x = ops::Dropout(g, ops::GlobalAvgPool2D(g, x), o.dropout);
  // nn.init.uniform_(w, +-1/sqrt(out_features)), zero bias.
  const float bound = 1.0f / std::sqrt(static_cast<float>(o.num_classes));
  return nn::Linear(g, "classifier.1", x, o.num_classes,
                    {.weight_init = Initializer::Uniform(bound), .bias_init = Initializer::Zeros()});
}

}  // namespace

DLF_REGISTER_MODEL(ImageNetModel("efficientnet_b0",
                                 "torchvision's EfficientNet-B0 for 224x224 (any size: global pooling)",
                                 EfficientNetB0, 4'020'358, 0.2));

}  // namespace dlf::models
