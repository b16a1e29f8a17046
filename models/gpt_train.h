#ifndef DLF_MODELS_GPT_TRAIN_H_
#define DLF_MODELS_GPT_TRAIN_H_

// nanoGPT's training step (train.py) on the graph: forward, mean cross-entropy over every token,
// the backward pass the graph derives, gradient clipping to a global norm, and AdamW with weight
// decay on the parameters of 2 or more dimensions only (nanoGPT's configure_optimizers rule:
// matrices and embeddings decay, biases and LayerNorm weights do not).

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "graph/executor.h"
#include "graph/graph.h"
#include "graph/tensor.h"
#include "models/gpt.h"
#include "optim/optimizer.h"

namespace dlf::models {

struct GptTrainOptions {
  int64_t batch = 12;
  double beta1 = 0.9, beta2 = 0.99;  // nanoGPT's shakespeare_char betas
  double weight_decay = 0.1;
  double clip_norm = 1.0;  // 0: no clipping
  bool bf16 = false;
  uint64_t seed = 1;  // the graph's seed: initialization and dropout
};

class GptTrainStep {
 public:
  static absl::StatusOr<std::unique_ptr<GptTrainStep>> Create(const GptConfig& config,
                                                              const GptTrainOptions& options);

  // One update on ids and targets i32 [batch, block_size] at learning rate lr; returns the loss
  // of the weights before the update.
  absl::StatusOr<double> Step(const Tensor& ids, const Tensor& targets, double lr);

  // The loss of the current weights on ids and targets in inference (no dropout, no update).
  absl::StatusOr<double> EvalLoss(const Tensor& ids, const Tensor& targets);

  Graph& graph() { return graph_; }
  const Executor& executor() const { return *executor_; }

 private:
  GptTrainStep(const GptTrainOptions& options) : options_(options), graph_(options.seed) {}
  absl::Status Build(const GptConfig& config);

  GptTrainOptions options_;
  Graph graph_;
  Value ids_, targets_, loss_;
  std::unique_ptr<Executor> executor_;
  std::unique_ptr<Executor> eval_executor_;  // compiled on the first EvalLoss
  std::unique_ptr<optim::Optimizer> optimizer_;
  std::vector<Tensor*> params_, bf16_copies_;
  std::vector<const Tensor*> grads_;
};

}  // namespace dlf::models

#endif  // DLF_MODELS_GPT_TRAIN_H_
