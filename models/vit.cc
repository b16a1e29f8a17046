// torchvision's VisionTransformer (Dosovitskiy et al. 2021) with its parameter names and
// initialization: vit_b_16 loads into torchvision.models.vit_b_16(num_classes=N, image_size=S),
// vit-cifar into VisionTransformer(32, 4, 6, 3, 192, 768) (strict). The position embedding is
// sized to the images the graph is built for: any size divisible by the patch.
#include <cmath>

#include "absl/strings/str_cat.h"
#include "models/models.h"
#include "models/nn.h"
#include "models/registry.h"
#include "ops/ops.h"

namespace dlf::models {
namespace {

constexpr double kNormEps = 1e-6;

struct VitConfig {
  int64_t patch, layers, heads, hidden, mlp;
};

// EncoderBlock "<name>": x + attention(ln_1(x)), then + mlp(ln_2(.)) with MLP Linear, GELU, Linear
// ("mlp.0", "mlp.3"; Xavier-uniform weights, N(0, 1e-6) biases); dropout after the attention
// and each linear layer.
Value EncoderBlock(Graph& g, const std::string& name, Value x, const VitConfig& c, double dropout) {
  const Value attention = nn::MultiheadSelfAttention(g, name + ".self_attention",
                                                     ops::LayerNorm(g, x, name + ".ln_1", {.eps = kNormEps}), c.heads);
  x = ops::Add(g, ops::Dropout(g, attention, dropout), x);
  const nn::LinearOptions mlp = {.weight_init = Initializer::XavierUniform(), .bias_init = Initializer::Normal(1e-6f)};
  Value y = ops::LayerNorm(g, x, name + ".ln_2", {.eps = kNormEps});
  y = ops::Dropout(g, ops::Gelu(g, nn::Linear(g, name + ".mlp.0", y, c.mlp, mlp)), dropout);
  y = ops::Dropout(g, nn::Linear(g, name + ".mlp.3", y, c.hidden, mlp), dropout);
  return ops::Add(g, x, y);
}

Value VisionTransformer(Graph& g, Value images, const ModelOptions& o, const VitConfig& c) {
  const int64_t n = g.dim(images, 0), h = g.dim(images, 2), w = g.dim(images, 3);
  if (h % c.patch != 0 || w % c.patch != 0) {
    g.RecordError(absl::InvalidArgumentError(absl::StrCat("VisionTransformer: the image size ", h, "x", w,
                                                          " is not divisible by the patch size ", c.patch)));
    return Value{};
  }
  const int64_t patches = (h / c.patch) * (w / c.patch);
  // conv_proj: one token per patch; trunc_normal_(std=sqrt(1 / fan_in)) cuts at +-2, dozens of
  // deviations out: a plain normal draw.
  const double fan_in = 3.0 * c.patch * c.patch;
  Value x = nn::Conv2d(g, "conv_proj", images, c.hidden, c.patch,
                       {.stride = c.patch,
                        .weight_init = Initializer::Normal(static_cast<float>(std::sqrt(1.0 / fan_in))),
                        .bias_init = Initializer::Zeros()});
  x = ops::Transpose(g, ops::Reshape(g, x, {n, c.hidden, patches}), {0, 2, 1});  // [n, patches, hidden]
  const Value class_token = g.Parameter("class_token", {1, 1, c.hidden}, Initializer::Zeros());
  x = ops::Concat(g, {ops::BroadcastTo(g, class_token, {n, 1, c.hidden}), x}, 1);
  const Value position = g.Parameter("encoder.pos_embedding", {1, patches + 1, c.hidden}, Initializer::Normal(0.02f));
  x = ops::Dropout(g, ops::Add(g, x, position), o.dropout);
  for (int64_t i = 0; i < c.layers; ++i) {
    x = EncoderBlock(g, absl::StrCat("encoder.layers.encoder_layer_", i), x, c, o.dropout);
  }
  x = ops::LayerNorm(g, x, "encoder.ln", {.eps = kNormEps});
  // The class token's output: x[:, 0].
  x = ops::Reshape(g, ops::Slice(g, x, {0, 0, 0}, {n, 1, c.hidden}), {n, c.hidden});
  return nn::Linear(g, "heads.head", x, o.num_classes,
                    {.weight_init = Initializer::Zeros(), .bias_init = Initializer::Zeros()});
}

Value VitB16(Graph& g, Value images, const ModelOptions& o) {
  return VisionTransformer(g, images, o, {.patch = 16, .layers = 12, .heads = 12, .hidden = 768, .mlp = 3072});
}

Value VitCifar(Graph& g, Value images, const ModelOptions& o) {
  return VisionTransformer(g, images, o, {.patch = 4, .layers = 6, .heads = 3, .hidden = 192, .mlp = 768});
}

}  // namespace

DLF_REGISTER_MODEL(ImageNetModel("vit_b_16",
                                 "torchvision's ViT-B/16 for 224x224 (any size divisible by 16: the position "
                                 "embedding follows it)",
                                 VitB16, 85'806'346, 0.0));

DLF_REGISTER_MODEL({.name = "vit-cifar",
                    .description = "a ViT for 32x32: torchvision's VisionTransformer with patch 4, 6 layers, "
                                   "3 heads, width 192, MLP 768",
                    .build = VitCifar,
                    .input_shape = {3, 32, 32},
                    .default_dataset = "cifar10",
                    .mean = kCifar10Mean,
                    .std = kCifar10Std,
                    .dropout = 0.0,
                    .parameters = 2'693'578});

}  // namespace dlf::models
