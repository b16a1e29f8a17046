#ifndef DLF_MODELS_TRAINING_TRAINER_H_
#define DLF_MODELS_TRAINING_TRAINER_H_

// The training loop. Its parts live beside it: the training step (train_step.h), the position
// and totals (train_state.h), how the run is spread over ranks (parallel.h), and everything
// around the steps as callbacks (callbacks.h).

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "data/text.h"
#include "models/training/batches.h"
#include "models/training/callbacks.h"
#include "models/training/evaluator.h"
#include "models/training/parallel.h"
#include "models/training/train_config.h"
#include "models/training/train_state.h"
#include "models/training/train_step.h"
#include "optim/optimizer.h"
#include "optim/schedule.h"

namespace dlf::training {

// What the last optimizer update was (for callbacks).
struct StepOutcome {
  double loss = 0;     // of the whole (accumulated, global) batch
  double lr = 0;
  double grad_norm = 0;  // before clipping
  int64_t images = 0;    // in the update, over all ranks
  std::string skipped;   // why it was not applied (--skip_nonfinite), or empty
};

// Trains a model on a dataset with the configured optimizer and schedule, evaluating on a test
// set after every epoch, writing metrics and checkpoints to out_dir.
//
// Checkpoints (safetensors): out_dir/last.safetensors holds the parameters and buffers under
// PyTorch-style names, the run's RunInfo, the optimizer's kind and state ("optimizer/<param>/momentum", ...)
// and, in its metadata, the epoch, step, the executor's run counter (which seeds dropout) and
// the metrics so far: everything a resumed run needs to continue exactly. best.safetensors
// keeps the weights of the best epoch by config.best_metric. Both are written atomically.
class Trainer {
 public:
  static absl::StatusOr<std::unique_ptr<Trainer>> Create(TrainConfig config,
                                                         const data::Dataset* train,
                                                         const data::Dataset* test);
  static absl::StatusOr<std::unique_ptr<Trainer>> Create(TrainConfig config, TrainData data);

  // Trains until config.epochs (or max_steps) are done or a callback stops it.
  absl::Status Run();

  // Collective: the current weights' classification metrics on `dataset`.
  absl::StatusOr<EvalResult> Evaluate(const data::Dataset& dataset);
  // One batch of the source: forward, backward, and once grad_accum_steps batches are in (or the
  // epoch ends), clipping and the optimizer update at rate `lr`.
  absl::Status TrainStep(const TaskBatch& batch, double lr);
  absl::Status TrainStep(const data::Batch& batch, double lr) { return TrainStep(ImageBatch(batch), lr); }
  // The learning rate of the update about to be made.
  double CurrentLearningRate() const;
  absl::Status SaveCheckpoint(const std::string& path, bool with_training_state);
  // Loads weights, and with restore_training_state also optimizer state and position. Checks
  // the whole file (run, weights, state) before changing anything.
  absl::Status LoadCheckpoint(const std::string& path, bool restore_training_state);
  // Collective, mid-epoch: running statistics averaged, then rank 0 writes last.safetensors.
  absl::Status SaveLast();
  // Ends training after the current step or epoch; `reason` is printed.
  void RequestStop(std::string reason) { stop_reason_ = std::move(reason); }
  const std::string& stop_reason() const { return stop_reason_; }

  const TrainConfig& config() const { return config_; }
  const Task& task() const { return TaskFor(config_.task); }
  // What best.safetensors is best by (config().best_metric, checked).
  const MetricChoice& best_metric() const { return best_metric_; }
  TrainState& state() { return state_; }
  const TrainState& state() const { return state_; }
  Graph& graph() { return step_->graph(); }
  const Executor& executor() const { return step_->executor(); }
  const optim::Optimizer& optimizer() const { return *optimizer_; }
  ParallelStrategy& parallel() { return *parallel_; }
  // The task's evaluation on the test set (null without one).
  TaskEvaluation* evaluation() { return evaluation_.get(); }
  // What the run trains on, in a few words ("Fashion-MNIST train (60000 images)").
  const std::string& data_description() const { return data_description_; }
  int64_t batches_per_epoch() const { return batches_->batches_per_epoch(); }
  // Updates per epoch (batches_per_epoch with grad_accum_steps batches per update).
  int64_t updates_per_epoch() const;
  const StepOutcome& last_step() const { return last_step_; }
  // This epoch (since the last checkpoint mid-epoch): images trained, seconds, seconds the
  // steps waited for data; and the last evaluation's seconds.
  int64_t images_this_session() const { return session_seen_; }
  double seconds_this_session() const;
  double data_wait_this_epoch() const { return batches_->wait_seconds() - epoch_wait_start_; }
  double last_eval_seconds() const { return last_eval_seconds_; }
  std::string OutPath(const std::string& file) const;

  const std::vector<double>& step_losses() const { return step_losses_; }
  // --skip_bad_images, at an epoch's end: the training images skipped in it over all ranks,
  // and why this rank's could not be read (one message per image, naming its file).
  int64_t epoch_skipped_count() const { return epoch_skipped_count_; }
  const std::vector<std::string>& epoch_skipped_images() const { return epoch_skipped_images_; }
  // Collective: an error naming the step unless all ranks hold bit-identical parameters
  // (Run() checks every check_replicas_every steps).
  absl::Status VerifyReplicas();
  // Seconds the training steps waited for the gradient allreduce (0 alone).
  double communication_wait_seconds() const { return parallel_->communication_wait_seconds(); }
  int world_size() const { return parallel_->world_size(); }
  bool is_root() const { return parallel_->is_root(); }
  const std::vector<EpochMetrics>& history() const { return state_.history; }
  int64_t global_step() const { return state_.global_step; }
  int64_t skipped_steps() const { return skipped_steps_; }
  double last_gradient_norm() const { return last_step_.grad_norm; }
  const std::string& freeze_summary() const { return step_->freeze_summary(); }

 private:
  Trainer(TrainConfig config, TrainData data);
  absl::Status Build();
  // The batch source and the evaluation of the data.
  absl::Status BuildOptimizer();
  // Resume, or --init_from, then every rank takes rank 0's state.
  absl::Status LoadStartingPoint();
  absl::Status TrainEpoch();
  absl::Status FinishEpoch();
  absl::Status CountSkippedImages();  // collective
  // The update from the accumulated micro-batches.
  absl::Status Update(double loss, const std::vector<double>& sums, double grad_norm, int64_t batches);
  absl::Status ForEachCallback(const std::function<absl::Status(Callback&)>& call);

  TrainConfig config_;
  TrainData data_;
  std::string data_description_;
  std::unique_ptr<ParallelStrategy> parallel_;
  std::unique_ptr<TrainingStep> step_;
  MetricChoice best_metric_;
  std::unique_ptr<optim::Optimizer> optimizer_;
  optim::SchedulePtr schedule_;
  std::unique_ptr<BatchSource> batches_;
  std::unique_ptr<TaskEvaluation> evaluation_;
  std::vector<std::unique_ptr<Callback>> callbacks_;

  TrainState state_;  // position, running totals, history (all saved in checkpoints)
  StepOutcome last_step_;
  std::vector<double> step_losses_;
  int64_t epoch_skipped_count_ = 0;
  std::vector<std::string> epoch_skipped_images_;
  int64_t skipped_steps_ = 0;  // by --skip_nonfinite, in this process
  std::string stop_reason_;
  // grad_accum_steps: the micro-batches of the update in progress and their sums.
  int64_t micro_batches_ = 0;
  double micro_loss_sum_ = 0;
  std::vector<double> micro_sums_;

  double epoch_start_ = 0;
  double epoch_wait_start_ = 0;  // the source's total wait when this epoch started
  int64_t session_seen_ = 0;     // images trained since epoch_start_ (for images/s)
  double last_eval_seconds_ = 0;
};

}  // namespace dlf::training

#endif  // DLF_MODELS_TRAINING_TRAINER_H_
