#include "optim/factory.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "graph/name_table.h"
#include "graph/status_macros.h"

namespace dlf::optim {
namespace {

absl::Status Bad(const std::string& message) { return absl::InvalidArgumentError(message); }

constexpr Named<OptimizerKind> kOptimizers[] = {
    {OptimizerKind::kSgd, "sgd"}, {OptimizerKind::kAdam, "adam"}, {OptimizerKind::kAdamW, "adamw"}};
constexpr Named<ScheduleKind> kSchedules[] = {{ScheduleKind::kStep, "step"},
                                              {ScheduleKind::kMultiStep, "multistep"},
                                              {ScheduleKind::kCosine, "cosine"},
                                              {ScheduleKind::kConstant, "constant"},
                                              {ScheduleKind::kPlateau, "plateau"}};

}  // namespace

absl::StatusOr<OptimizerKind> ParseOptimizerKind(std::string_view name) {
  return ParseNamed(kOptimizers, name, "optimizer");
}
const char* OptimizerName(OptimizerKind kind) { return NameOf(kOptimizers, kind); }
absl::StatusOr<ScheduleKind> ParseScheduleKind(std::string_view name) {
  return ParseNamed(kSchedules, name, "lr schedule");
}
const char* ScheduleName(ScheduleKind kind) { return NameOf(kSchedules, kind); }

absl::Status ValidateOptimizerConfig(const OptimizerConfig& c) {
  if (!(c.weight_decay >= 0) || !std::isfinite(c.weight_decay)) {
    return Bad(absl::StrCat("weight decay must be >= 0, found ", c.weight_decay));
  }
  if (!(c.momentum >= 0 && c.momentum < 1)) {
    return Bad(absl::StrCat("momentum must be in [0, 1), found ", c.momentum));
  }
  if (c.nesterov && c.momentum == 0) return Bad("Nesterov momentum needs momentum > 0");
  if (!(c.beta1 >= 0 && c.beta1 < 1) || !(c.beta2 >= 0 && c.beta2 < 1)) {
    return Bad(absl::StrCat("Adam betas must be in [0, 1), found ", c.beta1, " and ", c.beta2));
  }
  if (!(c.epsilon > 0)) return Bad(absl::StrCat("Adam epsilon must be > 0, found ", c.epsilon));
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Optimizer>> MakeOptimizer(const OptimizerConfig& c,
                                                         std::vector<ParamSpec> params) {
  DLF_RETURN_IF_ERROR(ValidateOptimizerConfig(c));
  if (c.kind == OptimizerKind::kSgd) {
    return MakeSgd(std::move(params), {.momentum = c.momentum,
                                       .nesterov = c.nesterov,
                                       .weight_decay = c.weight_decay,
                                       .no_decay = c.no_decay});
  }
  return MakeAdam(std::move(params), {.beta1 = c.beta1,
                                      .beta2 = c.beta2,
                                      .epsilon = c.epsilon,
                                      .weight_decay = c.weight_decay,
                                      .decoupled_weight_decay = c.kind == OptimizerKind::kAdamW,
                                      .no_decay = c.no_decay});
}

absl::StatusOr<SchedulePtr> MakeSchedule(const ScheduleConfig& c) {
  SchedulePtr main;
  switch (c.kind) {
    case ScheduleKind::kStep: {
      DLF_ASSIGN_OR_RETURN(main, StepLR(c.step_size, c.gamma));
      break;
    }
    case ScheduleKind::kMultiStep: {
      if (c.milestones.empty()) return Bad("the multistep schedule needs milestones (e.g. 30,60)");
      DLF_ASSIGN_OR_RETURN(main, MultiStepLR(c.milestones, c.gamma));
      break;
    }
    case ScheduleKind::kCosine: {
      DLF_ASSIGN_OR_RETURN(main, CosineAnnealingLR(c.total_epochs, c.min_factor));
      break;
    }
    case ScheduleKind::kConstant:
      main = ConstantLR();
      break;
    case ScheduleKind::kPlateau:
      return Bad("the plateau schedule is the trainer's (a constant rate it lowers), not a schedule of its own");
  }
  if (c.warmup_epochs == 0) return main;
  DLF_ASSIGN_OR_RETURN(SchedulePtr warmup, LinearWarmup(c.warmup_epochs));
  return Compose({warmup, main});
}

}  // namespace dlf::optim
