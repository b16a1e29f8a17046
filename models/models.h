#ifndef DLF_MODELS_MODELS_H_
#define DLF_MODELS_MODELS_H_

#include <functional>
#include <map>
#include <optional>
#include <string>

#include "graph/graph.h"

namespace dlf::models {

// How the layers of a models::Sequential start (the AlexNet presets; each has its own default,
// see below, and ModelVariant::init chooses another).
enum class InitScheme {
  kHe,     // He (Kaiming) normal for layers followed by ReLU, Xavier uniform for the last; bias 0
  kTorch,  // PyTorch's nn.Conv2d/nn.Linear default: U(+-1/sqrt(fan_in)) for weights and biases
};

// What a model is trained for (models/training/task.h builds each task's head and metrics).
enum class TaskKind {
  kClassification,  // images f32 [n, c, h, w] in, class logits [n, classes] out
  kLanguageModel,   // token ids i32 [n, t] in, next-token logits [n, t, vocabulary] out
};

// A transformer language model's shape (--block_size --n_layer --n_head --n_embd --bias).
struct TransformerOptions {
  int64_t block_size = 64;  // the longest context, in tokens
  int64_t n_layer = 4;
  int64_t n_head = 4;
  int64_t n_embd = 128;
  bool bias = false;  // biases in the Linear and LayerNorm layers
};

// Options only some models take (ModelSpec::options lists the ones a model reads by name):
// the AlexNet presets'. Flags and checkpoints give them by name (models::ModelVariantRecord),
// so evaluation, prediction and export rebuild the same network.
struct ModelVariant {
  bool lrn = false;               // "lrn" = "true": local response normalization after conv1 and conv2 (2012)
  std::optional<InitScheme> init;  // "init" = "he" | "torch": instead of the preset's own
};

struct ModelOptions {
  int64_t num_classes = 10;  // a language model's: the vocabulary
  double dropout = 0.5;
  TransformerOptions transformer;  // language models
  ModelVariant extra;  // the options only some models take
};

// Adds a model to `g` on its input (its task's: images [n, c, h, w], or token ids [n, t]) and
// returns its logits ([n, num_classes], or [n, t, num_classes]).
using ModelFn = std::function<Value(Graph& g, Value images, const ModelOptions& options)>;

// AlexNet, preset "seed" (the original gap analysis' layer list on 3x32x32):
//   features: Conv 96 11x11/4 pad 2, ReLU, MaxPool 3/2, Conv 256 5x5 pad 2, ReLU, MaxPool 3/2,
//             Conv 384 3x3, ReLU, Conv 384 3x3, ReLU, Conv 256 3x3, ReLU, MaxPool 3/2 pad 1
//             (7x7 -> 3x3 -> 1x1; the padding keeps the last pool valid on the 1x1 map)
//   classifier: Dropout, FC 256->4096, ReLU, Dropout, FC 4096->4096, ReLU, FC 4096->10
//   21.6 M parameters, most in the 4096x4096 layer.
Value AlexNetSeed(Graph& g, Value images, const ModelOptions& options);

// AlexNet, preset "cifar": the same five-conv, three-FC shape, but with 3x3 stride-1 first
// convolution and 2x2 pools so the feature maps go 32 -> 16 -> 8 -> 4, and narrower layers:
//   features: Conv 32 3x3 pad 1, ReLU, MaxPool 2/2, Conv 96 3x3 pad 1, ReLU, MaxPool 2/2,
//             Conv 192 3x3 pad 1, ReLU, Conv 128 3x3 pad 1, ReLU, Conv 128 3x3 pad 1, ReLU,
//             MaxPool 2/2
//   classifier: Dropout, FC 2048->1024, ReLU, Dropout, FC 1024->1024, ReLU, FC 1024->10
//   3.7 M parameters, ~45 M multiply-adds per image (the seed preset: ~28 M). It sees the
//   whole 32x32 image at stride 1, where the seed's 11x11/4 first layer keeps a 7x7 map.
// Initialization: the seed preset He (kHe), the cifar preset PyTorch's default (kTorch), chosen
// by measurement (README: 3 epochs of Fashion-MNIST, test accuracy 74.6/83.6/86.2% with kTorch
// against 70.8/79.5/86.2% with kHe).
Value AlexNetCifar(Graph& g, Value images, const ModelOptions& options);

// ResNet-20 / ResNet-56 for 32x32 (He et al. 2016, section 4.2): 3x3 conv 16 + BN + ReLU,
// three stages of 3 / 9 basic blocks (16, 32, 64 channels, stride 2 at the first block of
// stages 2 and 3, 1x1 conv + BN shortcuts where the shape changes), global average pooling,
// fc 64 -> classes. torchvision's names (conv1, bn1, layer1.0.conv1, layer2.0.downsample.0,
// ..., fc) and initialization (Kaiming normal fan_out convs, BN 1 and 0, nn.Linear's default).
Value ResNet20(Graph& g, Value images, const ModelOptions& options);
Value ResNet56(Graph& g, Value images, const ModelOptions& options);
// torchvision's ResNet-18 / ResNet-50 (v1.5) for 224x224 photos; any size (global pooling).
Value ResNet18(Graph& g, Value images, const ModelOptions& options);
Value ResNet50(Graph& g, Value images, const ModelOptions& options);
// torchvision's ResNeXt-50 32x4d: ResNet-50 whose bottlenecks' 3x3 convolutions are 32 groups of
// 4 channels per 64 planes (twice ResNet-50's width).
Value ResNeXt50(Graph& g, Value images, const ModelOptions& options);

// VGG-11 with BatchNorm for 32x32: conv 3x3 pad 1 widths 64, M, 128, M, 256, 256, M, 512, 512,
// M, 512, 512, M (M: max-pool 2/2), each conv + BN + ReLU, then Linear 512 -> classes.
Value Vgg11Bn(Graph& g, Value images, const ModelOptions& options);

// LeNet-5 (ReLU and max-pooling variant) for 1x28x28: conv1 6 5x5 pad 2, pool, conv2 16 5x5,
// pool, fc1 400->120, fc2 120->84, fc3 84->10.
Value LeNet5(Graph& g, Value images, const ModelOptions& options);

}  // namespace dlf::models

#endif  // DLF_MODELS_MODELS_H_
