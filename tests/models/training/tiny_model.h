#ifndef DLF_TESTS_MODELS_TRAINING_TINY_MODEL_H_
#define DLF_TESTS_MODELS_TRAINING_TINY_MODEL_H_

// A model small enough to train many times in a test: flatten, linear 32, ReLU, dropout (the
// options' rate), linear to the classes, on generated 1x8x8 images of 10 classes.

#include "data/dataset.h"
#include "data/synthetic.h"
#include "models/training/train_config.h"

namespace dlf::training {

Value TinyNet(Graph& g, Value images, const models::ModelOptions& options);

// TinyNet on synthetic 1x8x8 data: batch 16, lr 0.05, no dropout, quiet, no output directory.
TrainConfig TinyTrainConfig();

struct TinyData {
  data::Dataset train = data::MakeSyntheticDataset(192, 1, 8, 10, 1);
  data::Dataset test = data::MakeSyntheticDataset(100, 1, 8, 10, 2);
};

}  // namespace dlf::training

#endif  // DLF_TESTS_MODELS_TRAINING_TINY_MODEL_H_
