#ifndef DLF_MODELS_EVALUATOR_H_
#define DLF_MODELS_EVALUATOR_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "data/dataset.h"
#include "data/transforms.h"
#include "graph/executor.h"
#include "graph/graph.h"
#include "models/models.h"

namespace dlf::models {

struct EvalResult {
  int64_t count = 0;
  double loss = 0;      // mean cross-entropy
  double accuracy = 0;  // fraction correct
  std::vector<std::vector<int64_t>> confusion;  // [true class][predicted class]
  std::vector<double> PerClassAccuracy() const;
};

// Checks that `tensors` holds every parameter of `g` with its dtype and shape and nothing else
// (tensors named "optimizer/..." are training state and are allowed). `origin` names the file.
absl::Status ValidateWeights(const Graph& g, const std::map<std::string, Tensor>& tensors,
                             const std::string& origin);

// Runs a model in inference mode over a whole dataset. It owns one graph per batch size it
// meets (the full batch and, if the dataset does not divide evenly, the last one), all with
// the same weights.
class Evaluator {
 public:
  Evaluator(ModelFn build, ModelOptions options, Shape image_shape, int64_t batch_size,
            data::Normalization normalization);

  // Takes the weights of every parameter of `source`, a graph of the same model.
  void CopyWeightsFrom(const Graph& source);
  // Takes weights by parameter name; every model parameter must be there with its shape, and
  // nothing else may be (tensors named "optimizer/..." are training state and are skipped).
  absl::Status LoadWeights(const std::map<std::string, Tensor>& tensors, const std::string& origin);

  absl::StatusOr<EvalResult> Evaluate(const data::Dataset& dataset);

 private:
  struct Net {
    std::unique_ptr<Graph> graph;
    Value images, labels, loss, predictions;
    std::unique_ptr<Executor> executor;
    int64_t weights_version = -1;  // which weights_ its parameters hold
  };
  absl::StatusOr<Net*> NetFor(int64_t batch);

  ModelFn build_;
  ModelOptions options_;
  Shape image_shape_;
  int64_t batch_size_;
  data::Normalization normalization_;
  std::map<std::string, Tensor> weights_;
  int64_t weights_version_ = 0;
  std::map<int64_t, std::unique_ptr<Net>> nets_;
};

}  // namespace dlf::models

#endif  // DLF_MODELS_EVALUATOR_H_
