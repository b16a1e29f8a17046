#include "optim/schedule.h"

#include <algorithm>
#include <cmath>
#include <functional>

#include "absl/strings/str_cat.h"
#include "graph/status_macros.h"

namespace dlf::optim {
namespace {

class FunctionSchedule : public Schedule {
 public:
  template <typename F>
  explicit FunctionSchedule(F f) : f_(std::move(f)) {}
  double Factor(double epoch) const override { return f_(epoch); }

 private:
  std::function<double(double)> f_;
};

template <typename F>
SchedulePtr Make(F f) {
  return std::make_shared<FunctionSchedule>(std::move(f));
}

absl::Status CheckGamma(double gamma) {
  if (gamma > 0.0 && std::isfinite(gamma)) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("gamma must be > 0, found ", gamma));
}

}  // namespace

double Progress(int64_t epoch, int64_t step, int64_t steps_per_epoch) {
  return static_cast<double>(epoch) +
         static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, steps_per_epoch));
}

SchedulePtr ConstantLR() {
  return Make([](double) { return 1.0; });
}

absl::StatusOr<SchedulePtr> StepLR(int64_t step_size, double gamma) {
  if (step_size <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("step_size must be > 0, found ", step_size));
  }
  DLF_RETURN_IF_ERROR(CheckGamma(gamma));
  return Make([=](double epoch) {
    return std::pow(gamma, std::floor(std::max(0.0, epoch) / static_cast<double>(step_size)));
  });
}

absl::StatusOr<SchedulePtr> MultiStepLR(std::vector<int64_t> milestones, double gamma) {
  DLF_RETURN_IF_ERROR(CheckGamma(gamma));
  if (!std::is_sorted(milestones.begin(), milestones.end())) {
    return absl::InvalidArgumentError("milestones must be increasing");
  }
  return Make([=](double epoch) {
    int reached = 0;
    for (int64_t m : milestones) reached += epoch >= static_cast<double>(m);
    return std::pow(gamma, reached);
  });
}

absl::StatusOr<SchedulePtr> CosineAnnealingLR(double t_max, double min_factor) {
  if (!(t_max > 0)) return absl::InvalidArgumentError(absl::StrCat("t_max must be > 0, found ", t_max));
  if (!(min_factor >= 0 && min_factor <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat("min_factor must be in [0, 1], found ", min_factor));
  }
  return Make([=](double epoch) {
    const double t = std::clamp(epoch, 0.0, t_max);
    return min_factor + (1.0 - min_factor) * 0.5 * (1.0 + std::cos(M_PI * t / t_max));
  });
}

absl::StatusOr<SchedulePtr> WarmupCosineLR(int64_t warmup, int64_t decay_end, double min_factor) {
  if (warmup < 0) return absl::InvalidArgumentError(absl::StrCat("warmup must be >= 0 steps, found ", warmup));
  if (decay_end <= warmup) {
    return absl::InvalidArgumentError(absl::StrCat("the cosine must end after the warmup (", warmup,
                                                   " steps), found its end at ", decay_end));
  }
  if (!(min_factor >= 0 && min_factor <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat("min_factor must be in [0, 1], found ", min_factor));
  }
  return Make([=](double t) {
    if (t < warmup) return (t + 1) / (warmup + 1);
    if (t > decay_end) return min_factor;
    const double ratio = (t - warmup) / static_cast<double>(decay_end - warmup);
    return min_factor + 0.5 * (1.0 + std::cos(M_PI * ratio)) * (1.0 - min_factor);
  });
}

absl::StatusOr<SchedulePtr> LinearWarmup(double warmup_epochs, double start_factor) {
  if (!(warmup_epochs >= 0)) {
    return absl::InvalidArgumentError(absl::StrCat("warmup must be >= 0 epochs, found ", warmup_epochs));
  }
  if (!(start_factor >= 0 && start_factor <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat("start_factor must be in [0, 1], found ", start_factor));
  }
  return Make([=](double epoch) {
    if (epoch >= warmup_epochs) return 1.0;
    return start_factor + (1.0 - start_factor) * std::max(0.0, epoch) / warmup_epochs;
  });
}

SchedulePtr Compose(std::vector<SchedulePtr> parts) {
  return Make([parts = std::move(parts)](double epoch) {
    double f = 1.0;
    for (const SchedulePtr& p : parts) f *= p->Factor(epoch);
    return f;
  });
}

}  // namespace dlf::optim
