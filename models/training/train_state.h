#ifndef DLF_MODELS_TRAINING_TRAIN_STATE_H_
#define DLF_MODELS_TRAINING_TRAIN_STATE_H_

// Where a training run is: position, the current epoch's running totals, the metrics so far,
// the optimizer's state and the position of the random stream (the executor's step, which
// seeds dropout). Everything a resumed run restores besides the weights, encoded into and
// decoded from checkpoint metadata, and handed from rank 0 to the others, in one place.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "data/safetensors.h"
#include "models/training/distributed/communicator.h"
#include "models/training/report.h"
#include "graph/tensor.h"
#include "optim/optimizer.h"
#include "optim/plateau.h"

namespace dlf::training {

struct TrainState {
  int64_t epoch = 0;  // 0-based epoch in progress
  int64_t step_in_epoch = 0;
  int64_t global_step = 0;
  uint64_t executor_step = 0;  // the random stream's position (dropout)
  // The epoch in progress: summed loss (per sample), the task's step sums (Task::step_sums(),
  // e.g. the right answers), seen samples, seconds spent before the last checkpoint or resume.
  double epoch_loss_sum = 0;
  std::vector<double> epoch_sums;
  int64_t epoch_seen = 0;
  double epoch_seconds = 0;
  // The best value of the --best_metric so far, as a score where higher is better (the
  // accuracy, or minus the loss); saved under its old name "best_accuracy".
  double best_score = -1e300;
  // --lr_schedule=plateau: the factor applied to the schedule's rate and its watch of the test
  // loss; --early_stopping_patience: a watch of its own.
  double lr_factor = 1;
  optim::PlateauTracker plateau, early_stopping;
  // --model_ema: the averaged weights by name (saved as "ema/<name>").
  std::map<std::string, Tensor> ema;
  std::vector<EpochMetrics> history;
  // The run's settings that an exact resume needs again.
  int64_t batch_size = 0;
  uint64_t seed = 0;
  std::string optimizer_kind;
  optim::OptimizerState optimizer;

  // An update made from `batches` of the loader's batches on `seen` samples, with mean loss
  // `loss` and the task's step sums `sums`.
  void AddStep(double loss, const std::vector<double>& sums, int64_t seen, int64_t batches = 1);
  // An update that was not applied (--skip_nonfinite): it still counts as taken.
  void SkipStep(int64_t batches = 1);
  // The epoch in progress ends with `metrics`: the next one starts with zero totals.
  void FinishEpoch(const EpochMetrics& metrics);

  // Writes everything into a checkpoint: metadata (position, totals, history, optimizer kind
  // and step) and tensors ("optimizer/<param>/<buffer>", "ema/<name>"); the step sums under
  // "epoch_<name>" for each of `sum_names`.
  void Encode(data::TensorFile& file, const std::vector<std::string>& sum_names) const;
  // Reads and checks it all before anything is used; errors name `path` and the key. The step
  // sums are read as "epoch_<name>" for each of `sum_names`.
  static absl::StatusOr<TrainState> Decode(const data::TensorFile& file, const std::string& path,
                                           const std::vector<std::string>& sum_names);
  // Collective: rank 0's state to every rank (the optimizer's buffers and the EMA weights must
  // have the same names and shapes everywhere, as they do for the same model and flags).
  absl::Status Broadcast(Communicator& comm);
};

}  // namespace dlf::training

#endif  // DLF_MODELS_TRAINING_TRAIN_STATE_H_
