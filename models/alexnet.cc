#include "models/layers.h"
#include "models/models.h"

namespace dlf::models {

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
  Sequential classifier(g, "classifier", features.output());
  classifier.Dropout(o.dropout).Linear(4096).Relu()
      .Dropout(o.dropout).Linear(4096).Relu()
      .Linear(o.num_classes, /*followed_by_relu=*/false);
  return classifier.output();
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
  Sequential classifier(g, "classifier", features.output());
  classifier.Dropout(o.dropout).Linear(1024).Relu()
      .Dropout(o.dropout).Linear(1024).Relu()
      .Linear(o.num_classes, /*followed_by_relu=*/false);
  return classifier.output();
}

}  // namespace dlf::models
