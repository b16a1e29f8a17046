#ifndef DLF_MODELS_TRAINING_TRAIN_STEP_H_
#define DLF_MODELS_TRAINING_TRAIN_STEP_H_

// One training step's machinery: the model with its task's head, the parameters
// --freeze leaves to train, their gradients by autodiff, the compiled executor, and the
// gradients' global norm. It runs forward and backward; what happens to the gradients (the
// allreduce, accumulation, the optimizer) is the trainer's and the parallel strategy's.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "data/loader.h"
#include "graph/executor.h"
#include "graph/graph.h"
#include "models/training/task.h"
#include "models/training/train_config.h"

namespace dlf::training {

class TrainingStep {
 public:
  // The step on `batch` samples per forward pass (this rank's share of a micro-batch).
  static absl::StatusOr<std::unique_ptr<TrainingStep>> Create(const TrainConfig& config, int64_t batch);

  // Forward and backward on `batch`; `after_kernel` is called as each plan kernel finishes.
  absl::Status Run(const TaskBatch& batch, const std::function<void(int)>& after_kernel);
  // Of the last Run: the mean loss, and the task's step sums (Task::step_sums()).
  double loss() const { return executor_->fetch(0).f32()[0]; }
  std::vector<double> sums() const;

  // The gradients' squared sums, taken as the kernel that finishes each runs, while they are
  // still in cache: the norm then costs no pass over memory of its own.
  void SquareGradientsFinishedBy(int kernel);
  // The global L2 norm of the gradients from those sums (valid after a Run that called
  // SquareGradientsFinishedBy for every kernel).
  double SquaredSumNorm() const;

  // grad_accum_steps: adds this Run's gradients to the accumulated ones (`first`: replaces
  // them), and their global L2 norm (of the sum).
  void AccumulateGradients(bool first);
  const std::vector<const Tensor*>& accumulated_grads() const { return accumulated_ptrs_; }
  double AccumulatedNorm() const;

  // Whether an update with this loss and gradient norm may be applied: "" when both are
  // finite; otherwise what is not (naming the first non-finite parameter or gradient) when
  // the update may be skipped (skip_nonfinite, weights still finite), or an error.
  absl::StatusOr<std::string> NonFiniteProblem(double loss, double grad_norm, int64_t step, int64_t epoch) const;

  Graph& graph() { return *graph_; }
  const Graph& graph() const { return *graph_; }
  Executor& executor() { return *executor_; }
  const Executor& executor() const { return *executor_; }
  const Task& task() const { return task_; }
  const TaskNet& net() const { return net_; }
  // The trained parameters, their tensors and their gradients' tensors, in the same order.
  const std::vector<Value>& params() const { return params_; }
  const std::vector<Tensor*>& param_tensors() const { return param_tensors_; }
  const std::vector<const Tensor*>& grad_tensors() const { return grad_tensors_; }
  // With bf16: the bf16 copies the executor's kernels read of param_tensors() (null where a
  // parameter has none), for the optimizer to write in its update; empty in f32.
  const std::vector<Tensor*>& bf16_copies() const { return bf16_copies_; }
  Tensor& mutable_grad(int i) { return executor_->mutable_fetch(first_grad_ + i); }
  // The plan position after which each gradient is final (Executor::FinalAfter).
  const std::vector<int>& grads_final_after() const { return final_after_; }
  // What --freeze left out of training (empty when nothing is frozen).
  const std::string& freeze_summary() const { return freeze_summary_; }

 private:
  explicit TrainingStep(TrainConfig config) : config_(std::move(config)), task_(TaskFor(config_.task)) {}
  absl::Status Build(int64_t batch);
  absl::Status ChooseTrainableParameters();

  const TrainConfig config_;
  const Task& task_;
  std::unique_ptr<Graph> graph_;
  TaskNet net_;
  int first_grad_ = 0;  // the fetches: the loss, the step sums, then the gradients
  std::vector<Value> params_;
  std::unique_ptr<Executor> executor_;
  std::vector<Tensor*> param_tensors_;
  std::vector<const Tensor*> grad_tensors_;
  std::vector<Tensor*> bf16_copies_;
  std::vector<int> final_after_;
  std::vector<std::vector<int>> grads_finished_by_;  // by plan kernel: gradient indices
  std::vector<double> grad_square_sums_;             // by gradient, this step
  std::string freeze_summary_;
  std::vector<Tensor> accumulated_;
  std::vector<const Tensor*> accumulated_ptrs_;
};

}  // namespace dlf::training

#endif  // DLF_MODELS_TRAINING_TRAIN_STEP_H_
