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
#include "models/training/task.h"

namespace dlf::training {

struct EvalResult {
  int64_t count = 0;
  double loss = 0;      // mean cross-entropy
  double loss_sum = 0;  // summed over the samples
  double accuracy = 0;  // fraction correct
  std::vector<std::vector<int64_t>> confusion;  // [true class][predicted class]
  std::vector<double> PerClassAccuracy() const;
};

// The result as sums that add up over shares of a data set (summed loss, count, confusion
// matrix), and back from their totals.
std::vector<double> ResultSums(const EvalResult& result);
EvalResult ResultFromSums(const std::vector<double>& sums, int classes);

// Runs a model in inference mode over a whole dataset. It owns one graph per batch size it
// meets (the full batch and, if the dataset does not divide evenly, the last one), all with
// the same weights.
//
// The weights an evaluation scores, by name, apart from its inference graphs (one per batch
// size): copied into a graph only when they changed since it last took them.
class EvaluationWeights {
 public:
  // Every parameter and buffer of `source`, a graph of the same model.
  void CopyFrom(const Graph& source);
  // `tensors` by name, checked as load_state_dict(strict=True) against `model` (a graph of the
  // model); `origin` names them in errors.
  absl::Status Load(const Graph& model, const std::map<std::string, Tensor>& tensors, const std::string& origin);
  bool empty() const { return weights_.empty(); }
  // Into `g`'s parameters (compiled in `executor`) unless `*version` says they are there.
  void CopyInto(Graph& g, Executor& executor, int64_t* version) const;

 private:
  std::map<std::string, Tensor> weights_;
  int64_t version_ = 0;
};

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
  EvaluationWeights weights_;
  std::map<int64_t, std::unique_ptr<Net>> nets_;
};

// Classification's evaluation: `evaluator`'s model on `dataset`, this rank scoring a
// contiguous share; metrics "<split>_loss" and "<split>_accuracy".
class ImageEvaluation final : public TaskEvaluation {
 public:
  ImageEvaluation(std::unique_ptr<Evaluator> evaluator, const data::Dataset* dataset, int classes)
      : evaluator_(std::move(evaluator)), dataset_(dataset), classes_(classes) {}
  void CopyWeightsFrom(const Graph& source) override { evaluator_->CopyWeightsFrom(source); }
  absl::Status LoadWeights(const std::map<std::string, Tensor>& tensors, const std::string& origin) override {
    return evaluator_->LoadWeights(tensors, origin);
  }
  absl::StatusOr<std::vector<double>> ShareSums(int rank, int world) override;
  void AddMetrics(const std::vector<double>& totals, const std::string& split, EpochMetrics& m) const override;

 private:
  std::unique_ptr<Evaluator> evaluator_;
  const data::Dataset* dataset_;
  int classes_;
  int shard_world_ = 1;
  data::Dataset shard_;  // this rank's share, sliced once (when world > 1)
};

// The evaluation of `dataset` by the image classifier `config` trains (its model, evaluation
// shape and transform, normalization, batch and precision).
std::unique_ptr<ImageEvaluation> ImageEvaluationOf(const TrainConfig& config, const data::Dataset* dataset);

}  // namespace dlf::training

#endif  // DLF_MODELS_TRAINING_EVALUATOR_H_
