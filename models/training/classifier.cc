#include "models/training/classifier.h"

#include "ops/ops.h"

namespace dlf::training {

ClassifierNet BuildClassifier(Graph& g, const models::ModelFn& build, const models::ModelOptions& options,
                              int64_t batch, const Shape& image_shape, double label_smoothing,
                              bool soft_targets) {
  ClassifierNet net;
  Shape shape = {batch};
  shape.insert(shape.end(), image_shape.begin(), image_shape.end());
  net.images = g.Input("images", DType::kF32, shape);
  net.labels = g.Input("labels", DType::kI32, {batch});
  net.logits = build(g, net.images, options);
  if (soft_targets) {
    net.targets = g.Input("targets", DType::kF32, {batch, options.num_classes});
    net.loss = ops::SoftTargetCrossEntropy(g, net.logits, net.targets, label_smoothing);
  } else {
    net.loss = ops::SoftmaxCrossEntropy(g, net.logits, net.labels, label_smoothing);
  }
  net.correct = ops::CountCorrect(g, net.logits, net.labels);
  net.predictions = ops::Argmax(g, net.logits);
  return net;
}

}  // namespace dlf::training
