// torchvision's ConvNeXt-Tiny (Liu et al. 2022) with its parameter names and initialization: its
// checkpoints load into torchvision.models.convnext_tiny(num_classes=N) (strict).
#include "absl/strings/str_cat.h"
#include "models/models.h"
#include "models/nn.h"
#include "models/registry.h"
#include "ops/ops.h"

namespace dlf::models {
namespace {

constexpr double kStochasticDepth = 0.1;  // block i of n drops its branch with 0.1 i / (n - 1)
constexpr double kLayerScale = 1e-6;      // the branch's initial per-channel scale
constexpr double kNormEps = 1e-6;

// trunc_normal_(std=0.02) cuts at +-2, 100 deviations out: a plain normal draw, zero bias.
const nn::Conv2dOptions kConv = {.weight_init = Initializer::Normal(0.02f), .bias_init = Initializer::Zeros()};
const nn::LinearOptions kLinear = {.weight_init = Initializer::Normal(0.02f), .bias_init = Initializer::Zeros()};

struct Stage { int64_t channels, blocks; };
constexpr Stage kTinyStages[] = {{96, 3}, {192, 3}, {384, 9}, {768, 3}};

// CNBlock "<name>": a 7x7 depthwise convolution, then per position (on [n, h, w, c]) LayerNorm,
// Linear to 4c, GELU, Linear back to c; scaled per channel by "<name>.layer_scale" [c, 1, 1],
// dropped by stochastic depth, and added to the input.
Value CNBlock(Graph& g, const std::string& name, Value x, double drop) {
  const int64_t c = g.dim(x, 1);
  const std::string block = name + ".block.";
  nn::Conv2dOptions depthwise = kConv;
  depthwise.padding = 3, depthwise.groups = c;
  Value y = ops::Transpose(g, nn::Conv2d(g, block + "0", x, c, 7, depthwise), {0, 2, 3, 1});
  y = ops::LayerNorm(g, y, block + "2", {.eps = kNormEps});
  y = ops::Gelu(g, nn::Linear(g, block + "3", y, 4 * c, kLinear));
  y = ops::Transpose(g, nn::Linear(g, block + "5", y, c, kLinear), {0, 3, 1, 2});
  const Value scale = g.Parameter(name + ".layer_scale", {c, 1, 1}, Initializer::Constant(kLayerScale));
  return ops::Add(g, ops::DropPath(g, ops::Mul(g, scale, y), drop), x);
}

Value ConvNeXtTiny(Graph& g, Value images, const ModelOptions& o) {
  int64_t total_blocks = 0;
  for (const Stage& s : kTinyStages) total_blocks += s.blocks;
  nn::Conv2dOptions patchify = kConv;
  patchify.stride = 4;
  Value x = nn::Conv2d(g, "features.0.0", images, kTinyStages[0].channels, 4, patchify);
  x = ops::LayerNorm2d(g, x, "features.0.1", {.eps = kNormEps});
  int64_t block_id = 0, feature = 1;
  for (size_t stage = 0; stage < std::size(kTinyStages); ++stage) {
    for (int64_t b = 0; b < kTinyStages[stage].blocks; ++b, ++block_id) {
      x = CNBlock(g, absl::StrCat("features.", feature, ".", b), x,
                  kStochasticDepth * block_id / (total_blocks - 1.0));
    }
    ++feature;
    if (stage + 1 == std::size(kTinyStages)) break;
    // Downsampling "features.<k>": LayerNorm2d, then a 2x2 stride-2 convolution to the next width.
    const std::string down = absl::StrCat("features.", feature++);
    nn::Conv2dOptions halve = kConv;
    halve.stride = 2;
    x = ops::LayerNorm2d(g, x, down + ".0", {.eps = kNormEps});
    x = nn::Conv2d(g, down + ".1", x, kTinyStages[stage + 1].channels, 2, halve);
  }
  // classifier: LayerNorm2d on the pooled [n, c, 1, 1] is a LayerNorm of [n, c]; Flatten; Linear.
  x = ops::LayerNorm(g, ops::GlobalAvgPool2D(g, x), "classifier.0", {.eps = kNormEps});
  return nn::Linear(g, "classifier.2", x, o.num_classes, kLinear);
}

}  // namespace

DLF_REGISTER_MODEL(ImageNetModel("convnext_tiny",
                                 "torchvision's ConvNeXt-Tiny for 224x224 (any size from 32: global pooling)",
                                 ConvNeXtTiny, 27'827'818, 0.0));

}  // namespace dlf::models
