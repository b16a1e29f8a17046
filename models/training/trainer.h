#ifndef DLF_MODELS_TRAINING_TRAINER_H_
#define DLF_MODELS_TRAINING_TRAINER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "graph/executor.h"
#include "graph/graph.h"
#include "models/models.h"
#include "models/registry.h"
#include "models/training/checkpoint.h"
#include "models/training/classifier.h"
#include "models/training/distributed/communicator.h"
#include "models/training/distributed/gradient_reducer.h"
#include "models/training/evaluator.h"
#include "models/training/report.h"
#include "models/training/train_state.h"
#include "optim/factory.h"
#include "optim/optimizer.h"
#include "optim/schedule.h"

namespace dlf::training {

struct TrainConfig {
  // The model, data set, input shape, normalization and classes: recorded in checkpoints, and
  // a resume or --init_from must match them.
  RunInfo run;
  models::ModelFn build;
  models::ModelOptions model_options;
  int64_t batch_size = 128;
  int64_t epochs = 1;
  double lr = 0.01;
  // Biases (1-D parameters) are exempt from weight decay whatever no_decay says.
  optim::OptimizerConfig optimizer;
  // The schedule is evaluated every step at the fractional epoch reached; a cosine schedule's
  // length is the run's epochs.
  optim::ScheduleConfig schedule;
  double label_smoothing = 0.0;
  bool bf16 = false;  // convolutions and linear layers in bf16 (f32 weights, gradients, state)
  bool fast_math = true;  // ExecutorOptions::fast_math (Winograd convolutions)
  double clip_norm = 0.0;  // 0: no clipping
  bool augment = false;    // random crop (pad 4) + horizontal flip
  bool shuffle = true;
  uint64_t seed = 1;
  std::string out_dir;     // checkpoints, metrics.csv, learning_curve.svg; empty: write nothing
  bool resume = false;     // continue from out_dir/last.safetensors if it exists
  std::string init_from;   // start from these weights: a dlf checkpoint or a plain state_dict
  NamePattern init_exclude;  // names init_from leaves as initialized (e.g. a new classifier)
  // Parameters that are not trained: autodiff builds no gradient for them and the optimizer
  // keeps no state. With freeze_bn, a BatchNorm whose weight is frozen also keeps its running
  // statistics (it normalizes with them, as in inference).
  NamePattern freeze;
  bool freeze_bn = false;
  int64_t max_steps = 0;   // stop after this many steps in total (0: no limit)
  int64_t checkpoint_every = 0;  // also checkpoint every N steps (0: at epoch ends only)
  int64_t eval_batch_size = 500;
  // A step whose loss or gradients are not finite stops training with an error naming the
  // step and the tensor; with skip_nonfinite it is skipped (no update) and training goes on.
  bool skip_nonfinite = false;
  bool log_step_losses = false;  // print "step N loss X" (17 significant digits) every step
  bool verbose = true;
  double progress_seconds = 10;  // between progress lines when stdout is not a terminal

  // Data parallelism (null or a world of one: train alone). batch_size is the global batch,
  // split evenly across the ranks; every rank draws what a single process would for the same
  // global sample positions, so results do not depend on the number of ranks (up to the
  // order of summation; BatchNorm's batch statistics are per rank, as in PyTorch's DDP).
  Communicator* comm = nullptr;
  ReducerOptions reducer;
  // Steps between checks that every rank holds bit-identical parameters (0: never).
  int64_t check_replicas_every = 100;
};

// The defaults for a registered model on `dataset` with its own normalization (for tests,
// benchmarks and programs that train without flags).
TrainConfig ConfigForModel(const models::ModelSpec& spec, const std::string& dataset, int num_classes);

// Checks the settings that do not depend on the data (batch size, epochs, rates, optimizer,
// schedule ...): a clear error before anything is loaded. Trainer::Create checks them too.
absl::Status ValidateTrainConfig(const TrainConfig& config);

// Trains a model on a dataset with the configured optimizer and schedule, evaluating on a test
// set after every epoch, writing metrics and checkpoints to out_dir.
//
// Checkpoints (safetensors): out_dir/last.safetensors holds the parameters and buffers under
// PyTorch-style names, the run's RunInfo, the optimizer's kind and state ("optimizer/<param>/momentum", ...)
// and, in its metadata, the epoch, step, the executor's run counter (which seeds dropout) and
// the metrics so far: everything a resumed run needs to continue exactly. best.safetensors
// keeps the weights of the best test accuracy so far. Both are written atomically.
class Trainer {
 public:
  static absl::StatusOr<std::unique_ptr<Trainer>> Create(TrainConfig config,
                                                         const data::Dataset* train,
                                                         const data::Dataset* test);

  // Trains until config.epochs (or max_steps) are done.
  absl::Status Run();

  absl::StatusOr<EvalResult> Evaluate(const data::Dataset& dataset);
  // One step: forward, backward, clipping, optimizer update (what Run() does per batch).
  absl::Status TrainStep(const data::Batch& batch, double lr);
  // The learning rate of the step about to be taken.
  double CurrentLearningRate() const;
  absl::Status SaveCheckpoint(const std::string& path, bool with_training_state);
  // Loads weights, and with restore_training_state also optimizer state and position. Checks
  // the whole file (run, weights, state) before changing anything.
  absl::Status LoadCheckpoint(const std::string& path, bool restore_training_state);

  Graph& graph() { return *graph_; }
  const Executor& executor() const { return *executor_; }
  const optim::Optimizer& optimizer() const { return *optimizer_; }
  const std::vector<double>& step_losses() const { return step_losses_; }
  // Collective: an error naming the step unless all ranks hold bit-identical parameters
  // (Run() calls it every check_replicas_every steps).
  absl::Status VerifyReplicas();
  // Seconds the training steps waited for the gradient allreduce (0 alone).
  double communication_wait_seconds() const { return reducer_ ? reducer_->wait_seconds() : 0; }
  int world_size() const { return config_.comm ? config_.comm->size() : 1; }
  bool is_root() const { return config_.comm == nullptr || config_.comm->is_root(); }
  const std::vector<EpochMetrics>& history() const { return state_.history; }
  int64_t global_step() const { return state_.global_step; }
  int64_t skipped_steps() const { return skipped_steps_; }
  // The global L2 norm of the last step's gradients (before clipping).
  double last_gradient_norm() const { return last_gradient_norm_; }
  // What --freeze left out of training, for the run's header (empty when nothing is frozen).
  const std::string& freeze_summary() const { return freeze_summary_; }

 private:
  Trainer(TrainConfig config, const data::Dataset* train, const data::Dataset* test);
  absl::Status Build();
  absl::Status BuildOptimizer();
  // params_: the parameters --freeze leaves to train; BatchNorms frozen by --freeze_bn.
  absl::Status ChooseTrainableParameters();
  absl::Status FinishEpoch(int64_t epoch, double lr);
  // Collective: rank 0's weights, buffers, optimizer state and position to every rank.
  absl::Status SyncFromRoot();
  // Collective: BatchNorm's running statistics averaged over the ranks (before they are
  // evaluated or saved).
  absl::Status AverageBuffers();
  // Collective: rank 0 writes last.safetensors.
  absl::Status SaveLast();
  absl::Status ReduceStepStats(double& loss, double& correct);
  absl::Status CheckFinite(double loss, double grad_norm);
  // Alone: which gradients each plan kernel finishes (final_after: Executor::FinalAfter of each).
  void PlanGradientNorm(const std::vector<int>& final_after);
  // Alone: squares the gradients kernel `kernel` finished, while they are still in cache, so
  // the norm costs no pass over memory of its own (the optimizer's is the only one).
  void SquareGradientsFinishedBy(int kernel);
  double GradientNorm() const;
  void PrintProgress(int64_t epoch, bool force);
  std::string OutPath(const std::string& file) const;

  TrainConfig config_;
  const data::Dataset* train_;
  const data::Dataset* test_;
  std::unique_ptr<Graph> graph_;
  ClassifierNet net_;
  std::vector<Value> params_;
  std::unique_ptr<Executor> executor_;
  std::unique_ptr<optim::Optimizer> optimizer_;
  optim::SchedulePtr schedule_;
  std::unique_ptr<data::Loader> loader_;
  std::unique_ptr<Evaluator> evaluator_;
  std::unique_ptr<GradientReducer> reducer_;
  data::Dataset test_shard_;  // this rank's part of the test set, when there are several
  std::vector<Tensor*> param_tensors_;
  std::vector<const Tensor*> grad_tensors_;
  std::vector<std::vector<int>> grads_final_after_;  // by plan kernel: gradient indices
  std::vector<double> grad_square_sums_;             // by gradient, this step
  double last_gradient_norm_ = 0;
  std::string freeze_summary_;

  TrainState state_;  // position, running totals, history (all saved in checkpoints)
  std::vector<double> step_losses_;
  int64_t skipped_steps_ = 0;  // by --skip_nonfinite, in this process

  double epoch_start_ = 0, last_progress_ = 0;
  double epoch_wait_start_ = 0;  // the loader's total wait when this epoch started
  int64_t session_seen_ = 0;  // images trained since epoch_start_ (for images/s)
  bool tty_ = false;
};

}  // namespace dlf::training

#endif  // DLF_MODELS_TRAINING_TRAINER_H_
