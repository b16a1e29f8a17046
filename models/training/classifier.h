#ifndef DLF_MODELS_TRAINING_CLASSIFIER_H_
#define DLF_MODELS_TRAINING_CLASSIFIER_H_

// A model on a batch of images with its classification head, as training and evaluation both
// build it: the inputs, the logits, the mean cross-entropy against the labels, the predicted
// classes and how many are right.

#include <cstdint>

#include "graph/graph.h"
#include "models/models.h"

namespace dlf::training {

struct ClassifierNet {
  Value images;       // f32 [batch, c, h, w], fed
  Value labels;       // i32 [batch], fed
  Value targets;      // f32 [batch, classes], fed with mixup/cutmix (else invalid)
  Value logits;       // [batch, classes]
  Value loss;         // mean cross-entropy (with label smoothing, as PyTorch's)
  Value predictions;  // i32 [batch]: the arg max of the logits
  Value correct;      // f32 scalar: how many predictions equal the labels
};

// Errors are recorded in `g` (check g.status()).
// With soft_targets the loss is against fed targets (mixup/cutmix) and `correct` counts the
// samples' own labels.
ClassifierNet BuildClassifier(Graph& g, const models::ModelFn& build, const models::ModelOptions& options,
                              int64_t batch, const Shape& image_shape, double label_smoothing = 0.0,
                              bool soft_targets = false);

}  // namespace dlf::training

#endif  // DLF_MODELS_TRAINING_CLASSIFIER_H_
