#ifndef DLF_MODELS_TRAINING_EVALUATOR_H_
#define DLF_MODELS_TRAINING_EVALUATOR_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "data/transforms.h"
#include "graph/executor.h"
#include "graph/graph.h"
#include "models/models.h"
#include "models/training/classifier.h"
#include "models/training/report.h"

namespace dlf::training {

struct EvalResult {
  int64_t count = 0;
  double loss = 0;      // mean cross-entropy
  double accuracy = 0;  // fraction correct
  std::vector<std::vector<int64_t>> confusion;  // [true class][predicted class]
  std::vector<double> PerClassAccuracy() const;
};

// The result as metrics "<split>_loss" and "<split>_accuracy".
void AddMetrics(const EvalResult& result, const std::string& split, EpochMetrics& m);

// Runs a model in inference mode over a whole dataset. It owns one graph per batch size it
// meets (the full batch and, if the dataset does not divide evenly, the last one), all with
// the same weights.
class Evaluator {
 public:
  // bf16: convolutions and linear layers compute in bf16 (ExecutorOptions::bf16).
  Evaluator(models::ModelFn build, models::ModelOptions options, Shape image_shape,
            int64_t batch_size, data::Normalization normalization, bool bf16 = false);

  // Takes the weights of every parameter and buffer of `source`, a graph of the same model.
  void CopyWeightsFrom(const Graph& source);
  // Takes weights by parameter name; every model parameter must be there with its shape, and
  // nothing else may be (tensors named "optimizer/..." are training state and are skipped).
  absl::Status LoadWeights(const std::map<std::string, Tensor>& tensors, const std::string& origin);

  // How images streamed from files are fitted (resize, center crop, filter); no randomness.
  void set_transform(const data::Augmentation& transform) { transform_ = transform; }

  absl::StatusOr<EvalResult> Evaluate(const data::Dataset& dataset);
  // The logits [n, classes] of every image of `dataset`, in order (its labels are ignored).
  absl::StatusOr<Tensor> Logits(const data::Dataset& dataset);

 private:
  struct Net {
    std::unique_ptr<Graph> graph;
    ClassifierNet head;
    std::unique_ptr<Executor> executor;
    int64_t weights_version = -1;  // which weights_ its parameters hold
  };
  absl::StatusOr<Net*> NetFor(int64_t batch);
  // Runs every batch of `dataset` in order; `consume` reads the net's fetches
  // (0: loss, 1: predictions, 2: logits).
  absl::Status ForEachBatch(const data::Dataset& dataset,
                            const std::function<void(const data::Batch&, const Executor&)>& consume);

  models::ModelFn build_;
  models::ModelOptions options_;
  Shape image_shape_;
  int64_t batch_size_;
  data::Normalization normalization_;
  data::Augmentation transform_;
  bool bf16_;
  std::map<std::string, Tensor> weights_;
  int64_t weights_version_ = 0;
  std::map<int64_t, std::unique_ptr<Net>> nets_;
};

}  // namespace dlf::training

#endif  // DLF_MODELS_TRAINING_EVALUATOR_H_
