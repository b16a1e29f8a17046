#ifndef DLF_MODELS_TRAINING_CALLBACKS_H_
#define DLF_MODELS_TRAINING_CALLBACKS_H_

// What happens around the training loop besides the steps themselves: printing progress,
// writing metrics and checkpoints, averaging weights, reducing the rate on a plateau, stopping
// early. Each is a Callback the Trainer calls at fixed points; collectives (anything that
// averages or evaluates across ranks) run on every rank, output on rank 0 alone.

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "models/training/report.h"

namespace dlf::training {

class Trainer;

class Callback {
 public:
  virtual ~Callback() = default;
  // After weights and state are loaded and synchronized, before the first step.
  virtual absl::Status OnTrainBegin(Trainer&) { return absl::OkStatus(); }
  virtual absl::Status OnEpochBegin(Trainer&) { return absl::OkStatus(); }
  // After every optimizer update (or skipped step): trainer.last_step() says what it was.
  virtual absl::Status OnStepEnd(Trainer&) { return absl::OkStatus(); }
  // The epoch's metrics are measured (train and test): a callback may add its own.
  virtual absl::Status OnEvaluate(Trainer&, EpochMetrics&) { return absl::OkStatus(); }
  // The epoch is over and recorded in the state (history, position).
  virtual absl::Status OnEpochEnd(Trainer&, const EpochMetrics&) { return absl::OkStatus(); }
  // Training ends: all epochs done, or stopped (trainer.stop_reason()).
  virtual absl::Status OnTrainEnd(Trainer&) { return absl::OkStatus(); }
};

// Progress lines (redrawn in place on a terminal), skipped steps, `step N loss X` lines with
// log_step_losses, the epoch summary and why training stopped.
std::unique_ptr<Callback> MakeProgressPrinter();
// Both in checkpoint_saver.cc:
// metrics.csv and learning_curve.svg in the run's directory after every epoch.
std::unique_ptr<Callback> MakeMetricsWriter();
// last.safetensors at every epoch end, every checkpoint_every updates and when training stops
// early; best.safetensors by config.best_metric; epoch_<N>.safetensors for the last
// keep_checkpoints epochs.
std::unique_ptr<Callback> MakeCheckpointSaver();
// --model_ema: the moving average of the weights, updated after every update, evaluated at
// every epoch end (ema_test_loss, ema_test_accuracy).
std::unique_ptr<Callback> MakeModelEma();
// --lr_schedule=plateau: the rate multiplied by lr_gamma after plateau_patience epochs without
// a better test loss.
std::unique_ptr<Callback> MakeReduceLrOnPlateau();
// --early_stopping_patience: stops after that many epochs without a better test loss.
std::unique_ptr<Callback> MakeEarlyStopping();

// --lr_finder: the LR range test; the only callback of such a run (no checkpoints). Writes
// lr_finder.csv and lr_finder.svg and prints `suggested lr X`.
std::unique_ptr<Callback> MakeLrFinder();

}  // namespace dlf::training

#endif  // DLF_MODELS_TRAINING_CALLBACKS_H_
