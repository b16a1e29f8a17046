#include "models/layers.h"
#include "models/models.h"

namespace dlf::models {
namespace {

// Both presets' head: dropout, two hidden layers of `width` with ReLU, then the class scores.
Value Classifier(Graph& g, Value features, int64_t width, const ModelOptions& o) {
  Sequential classifier(g, "classifier", features);
  classifier.Dropout(o.dropout).Linear(width).Relu()
      .Dropout(o.dropout).Linear(width).Relu()
      .Linear(o.num_classes, /*followed_by_relu=*/false);
  return classifier.output();
}

}  // namespace

Value AlexNetSeed(Graph& g, Value images, const ModelOptions& o) {
  Sequential features(g, "features", images);
  features.Conv(96, 11, 4, 2).Relu();
  if (o.lrn) features.Lrn();
  features.MaxPool(3, 2).Conv(256, 5, 1, 2).Relu();
  if (o.lrn) features.Lrn();
  features.MaxPool(3, 2)
      .Conv(384, 3, 1, 1).Relu()
      .Conv(384, 3, 1, 1).Relu()
      .Conv(256, 3, 1, 1).Relu()
      .MaxPool(3, 2, 1)
      .Flatten();
  return Classifier(g, features.output(), 4096, o);
}

Value AlexNetCifar(Graph& g, Value images, const ModelOptions& o) {
  Sequential features(g, "features", images);
  features.Conv(32, 3, 1, 1).Relu();
  if (o.lrn) features.Lrn();
  features.MaxPool(2, 2).Conv(96, 3, 1, 1).Relu();
  if (o.lrn) features.Lrn();
  features.MaxPool(2, 2)
      .Conv(192, 3, 1, 1).Relu()
      .Conv(128, 3, 1, 1).Relu()
      .Conv(128, 3, 1, 1).Relu()
      .MaxPool(2, 2)
      .Flatten();
  return Classifier(g, features.output(), 1024, o);
}

}  // namespace dlf::models
