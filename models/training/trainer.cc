#include "models/training/trainer.h"

#include <chrono>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "data/safetensors.h"
#include "graph/status_macros.h"
#include "models/training/language_model.h"
#include "optim/clip.h"

namespace dlf::training {
namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

Trainer::Trainer(TrainConfig config, TrainData data)
    : config_(std::move(config)), data_(data),
      parallel_(MakeParallelStrategy(config_)) {
  // Rank 0 alone prints; every rank computes the same global numbers.
  config_.verbose = config_.verbose && is_root();
  config_.log_step_losses = config_.log_step_losses && is_root();
}

absl::StatusOr<std::unique_ptr<Trainer>> Trainer::Create(TrainConfig config,
                                                         const data::Dataset* train,
                                                         const data::Dataset* test) {
  return Create(std::move(config), TrainData{.train = train, .test = test});
}

absl::StatusOr<std::unique_ptr<Trainer>> Trainer::Create(TrainConfig config, TrainData data) {
  DLF_RETURN_IF_ERROR(ValidateTrainConfig(config));
  if (TaskFor(config.task).step_based()) {  // epochs of eval_interval steps up to max_steps
    config.epochs = (config.max_steps + config.eval_interval - 1) / config.eval_interval;
  }
  const int world = config.comm ? config.comm->size() : 1;
  if (config.batch_size % world != 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "--batch_size=%d (the global batch) does not split evenly across %d ranks: use a multiple of %d",
        config.batch_size, world, world));
  }
  std::unique_ptr<Trainer> t(new Trainer(std::move(config), data));
  DLF_RETURN_IF_ERROR(t->Build());
  return t;
}

absl::Status Trainer::Build() {
  const TrainConfig& c = config_;
  DLF_ASSIGN_OR_RETURN(best_metric_, ChooseMetric(task(), c.best_metric, c.model_ema));
  // The data first: what the task cannot take is refused before the model is built.
  DLF_ASSIGN_OR_RETURN(TaskData data, task().MakeData(c, data_, parallel_->rank(), world_size()));
  batches_ = std::move(data.batches);
  evaluation_ = std::move(data.evaluation);
  data_description_ = std::move(data.description);
  if ((c.schedule.kind == optim::ScheduleKind::kPlateau || c.early_stopping_patience > 0) && evaluation_ == nullptr) {
    return absl::InvalidArgumentError(
        "--lr_schedule=plateau and --early_stopping_patience watch the evaluation loss: they need evaluation data");
  }
  DLF_ASSIGN_OR_RETURN(step_, TrainingStep::Create(c, c.batch_size / world_size()));
  DLF_RETURN_IF_ERROR(BuildOptimizer());
  state_.epoch_sums.assign(task().step_sums().size(), 0.0);
  state_.batch_size = c.batch_size;
  state_.seed = c.seed;
  state_.optimizer_kind = optim::OptimizerName(c.optimizer.kind);
  if (c.lr_finder.enabled) {  // a test of rates, not training: nothing else runs
    callbacks_.push_back(MakeLrFinder());
    return parallel_->Attach(*step_);
  }
  // In this order: an epoch is printed before a reaction to it, and saved after all.
  if (c.verbose || c.log_step_losses) callbacks_.push_back(MakeProgressPrinter());
  if (c.model_ema) callbacks_.push_back(MakeModelEma());
  if (c.schedule.kind == optim::ScheduleKind::kPlateau) callbacks_.push_back(MakeReduceLrOnPlateau());
  if (c.early_stopping_patience > 0) callbacks_.push_back(MakeEarlyStopping());
  callbacks_.push_back(MakeMetricsWriter());
  callbacks_.push_back(MakeCheckpointSaver());
  return parallel_->Attach(*step_);
}

absl::Status Trainer::BuildOptimizer() {
  optim::OptimizerConfig oc = config_.optimizer;
  std::vector<optim::ParamSpec> specs;
  const Graph& g = step_->graph();
  for (Value p : step_->params()) {
    specs.push_back({g.name(p), g.shape(p)});
    if (g.shape(p).size() == 1) oc.no_decay.insert(g.name(p));  // biases
  }
  DLF_ASSIGN_OR_RETURN(optimizer_, optim::MakeOptimizer(oc, std::move(specs)));
  DLF_ASSIGN_OR_RETURN(schedule_, MakeTrainSchedule(config_));
  return absl::OkStatus();
}

double Trainer::CurrentLearningRate() const {
  // A run counted in steps follows the step; others the fractional epoch.
  const double progress = task().step_based()
                              ? static_cast<double>(state_.global_step)
                              : optim::Progress(state_.epoch, state_.step_in_epoch, batches_->batches_per_epoch());
  return schedule_->LearningRate(config_.lr, progress) * state_.lr_factor;
}

int64_t Trainer::updates_per_epoch() const {
  return (batches_->batches_per_epoch() + config_.grad_accum_steps - 1) / config_.grad_accum_steps;
}

double Trainer::seconds_this_session() const { return Now() - epoch_start_; }

std::string Trainer::OutPath(const std::string& file) const {
  return (std::filesystem::path(config_.out_dir) / file).string();
}

absl::Status Trainer::ForEachCallback(const std::function<absl::Status(Callback&)>& call) {
  for (const std::unique_ptr<Callback>& c : callbacks_) DLF_RETURN_IF_ERROR(call(*c));
  return absl::OkStatus();
}

absl::Status Trainer::TrainStep(const TaskBatch& batch, double lr) {
  last_step_.lr = lr;
  DLF_ASSIGN_OR_RETURN(const double grad_norm, parallel_->ComputeGradients(*step_, batch, state_.global_step));
  // The loss, then the task's step sums, over the ranks.
  std::vector<double> stats = step_->sums();
  stats.insert(stats.begin(), step_->loss());
  DLF_RETURN_IF_ERROR(parallel_->Sum(stats, "the loss allreduce", state_.global_step));
  const double loss = stats[0] / world_size();  // every rank's loss is the mean over an equal share
  std::vector<double> sums(stats.begin() + 1, stats.end());
  if (config_.grad_accum_steps == 1) return Update(loss, sums, grad_norm, 1);
  step_->AccumulateGradients(micro_batches_ == 0);
  ++micro_batches_;
  micro_loss_sum_ += loss;
  micro_sums_.resize(sums.size());
  for (size_t i = 0; i < sums.size(); ++i) micro_sums_[i] += sums[i];
  const bool epoch_ends = state_.step_in_epoch + micro_batches_ >= batches_->batches_per_epoch();
  if (micro_batches_ < config_.grad_accum_steps && !epoch_ends) return absl::OkStatus();
  const int64_t n = std::exchange(micro_batches_, 0);
  const double loss_sum = std::exchange(micro_loss_sum_, 0);
  sums = std::exchange(micro_sums_, {});
  return Update(loss_sum / n, sums, step_->AccumulatedNorm() / n, n);
}

absl::Status Trainer::Update(double loss, const std::vector<double>& sums, double grad_norm, int64_t batches) {
  const int64_t images = batches * config_.batch_size;
  session_seen_ += images;
  last_step_ = {.loss = loss, .lr = last_step_.lr, .grad_norm = grad_norm, .images = images, .skipped = ""};
  // The gradients' global norm (in double, so finite gradients never overflow it) is not
  // finite exactly when a gradient is not, and is what clipping needs; the clipping factor is
  // applied inside the optimizer's pass.
  DLF_ASSIGN_OR_RETURN(last_step_.skipped, step_->NonFiniteProblem(loss, grad_norm, state_.global_step, state_.epoch));
  if (!last_step_.skipped.empty()) {  // --skip_nonfinite: no update; the step still counts as taken
    ++skipped_steps_;
    state_.SkipStep(batches);
    return absl::OkStatus();
  }
  float grad_scale = 1.0f / static_cast<float>(batches);  // the mean of the micro-batches' gradients
  if (config_.clip_norm > 0 && grad_norm > config_.clip_norm) {
    grad_scale *= optim::ClipFactor(grad_norm, config_.clip_norm);
  }
  const std::vector<const Tensor*>& grads =
      config_.grad_accum_steps == 1 ? step_->grad_tensors() : step_->accumulated_grads();
  // With bf16 the update also writes the bf16 weight copies the next step's kernels read.
  DLF_RETURN_IF_ERROR(optimizer_->Step(step_->param_tensors(), grads, last_step_.lr, grad_scale,
                                       step_->bf16_copies()));
  step_->executor().Bf16CopiesWritten(step_->param_tensors());
  state_.AddStep(loss, sums, images, batches);
  step_losses_.push_back(loss);
  return absl::OkStatus();
}

absl::Status Trainer::Run() {
  DLF_RETURN_IF_ERROR(LoadStartingPoint());
  while (state_.epoch < config_.epochs && stop_reason_.empty()) DLF_RETURN_IF_ERROR(TrainEpoch());
  return ForEachCallback([&](Callback& c) { return c.OnTrainEnd(*this); });
}

absl::Status Trainer::TrainEpoch() {
  batches_->StartEpoch(state_.epoch, state_.step_in_epoch);
  epoch_start_ = Now();
  epoch_wait_start_ = batches_->wait_seconds();
  session_seen_ = 0;
  double lr = last_step_.lr = CurrentLearningRate();
  DLF_RETURN_IF_ERROR(ForEachCallback([&](Callback& c) { return c.OnEpochBegin(*this); }));
  while (const TaskBatch* batch = batches_->Next()) {
    if (micro_batches_ == 0) {  // a new update
      if (config_.max_steps > 0 && state_.global_step >= config_.max_steps) {
        RequestStop(absl::StrCat("stopped after --max_steps=", state_.global_step, " steps"));
        return absl::OkStatus();
      }
      lr = CurrentLearningRate();
    }
    DLF_RETURN_IF_ERROR(TrainStep(*batch, lr));
    if (micro_batches_ > 0) continue;  // accumulating
    if (config_.check_replicas_every > 0 && state_.global_step % config_.check_replicas_every == 0) {
      DLF_RETURN_IF_ERROR(VerifyReplicas());
    }
    DLF_RETURN_IF_ERROR(ForEachCallback([&](Callback& c) { return c.OnStepEnd(*this); }));
    if (!stop_reason_.empty()) return absl::OkStatus();
  }
  DLF_RETURN_IF_ERROR(batches_->status());  // an image that could not be read
  return FinishEpoch();
}

absl::Status Trainer::FinishEpoch() {
  EpochMetrics m;
  m.epoch = state_.epoch + 1;
  if (task().step_based()) m.Set("step", static_cast<double>(state_.global_step));
  task().AddTrainMetrics(state_.epoch_loss_sum, state_.epoch_sums, state_.epoch_seen, m);
  const std::string eval = task().eval_split();
  for (const CurveFamily& f : task().families()) m.Set(eval + "_" + f.family, NAN);  // without evaluation data
  m.Set("lr", last_step_.lr);
  m.Set("epoch_seconds", state_.epoch_seconds + seconds_this_session());
  m.Set(task().throughput_metric(), static_cast<double>(session_seen_ * task().units_per_sample(config_.run.input_shape)) /
                                        seconds_this_session());
  DLF_RETURN_IF_ERROR(CountSkippedImages());
  const double eval_start = Now();
  DLF_RETURN_IF_ERROR(parallel_->AverageBuffers(graph(), state_.global_step));
  if (evaluation_ != nullptr) {
    evaluation_->CopyWeightsFrom(graph());
    DLF_RETURN_IF_ERROR(parallel_->Evaluate(*evaluation_, eval, m, state_.global_step));
  }
  DLF_RETURN_IF_ERROR(ForEachCallback([&](Callback& c) { return c.OnEvaluate(*this, m); }));
  last_eval_seconds_ = Now() - eval_start;
  state_.FinishEpoch(m);
  return ForEachCallback([&](Callback& c) { return c.OnEpochEnd(*this, m); });
}

absl::Status Trainer::CountSkippedImages() {
  if (!config_.skip_bad_images) return absl::OkStatus();
  epoch_skipped_images_ = batches_->skipped_samples();
  std::vector<double> count = {static_cast<double>(epoch_skipped_images_.size())};
  DLF_RETURN_IF_ERROR(parallel_->Sum(count, "the skipped images", state_.global_step));
  epoch_skipped_count_ = static_cast<int64_t>(count[0]);
  return absl::OkStatus();
}

absl::StatusOr<EvalResult> Trainer::Evaluate(const data::Dataset& dataset) {
  if (config_.task != models::TaskKind::kClassification) {
    return absl::FailedPreconditionError(absl::StrCat("a ", task().name(), " run has no image classifier to evaluate"));
  }
  const std::unique_ptr<ImageEvaluation> evaluation = ImageEvaluationOf(config_, &dataset);
  evaluation->CopyWeightsFrom(graph());
  DLF_ASSIGN_OR_RETURN(const std::vector<double> totals, parallel_->EvaluationSums(*evaluation, state_.global_step));
  return ResultFromSums(totals, static_cast<int>(config_.model_options.num_classes));
}

absl::Status Trainer::VerifyReplicas() {
  return parallel_->CheckReplicas(step_->param_tensors(), state_.global_step);
}

absl::Status Trainer::SaveLast() {
  // The epoch's time so far goes into the checkpoint; images/s counts from here.
  const double now = Now();
  state_.epoch_seconds += now - epoch_start_;
  epoch_start_ = now;
  session_seen_ = 0;
  DLF_RETURN_IF_ERROR(parallel_->AverageBuffers(graph(), state_.global_step));
  if (config_.out_dir.empty() || !is_root()) return absl::OkStatus();
  return SaveCheckpoint(OutPath("last.safetensors"), true);
}

}  // namespace dlf::training
