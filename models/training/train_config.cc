#include "models/training/train_config.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "graph/status_macros.h"
#include "models/training/task.h"

namespace dlf::training {

TrainConfig ConfigForModel(const models::ModelSpec& spec, const std::string& dataset, int num_classes) {
  TrainConfig c;
  c.run.model = spec.name;
  c.run.task = spec.task;
  c.run.dataset = dataset;
  c.run.input_shape = spec.input_shape;
  c.run.mean = spec.mean;
  c.run.std = spec.std;
  c.build = spec.build;
  c.task = spec.task;
  c.model_options.num_classes = num_classes;
  c.model_options.dropout = spec.dropout;
  c.tied_names = spec.tied_names;
  return c;
}

absl::Status ValidateTrainConfig(const TrainConfig& c) {
  auto bad = [](const std::string& m) { return absl::InvalidArgumentError(m); };
  if (!c.build) return bad("no model to train");
  if (c.batch_size <= 0) return bad(absl::StrCat("batch size must be > 0, found ", c.batch_size));
  if (c.epochs <= 0) return bad(absl::StrCat("epochs must be > 0, found ", c.epochs));
  if (c.eval_batch_size <= 0) {
    return bad(absl::StrCat("eval batch size must be > 0, found ", c.eval_batch_size));
  }
  if (c.max_steps < 0) return bad(absl::StrCat("max_steps must be >= 0, found ", c.max_steps));
  if (c.checkpoint_every < 0) {
    return bad(absl::StrCat("checkpoint_every must be >= 0, found ", c.checkpoint_every));
  }
  if (!(c.clip_norm >= 0)) return bad(absl::StrCat("clip_norm must be >= 0, found ", c.clip_norm));
  if (!(c.label_smoothing >= 0 && c.label_smoothing < 1)) {
    return bad(absl::StrCat("label smoothing must be in [0, 1), found ", c.label_smoothing));
  }
  if (!(c.model_options.dropout >= 0 && c.model_options.dropout < 1)) {
    return bad(absl::StrCat("dropout must be in [0, 1), found ", c.model_options.dropout));
  }
  if (c.resume && !c.init_from.empty()) return bad("--resume and --init_from exclude each other");
  if (!c.init_exclude.empty() && c.init_from.empty()) return bad("--init_exclude needs --init_from");
  if (c.freeze_bn && c.freeze.empty()) return bad("--freeze_bn needs --freeze (the layers whose statistics to keep)");
  if (c.check_replicas_every < 0) {
    return bad(absl::StrCat("--check_replicas_every must be >= 0, found ", c.check_replicas_every));
  }
  if (c.reducer.bucket_bytes <= 0) {
    return bad(absl::StrCat("the allreduce bucket must be > 0 bytes, found ", c.reducer.bucket_bytes));
  }
  if (!(c.transform.crop_fraction > 0 && c.transform.crop_fraction <= 1)) {
    return bad(absl::StrCat("the evaluation crop fraction (crop / --val_resize_size) must be in (0, 1], found ",
                            c.transform.crop_fraction));
  }
  if (!(c.mixup_alpha >= 0 && c.cutmix_alpha >= 0)) {
    return bad(absl::StrCat("--mixup_alpha and --cutmix_alpha must be >= 0, found ", c.mixup_alpha, " and ", c.cutmix_alpha));
  }
  if (c.grad_accum_steps <= 0) {
    return bad(absl::StrCat("--grad_accum_steps must be > 0, found ", c.grad_accum_steps));
  }
  if (!(c.model_ema_decay > 0 && c.model_ema_decay < 1)) {
    return bad(absl::StrCat("--model_ema_decay must be in (0, 1), found ", c.model_ema_decay));
  }
  if (c.plateau_patience < 0 || c.early_stopping_patience < 0) {
    return bad(absl::StrCat("patience must be >= 0 epochs, found ",
                            std::min(c.plateau_patience, c.early_stopping_patience)));
  }
  if (absl::Status s = ChooseMetric(TaskFor(c.task), c.best_metric, c.model_ema).status(); !s.ok()) {
    return bad(std::string(s.message()));
  }
  if (TaskFor(c.task).step_based()) {
    if (c.max_steps <= 0) return bad(absl::StrCat("a ", TaskFor(c.task).name(), " run is counted in steps: --max_steps must be > 0, found ", c.max_steps));
    if (c.eval_interval <= 0) return bad(absl::StrCat("--eval_interval must be > 0 steps, found ", c.eval_interval));
    if (c.eval_iters < 0) return bad(absl::StrCat("--eval_iters must be >= 0, found ", c.eval_iters));
    if (c.warmup_steps < 0) return bad(absl::StrCat("--warmup_steps must be >= 0, found ", c.warmup_steps));
    if (c.lr_decay_steps < 0) return bad(absl::StrCat("--lr_decay_steps must be >= 0, found ", c.lr_decay_steps));
    if (!(c.min_lr >= 0 && c.min_lr <= c.lr)) return bad(absl::StrCat("--min_lr must be in [0, --lr], found ", c.min_lr));
  }
  if (c.keep_checkpoints < 0) {
    return bad(absl::StrCat("--keep_checkpoints must be >= 0, found ", c.keep_checkpoints));
  }
  const LrFinderConfig& f = c.lr_finder;
  if (f.enabled && !(f.start > 0 && f.end > f.start && f.steps >= 2)) {
    return bad(absl::StrCat("--lr_finder needs 0 < --lr_finder_start < --lr_finder_end and --lr_finder_steps >= 2, found ",
                            f.start, ", ", f.end, ", ", f.steps));
  }
  DLF_RETURN_IF_ERROR(optim::ValidateLearningRate(c.lr));
  DLF_RETURN_IF_ERROR(optim::ValidateOptimizerConfig(c.optimizer));
  return MakeTrainSchedule(c).status();
}

absl::StatusOr<optim::SchedulePtr> MakeTrainSchedule(const TrainConfig& c) {
  optim::ScheduleConfig schedule = c.schedule;
  const bool by_step = TaskFor(c.task).step_based();  // queried with the step, not the epoch
  if (by_step && schedule.kind == optim::ScheduleKind::kCosine) {
    return optim::WarmupCosineLR(c.warmup_steps, c.lr_decay_steps > 0 ? c.lr_decay_steps : c.max_steps,
                                 c.min_lr / c.lr);
  }
  schedule.total_epochs = static_cast<double>(by_step ? c.max_steps : c.epochs);
  if (schedule.kind == optim::ScheduleKind::kPlateau) {
    if (!(schedule.gamma > 0 && schedule.gamma < 1)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--lr_schedule=plateau multiplies the rate by --lr_gamma, which must be in (0, 1), found ", schedule.gamma));
    }
    schedule.kind = optim::ScheduleKind::kConstant;
  }
  return optim::MakeSchedule(schedule);
}

std::string DescribeTraining(const TrainConfig& c) {
  std::string s = optim::OptimizerName(c.optimizer.kind);
  if (c.optimizer.kind == optim::OptimizerKind::kSgd) {
    absl::StrAppend(&s, " momentum ", c.optimizer.momentum, c.optimizer.nesterov ? " (Nesterov)" : "");
  }
  if (c.optimizer.weight_decay > 0) absl::StrAppend(&s, ", weight decay ", c.optimizer.weight_decay);
  absl::StrAppend(&s, ", lr ", c.lr, " ", optim::ScheduleName(c.schedule.kind));
  if (c.schedule.kind == optim::ScheduleKind::kStep) {
    absl::StrAppend(&s, " (x", c.schedule.gamma, " every ", c.schedule.step_size, " epochs)");
  } else if (c.schedule.kind == optim::ScheduleKind::kMultiStep) {
    absl::StrAppend(&s, " (x", c.schedule.gamma, " at ", absl::StrJoin(c.schedule.milestones, ","), ")");
  } else if (c.schedule.kind == optim::ScheduleKind::kPlateau) {
    const Task& task = TaskFor(c.task);
    const char* period = task.step_based() ? " evaluation" : " epoch";
    absl::StrAppend(&s, " (x", c.schedule.gamma, " after ", c.plateau_patience + 1, period,
                    c.plateau_patience == 0 ? "" : "s", " without a better ", task.eval_split(), " loss)");
  }
  if (c.schedule.warmup_epochs > 0) absl::StrAppend(&s, ", warmup ", c.schedule.warmup_epochs, " epochs");
  if (TaskFor(c.task).step_based() && c.schedule.kind == optim::ScheduleKind::kCosine) {
    absl::StrAppend(&s, " (warmup ", c.warmup_steps, " steps, then down to ", c.min_lr, " at step ",
                    c.lr_decay_steps > 0 ? c.lr_decay_steps : c.max_steps, ")");
  }
  if (c.clip_norm > 0) absl::StrAppend(&s, ", gradients clipped at norm ", c.clip_norm);
  if (c.label_smoothing > 0) absl::StrAppend(&s, ", label smoothing ", c.label_smoothing);
  if (c.model_ema) absl::StrAppend(&s, ", weights averaged (EMA decay ", c.model_ema_decay, ")");
  if (c.early_stopping_patience > 0) absl::StrAppend(&s, ", early stopping after ", c.early_stopping_patience, " epochs");
  return s;
}

}  // namespace dlf::training
