// torchvision's RegNetY-400MF (Radosavovic et al. 2020) with its parameter names and
// initialization: its checkpoints load into torchvision.models.regnet_y_400mf(num_classes=N)
// (strict).
#include <cmath>

#include "absl/strings/str_cat.h"
#include "models/blocks.h"
#include "models/models.h"
#include "models/registry.h"
#include "ops/ops.h"

namespace dlf::models {
namespace {

// RegNet's stage table for depth 16, w_0 48, w_a 27.89, w_m 2.09, group width 8, bottleneck
// ratio 1, as torchvision's BlockParams.from_init_params computes it (widths quantized to 8).
struct Stage { int64_t width, depth; };
constexpr Stage kY400mfStages[] = {{48, 1}, {104, 3}, {208, 6}, {440, 6}};
constexpr int64_t kGroupWidth = 8;
constexpr double kSeRatio = 0.25;

// ResBottleneckBlock "<name>": f = 1x1 (a), 3x3 grouped with the stride (b), squeeze-and-
// excitation of round(0.25 in) channels (se), 1x1 without activation (c); plus the input, or its
// 1x1 strided projection (proj) where the shape changes; ReLU.
Value ResBottleneckBlock(Graph& g, const std::string& name, Value x, int64_t width, int64_t stride) {
  const int64_t in = g.dim(x, 1);
  const std::string f = name + ".f.";
  Value y = Conv2dNormActivation(g, f + "a", x, width, 1);
  y = Conv2dNormActivation(g, f + "b", y, width, 3, {.stride = stride, .groups = width / kGroupWidth});
  // RegNet initializes only the convolutions' weights: the SE's biases keep nn.Conv2d's default.
  y = SqueezeExcitation(g, f + "se", y, std::lround(kSeRatio * in), {.bias_init = std::nullopt});
  y = Conv2dNormActivation(g, f + "c", y, width, 1, {.activation = Activation::kNone});
  Value shortcut = x;
  if (in != width || stride != 1) {
    shortcut = Conv2dNormActivation(g, name + ".proj", x, width, 1, {.stride = stride, .activation = Activation::kNone});
  }
  return ops::Relu(g, ops::Add(g, shortcut, y));
}

Value RegNetY400mf(Graph& g, Value images, const ModelOptions& o) {
  Value x = Conv2dNormActivation(g, "stem", images, 32, 3, {.stride = 2});
  for (int i = 0; i < 4; ++i) {
    const Stage& s = kY400mfStages[i];
    for (int64_t b = 0; b < s.depth; ++b) {
      const std::string name = absl::StrCat("trunk_output.block", i + 1, ".block", i + 1, "-", b);
      x = ResBottleneckBlock(g, name, x, s.width, b == 0 ? 2 : 1);
    }
  }
  return nn::Linear(g, "fc", ops::GlobalAvgPool2D(g, x), o.num_classes,
                    {.weight_init = Initializer::Normal(0.01f), .bias_init = Initializer::Zeros()});
}

}  // namespace

DLF_REGISTER_MODEL(ImageNetModel("regnet_y_400mf",
                                 "torchvision's RegNetY-400MF for 224x224 (any size: global pooling)",
                                 RegNetY400mf, 3'907'554));

}  // namespace dlf::models
