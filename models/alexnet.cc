#include "models/layers.h"
#include "models/models.h"
#include "models/registry.h"

namespace dlf::models {
namespace {

// Both presets' head: dropout, two hidden layers of `width` with ReLU, then the class scores.
Value Classifier(Graph& g, Value features, int64_t width, const ModelOptions& o, InitScheme init) {
  Sequential classifier(g, "classifier", features, init);
  classifier.Dropout(o.dropout).Linear(width).Relu()
      .Dropout(o.dropout).Linear(width).Relu()
      .Linear(o.num_classes, /*followed_by_relu=*/false);
  return classifier.output();
}

// The preset's own initialization unless the options choose another.
InitScheme Init(const ModelOptions& o, InitScheme preset_default) { return o.extra.init.value_or(preset_default); }

bool Lrn(const ModelOptions& o) { return o.extra.lrn; }

}  // namespace

Value AlexNetSeed(Graph& g, Value images, const ModelOptions& o) {
  const InitScheme init = Init(o, InitScheme::kHe);
  Sequential features(g, "features", images, init);
  features.Conv(96, 11, 4, 2).Relu();
  if (Lrn(o)) features.Lrn();
  features.MaxPool(3, 2).Conv(256, 5, 1, 2).Relu();
  if (Lrn(o)) features.Lrn();
  features.MaxPool(3, 2)
      .Conv(384, 3, 1, 1).Relu()
      .Conv(384, 3, 1, 1).Relu()
      .Conv(256, 3, 1, 1).Relu()
      .MaxPool(3, 2, 1)
      .Flatten();
  return Classifier(g, features.output(), 4096, o, init);
}

Value AlexNetCifar(Graph& g, Value images, const ModelOptions& o) {
  const InitScheme init = Init(o, InitScheme::kTorch);
  Sequential features(g, "features", images, init);
  features.Conv(32, 3, 1, 1).Relu();
  if (Lrn(o)) features.Lrn();
  features.MaxPool(2, 2).Conv(96, 3, 1, 1).Relu();
  if (Lrn(o)) features.Lrn();
  features.MaxPool(2, 2)
      .Conv(192, 3, 1, 1).Relu()
      .Conv(128, 3, 1, 1).Relu()
      .Conv(128, 3, 1, 1).Relu()
      .MaxPool(2, 2)
      .Flatten();
  return Classifier(g, features.output(), 1024, o, init);
}

DLF_REGISTER_MODEL({.name = "alexnet-seed",
                    .aliases = {"seed"},
                    .description = "AlexNet, 11x11/4 first conv and 4096-wide classifier",
                    .build = AlexNetSeed,
                    .options = {"init", "lrn"},
                    .input_shape = {3, 32, 32},
                    .default_dataset = "cifar10",
                    .mean = kCifar10Mean,
                    .std = kCifar10Std,
                    .parameters = 21'622'154});

DLF_REGISTER_MODEL({.name = "alexnet-cifar",
                    .aliases = {"cifar"},
                    .description = "AlexNet for 32x32: 3x3 convs, 2x2 pools, 1024-wide classifier",
                    .build = AlexNetCifar,
                    .options = {"init", "lrn"},
                    .input_shape = {3, 32, 32},
                    .default_dataset = "cifar10",
                    .mean = kCifar10Mean,
                    .std = kCifar10Std,
                    .parameters = 3'721'642});

}  // namespace dlf::models
