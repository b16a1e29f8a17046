#ifndef DLF_OPTIM_SCHEDULE_H_
#define DLF_OPTIM_SCHEDULE_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"

namespace dlf::optim {

// A learning-rate schedule: a multiplier of the base lr as a function of training progress in
// epochs. Query per epoch with a whole number, or per step with Progress(epoch, step, steps).
class Schedule {
 public:
  virtual ~Schedule() = default;
  virtual double Factor(double epoch) const = 0;
  double LearningRate(double base_lr, double epoch) const { return base_lr * Factor(epoch); }
};

// Fractional epochs done at `step` (0-based) of `epoch` (0-based) with `steps_per_epoch` steps.
double Progress(int64_t epoch, int64_t step, int64_t steps_per_epoch);

using SchedulePtr = std::shared_ptr<const Schedule>;

SchedulePtr ConstantLR();
// lr *= gamma every step_size epochs (PyTorch StepLR): factor = gamma^floor(epoch / step_size).
absl::StatusOr<SchedulePtr> StepLR(int64_t step_size, double gamma);
// lr *= gamma at each milestone epoch reached (PyTorch MultiStepLR).
absl::StatusOr<SchedulePtr> MultiStepLR(std::vector<int64_t> milestones, double gamma);
// Cosine from 1 down to min_factor over t_max epochs, then min_factor (PyTorch
// CosineAnnealingLR with eta_min = min_factor * base lr, without restarts).
absl::StatusOr<SchedulePtr> CosineAnnealingLR(double t_max, double min_factor = 0.0);
// Linear warmup from start_factor to 1 over warmup_epochs (fractional epochs allowed).
absl::StatusOr<SchedulePtr> LinearWarmup(double warmup_epochs, double start_factor = 0.0);
// nanoGPT's get_lr, in the units it is queried in (steps for a step-based run): at t <
// warmup, (t + 1) / (warmup + 1); then a cosine from 1 down to min_factor at t = decay_end;
// min_factor after it.
absl::StatusOr<SchedulePtr> WarmupCosineLR(int64_t warmup, int64_t decay_end, double min_factor);
// The product of several schedules, e.g. Compose({warmup, cosine}).
SchedulePtr Compose(std::vector<SchedulePtr> parts);

}  // namespace dlf::optim

#endif  // DLF_OPTIM_SCHEDULE_H_
