#include "models/training/classifier.h"

#include "ops/ops.h"

namespace dlf::training {

ClassifierNet BuildClassifier(Graph& g, const models::ModelFn& build, const models::ModelOptions& options,
                              int64_t batch, const Shape& image_shape, double label_smoothing) {
  ClassifierNet net;
  Shape shape = {batch};
  shape.insert(shape.end(), image_shape.begin(), image_shape.end());
  net.images = g.Input("images", DType::kF32, shape);
  net.labels = g.Input("labels", DType::kI32, {batch});
  net.logits = build(g, net.images, options);
  net.loss = ops::SoftmaxCrossEntropy(g, net.logits, net.labels, label_smoothing);
  net.correct = ops::CountCorrect(g, net.logits, net.labels);
  net.predictions = ops::Argmax(g, net.logits);
  return net;
}

}  // namespace dlf::training
