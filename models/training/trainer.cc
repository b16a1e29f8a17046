#include "models/training/trainer.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "data/safetensors.h"
#include "graph/autodiff.h"
#include "graph/random.h"
#include "graph/status_macros.h"
#include "optim/clip.h"

namespace dlf::training {
namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string Duration(double seconds) {
  const int64_t s = static_cast<int64_t>(std::max(0.0, seconds));
  if (s >= 3600) return absl::StrFormat("%dh%02dm", s / 3600, s / 60 % 60);
  return absl::StrFormat("%dm%02ds", s / 60, s % 60);
}


}  // namespace

TrainConfig ConfigForModel(const models::ModelSpec& spec, const std::string& dataset, int num_classes) {
  TrainConfig c;
  c.run.model = spec.name;
  c.run.dataset = dataset;
  c.run.input_shape = spec.input_shape;
  c.run.mean = spec.mean;
  c.run.std = spec.std;
  c.build = spec.build;
  c.model_options.num_classes = num_classes;
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
  DLF_RETURN_IF_ERROR(optim::ValidateLearningRate(c.lr));
  DLF_RETURN_IF_ERROR(optim::ValidateOptimizerConfig(c.optimizer));
  optim::ScheduleConfig schedule = c.schedule;
  schedule.total_epochs = static_cast<double>(c.epochs);
  return optim::MakeSchedule(schedule).status();
}

Trainer::Trainer(TrainConfig config, const data::Dataset* train, const data::Dataset* test)
    : config_(std::move(config)), train_(train), test_(test), tty_(isatty(STDOUT_FILENO)) {
  // Rank 0 alone prints; every rank computes the same global numbers.
  config_.verbose = config_.verbose && is_root();
  config_.log_step_losses = config_.log_step_losses && is_root();
  // mpirun hands its ranks a pseudo-terminal even when its own output goes to a file.
  tty_ = tty_ && world_size() == 1;
}

absl::StatusOr<std::unique_ptr<Trainer>> Trainer::Create(TrainConfig config,
                                                         const data::Dataset* train,
                                                         const data::Dataset* test) {
  DLF_RETURN_IF_ERROR(ValidateTrainConfig(config));
  if (train == nullptr || train->size() == 0) return absl::InvalidArgumentError("empty training set");
  const int world = config.comm ? config.comm->size() : 1;
  if (config.batch_size % world != 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "--batch_size=%d (the global batch) does not split evenly across %d ranks: use a multiple of %d",
        config.batch_size, world, world));
  }
  const Shape image = config.run.input_shape;
  for (const data::Dataset* d : {train, test}) {
    if (d != nullptr && Shape{d->channels(), d->height(), d->width()} != image) {
      return absl::InvalidArgumentError(absl::StrCat(
          d->description, " has images of ", ShapeString({d->channels(), d->height(), d->width()}),
          ", the model takes ", ShapeString(image)));
    }
  }
  std::unique_ptr<Trainer> t(new Trainer(std::move(config), train, test));
  DLF_RETURN_IF_ERROR(t->Build());
  return t;
}

absl::Status Trainer::Build() {
  const TrainConfig& c = config_;
  graph_ = std::make_unique<Graph>(c.seed);
  Graph& g = *graph_;
  const Shape& image = c.run.input_shape;
  const int64_t local_batch = c.batch_size / world_size();
  net_ = BuildClassifier(g, c.build, c.model_options, local_batch, image, c.label_smoothing);
  DLF_RETURN_IF_ERROR(g.status());
  DLF_RETURN_IF_ERROR(ChooseTrainableParameters());
  DLF_ASSIGN_OR_RETURN(const std::vector<Value> grads, Gradients(g, net_.loss, params_));
  std::vector<Value> fetches = {net_.loss, net_.correct};
  fetches.insert(fetches.end(), grads.begin(), grads.end());
  DLF_ASSIGN_OR_RETURN(executor_, Executor::Compile(g, fetches, {.training = true, .fast_math = c.fast_math, .bf16 = c.bf16}));
  for (size_t i = 0; i < params_.size(); ++i) {
    if (!grads[i].valid()) {
      return absl::InvalidArgumentError("parameter '" + g.name(params_[i]) + "' does not affect the loss");
    }
    param_tensors_.push_back(&g.parameter_value(params_[i]));
    grad_tensors_.push_back(&executor_->fetch(2 + static_cast<int>(i)));
  }
  DLF_RETURN_IF_ERROR(BuildOptimizer());
  state_.batch_size = c.batch_size;
  state_.seed = c.seed;
  state_.optimizer_kind = c.optimizer.kind;

  data::LoaderOptions lo{.batch_size = c.batch_size, .shuffle = c.shuffle, .drop_last = true, .seed = c.seed};
  lo.shard = c.comm ? c.comm->rank() : 0;
  lo.num_shards = world_size();
  lo.normalization = {c.run.mean, c.run.std};
  lo.augmentation = {c.augment, 4, c.augment};
  DLF_ASSIGN_OR_RETURN(loader_, data::Loader::Create(train_, lo));
  evaluator_ = std::make_unique<Evaluator>(c.build, c.model_options, image, c.eval_batch_size,
                                           lo.normalization, c.bf16);
  std::vector<int> final_after;  // the plan position after which each gradient is final
  for (Value grad : grads) final_after.push_back(executor_->FinalAfter(grad));
  if (world_size() == 1) {
    PlanGradientNorm(final_after);
    return absl::OkStatus();
  }
  if (test_ != nullptr) {
    const int64_t n = test_->size(), rank = c.comm->rank(), world = world_size();
    test_shard_ = data::Slice(*test_, n * rank / world, n * (rank + 1) / world);
  }
  std::vector<float*> grad_data;
  std::vector<int64_t> sizes;
  for (size_t i = 0; i < grads.size(); ++i) {
    Tensor& t = executor_->mutable_fetch(2 + static_cast<int>(i));
    grad_data.push_back(t.f32());
    sizes.push_back(t.num_elements());
  }
  DLF_ASSIGN_OR_RETURN(std::unique_ptr<Communicator> channel, c.comm->Duplicate());
  reducer_ = std::make_unique<GradientReducer>(std::move(channel), std::move(grad_data),
                                               std::move(sizes), std::move(final_after), c.reducer);
  return absl::OkStatus();
}

absl::Status Trainer::ChooseTrainableParameters() {
  Graph& g = *graph_;
  params_.clear();
  int64_t frozen_count = 0, frozen_elements = 0, frozen_bn = 0;
  for (Value p : g.parameters()) {
    if (!config_.freeze.Matches(g.name(p))) {
      params_.push_back(p);
      continue;
    }
    ++frozen_count;
    frozen_elements += NumElements(g.shape(p));
  }
  if (config_.freeze.empty()) return absl::OkStatus();
  const std::string flag = absl::StrCat("--freeze='", config_.freeze.pattern(), "'");
  if (frozen_count == 0) {
    return absl::InvalidArgumentError(absl::StrCat(flag, " matches no parameter of ", config_.run.model,
                                                   " (its first is '", g.name(g.parameters()[0]), "')"));
  }
  if (params_.empty()) return absl::InvalidArgumentError(absl::StrCat(flag, " freezes every parameter: nothing to train"));
  for (int n = 0; n < g.num_nodes() && config_.freeze_bn; ++n) {
    const Node& node = g.node(n);
    if (node.op != "BatchNorm" || !config_.freeze.Matches(g.name(node.inputs[1]))) continue;
    DLF_RETURN_IF_ERROR(g.SetAttr(n, kInferenceModeAttr, true));
    ++frozen_bn;
  }
  freeze_summary_ = absl::StrFormat("frozen by %s: %d of %d parameters (%.2f M weights) get no gradient",
                                    flag, frozen_count, g.parameters().size(), frozen_elements / 1e6);
  if (config_.freeze_bn) absl::StrAppendFormat(&freeze_summary_, "; %d BatchNorm layers keep their running statistics", frozen_bn);
  return absl::OkStatus();
}

absl::Status Trainer::BuildOptimizer() {
  optim::OptimizerConfig oc = config_.optimizer;
  std::vector<optim::ParamSpec> specs;
  for (Value p : params_) {
    specs.push_back({graph_->name(p), graph_->shape(p)});
    if (graph_->shape(p).size() == 1) oc.no_decay.insert(graph_->name(p));  // biases
  }
  DLF_ASSIGN_OR_RETURN(optimizer_, optim::MakeOptimizer(oc, std::move(specs)));
  optim::ScheduleConfig sc = config_.schedule;
  sc.total_epochs = static_cast<double>(config_.epochs);
  DLF_ASSIGN_OR_RETURN(schedule_, optim::MakeSchedule(sc));
  return absl::OkStatus();
}

double Trainer::CurrentLearningRate() const {
  const double progress = optim::Progress(state_.epoch, state_.step_in_epoch, loader_->batches_per_epoch());
  return schedule_->LearningRate(config_.lr, progress);
}

std::string Trainer::OutPath(const std::string& file) const {
  return (std::filesystem::path(config_.out_dir) / file).string();
}

absl::Status Trainer::CheckFinite(double loss, double grad_norm) {
  if (std::isfinite(loss) && std::isfinite(grad_norm)) return absl::OkStatus();
  const int bad_grad = optim::FirstNonFinite(grad_tensors_);
  std::vector<const Tensor*> params(param_tensors_.begin(), param_tensors_.end());
  const int bad_param = optim::FirstNonFinite(params);
  std::string culprit = "none of the gradients or parameters (the forward pass overflowed)";
  if (bad_param >= 0) {
    culprit = "parameter '" + graph_->name(params_[bad_param]) + "'";
  } else if (bad_grad >= 0) {
    culprit = "the gradient of '" + graph_->name(params_[bad_grad]) + "'";
  }
  const std::string message = absl::StrFormat(
      "non-finite values at step %d (epoch %d): the loss is %f; first non-finite tensor: %s",
      state_.global_step + 1, state_.epoch + 1, loss, culprit);
  // Skipping helps only while the weights are still finite.
  if (config_.skip_nonfinite && bad_param < 0) return absl::DataLossError(message);
  return absl::FailedPreconditionError(absl::StrCat(
      message, ". Training stopped: try a smaller --lr or --clip_norm",
      bad_param < 0 ? ", or --skip_nonfinite to skip such steps" : "", "."));
}

void Trainer::PlanGradientNorm(const std::vector<int>& final_after) {
  grads_final_after_.assign(executor_->stats().num_kernels, {});
  grad_square_sums_.assign(final_after.size(), 0.0);
  for (size_t i = 0; i < final_after.size(); ++i) {
    if (final_after[i] >= 0) {
      grads_final_after_[final_after[i]].push_back(static_cast<int>(i));
    } else {  // no kernel writes or reads it: a constant
      grad_square_sums_[i] = optim::SumOfSquares(*grad_tensors_[i]);
    }
  }
}

void Trainer::SquareGradientsFinishedBy(int kernel) {
  for (int i : grads_final_after_[kernel]) grad_square_sums_[i] = optim::SumOfSquares(*grad_tensors_[i]);
}

double Trainer::GradientNorm() const {
  // With several ranks the gradients are final only once the allreduce has averaged them.
  if (reducer_) return optim::GlobalNorm(grad_tensors_);
  double sum = 0.0;
  for (double s : grad_square_sums_) sum += s;
  return std::sqrt(sum);
}

absl::Status Trainer::ReduceStepStats(double& loss, double& correct) {
  if (world_size() == 1) return absl::OkStatus();
  double totals[] = {loss, correct};
  DLF_RETURN_IF_ERROR(config_.comm->SumF64(totals, 2, "the loss allreduce", state_.global_step));
  loss = totals[0] / world_size();  // every rank's loss is the mean over an equal share
  correct = totals[1];
  return absl::OkStatus();
}

absl::Status Trainer::TrainStep(const data::Batch& batch, double lr) {
  const Feed feeds[] = {{net_.images, &batch.images}, {net_.labels, &batch.labels}};
  executor_->set_sample_offset(batch.sample_offset);
  Communicator::SetCurrentStep(state_.global_step);
  if (reducer_) {
    reducer_->BeginStep(state_.global_step);
    DLF_RETURN_IF_ERROR(executor_->Run(feeds, [this](int kernel) { reducer_->KernelFinished(kernel); }));
    DLF_RETURN_IF_ERROR(reducer_->FinishStep());
  } else {
    DLF_RETURN_IF_ERROR(executor_->Run(feeds, [this](int kernel) { SquareGradientsFinishedBy(kernel); }));
  }
  double loss = executor_->fetch(0).f32()[0];
  double correct = executor_->fetch(1).f32()[0];
  DLF_RETURN_IF_ERROR(ReduceStepStats(loss, correct));
  // The gradients' global norm (in double, so finite gradients never overflow it) is not
  // finite exactly when a gradient is not, and is what clipping needs; the clipping factor is
  // applied inside the optimizer's pass.
  const double grad_norm = last_gradient_norm_ = GradientNorm();
  if (absl::Status s = CheckFinite(loss, grad_norm); !s.ok()) {
    if (!absl::IsDataLoss(s)) return s;
    ++skipped_steps_;  // --skip_nonfinite: no update; the step still counts as taken
    if (config_.verbose) absl::PrintF("%sskipped: %s\n", tty_ ? "\r\033[K" : "", s.message());
    state_.SkipStep();
    return absl::OkStatus();
  }
  float grad_scale = 1.0f;
  if (config_.clip_norm > 0 && grad_norm > config_.clip_norm) {
    grad_scale = optim::ClipFactor(grad_norm, config_.clip_norm);
  }
  DLF_RETURN_IF_ERROR(optimizer_->Step(param_tensors_, grad_tensors_, lr, grad_scale));
  state_.AddStep(loss, static_cast<int64_t>(correct), batch.size() * world_size());
  step_losses_.push_back(loss);
  if (config_.log_step_losses) absl::PrintF("step %d loss %.17g\n", state_.global_step, loss);
  return absl::OkStatus();
}

void Trainer::PrintProgress(int64_t epoch, bool force) {
  if (!config_.verbose) return;
  const double now = Now();
  if (!force && now - last_progress_ < (tty_ ? 0.25 : config_.progress_seconds)) return;
  last_progress_ = now;
  const int64_t steps = loader_->batches_per_epoch();
  const double elapsed = now - epoch_start_;
  const double rate = elapsed > 0 ? static_cast<double>(session_seen_) / elapsed : 0;
  const double eta = rate > 0 ? (steps - state_.step_in_epoch) * config_.batch_size / rate : 0;
  const std::string line = absl::StrFormat(
      "epoch %d/%d  step %d/%d  loss %.4f  acc %5.2f%%  %.0f img/s  ETA %s", epoch + 1,
      config_.epochs, state_.step_in_epoch, steps, state_.epoch_seen ? state_.epoch_loss_sum / state_.epoch_seen : 0.0,
      state_.epoch_seen ? 100.0 * state_.epoch_correct / state_.epoch_seen : 0.0, rate, Duration(eta));
  if (tty_) {
    absl::PrintF("\r%s\033[K", line);
  } else {
    absl::PrintF("%s\n", line);
  }
  std::fflush(stdout);
}

absl::Status Trainer::FinishEpoch(int64_t epoch, double lr) {
  EpochMetrics m;
  m.epoch = epoch + 1;
  m.train_loss = state_.epoch_loss_sum / static_cast<double>(state_.epoch_seen);
  m.train_accuracy = static_cast<double>(state_.epoch_correct) / static_cast<double>(state_.epoch_seen);
  m.lr = lr;
  m.seconds = state_.epoch_seconds + (Now() - epoch_start_);
  m.images_per_second = static_cast<double>(session_seen_) / (Now() - epoch_start_);
  m.test_loss = m.test_accuracy = NAN;
  const double eval_start = Now();
  DLF_RETURN_IF_ERROR(AverageBuffers());
  if (test_ != nullptr) {
    DLF_ASSIGN_OR_RETURN(const EvalResult r, Evaluate(*test_));
    m.test_loss = r.loss;
    m.test_accuracy = r.accuracy;
  }
  if (config_.verbose) {
    if (tty_) absl::PrintF("\r\033[K");
    absl::PrintF(
        "epoch %d/%d: train loss %.4f acc %.2f%% | test loss %.4f acc %.2f%% | lr %g | %.1f s "
        "(%.0f img/s, %.2f s waiting for data), eval %.1f s\n",
        m.epoch, config_.epochs, m.train_loss, 100 * m.train_accuracy, m.test_loss,
        100 * m.test_accuracy, lr, m.seconds, m.images_per_second,
        loader_->wait_seconds() - epoch_wait_start_, Now() - eval_start);
    std::fflush(stdout);
  }
  state_.FinishEpoch(m);
  if (config_.out_dir.empty() || !is_root()) return absl::OkStatus();
  const std::string title = absl::StrCat(config_.run.model, " on ", train_->description);
  DLF_RETURN_IF_ERROR(WriteMetricsCsv(OutPath("metrics.csv"), state_.history));
  DLF_RETURN_IF_ERROR(WriteLearningCurveSvg(OutPath("learning_curve.svg"), title, state_.history));
  const bool best = test_ != nullptr && m.test_accuracy > state_.best_accuracy;
  if (best) state_.best_accuracy = m.test_accuracy;
  DLF_RETURN_IF_ERROR(SaveCheckpoint(OutPath("last.safetensors"), true));
  return best ? SaveCheckpoint(OutPath("best.safetensors"), false) : absl::OkStatus();
}

absl::StatusOr<EvalResult> Trainer::Evaluate(const data::Dataset& dataset) {
  evaluator_->CopyWeightsFrom(*graph_);
  if (world_size() == 1 || &dataset != test_) return evaluator_->Evaluate(dataset);
  // Each rank scores its share of the test set; the sums are reduced.
  const int classes = config_.model_options.num_classes;
  EvalResult r;
  r.confusion.assign(classes, std::vector<int64_t>(classes, 0));
  if (test_shard_.size() > 0) {
    DLF_ASSIGN_OR_RETURN(r, evaluator_->Evaluate(test_shard_));
  }
  std::vector<double> totals = {r.loss * static_cast<double>(r.count), static_cast<double>(r.count)};
  for (const auto& row : r.confusion) totals.insert(totals.end(), row.begin(), row.end());
  DLF_RETURN_IF_ERROR(config_.comm->SumF64(totals.data(), static_cast<int64_t>(totals.size()),
                                           "the evaluation allreduce", state_.global_step));
  r.count = static_cast<int64_t>(totals[1]);
  r.loss = totals[0] / totals[1];
  int64_t correct = 0;
  for (int t = 0; t < classes; ++t) {
    for (int p = 0; p < classes; ++p) r.confusion[t][p] = static_cast<int64_t>(totals[2 + t * classes + p]);
    correct += r.confusion[t][t];
  }
  r.accuracy = static_cast<double>(correct) / totals[1];
  return r;
}

absl::Status Trainer::AverageBuffers() {
  if (world_size() == 1) return absl::OkStatus();
  std::vector<Communicator::Part> parts;
  for (Value v : graph_->buffers()) {
    Tensor& t = graph_->parameter_value(v);
    if (t.dtype() == DType::kF32) parts.push_back({t.f32(), t.num_elements()});
  }
  DLF_RETURN_IF_ERROR(config_.comm->SumF32(parts, "the allreduce of the running statistics", state_.global_step));
  for (const Communicator::Part& p : parts) {
    float* data = static_cast<float*>(p.data);
    for (int64_t i = 0; i < p.count; ++i) data[i] /= static_cast<float>(world_size());
  }
  return absl::OkStatus();
}

absl::Status Trainer::VerifyReplicas() {
  uint64_t hash = 0;
  for (const Tensor* t : param_tensors_) {
    const uint32_t* words = reinterpret_cast<const uint32_t*>(t->raw());
    const int64_t n = t->num_bytes() / 4;
    uint64_t sum = 0;
#pragma omp parallel for reduction(+ : sum)
    for (int64_t i = 0; i < n; ++i) sum += SplitMix64((static_cast<uint64_t>(words[i]) << 32) ^ i);
    hash = SplitMix64(hash ^ sum);
  }
  uint64_t low = 0, high = 0;
  DLF_RETURN_IF_ERROR(config_.comm->MinMax(hash, low, high, "the parameter check", state_.global_step - 1));
  if (low == high) return absl::OkStatus();
  return absl::DataLossError(absl::StrFormat(
      "after step %d the ranks hold different parameters (checked every %d steps by "
      "--check_replicas_every): the replicas diverged; stopping",
      state_.global_step, config_.check_replicas_every));
}

absl::Status Trainer::SaveLast() {
  DLF_RETURN_IF_ERROR(AverageBuffers());
  if (config_.out_dir.empty() || !is_root()) return absl::OkStatus();
  return SaveCheckpoint(OutPath("last.safetensors"), true);
}

absl::Status Trainer::SyncFromRoot() {
  if (world_size() == 1) return absl::OkStatus();
  Communicator& comm = *config_.comm;
  for (Value v : graph_->persistent_values()) {
    Tensor& t = graph_->parameter_value(v);
    DLF_RETURN_IF_ERROR(comm.Broadcast(t.raw(), t.num_bytes(), "the broadcast of the weights"));
  }
  state_.optimizer = optimizer_->SaveState();
  state_.executor_step = executor_->step();
  DLF_RETURN_IF_ERROR(state_.Broadcast(comm));
  DLF_RETURN_IF_ERROR(optimizer_->LoadState(state_.optimizer));
  executor_->set_step(state_.executor_step);
  return absl::OkStatus();
}

absl::Status Trainer::Run() {
  if (!config_.out_dir.empty() && is_root()) {
    std::error_code ec;
    std::filesystem::create_directories(config_.out_dir, ec);
    if (ec) {
      return absl::PermissionDeniedError(absl::StrCat(
          "--checkpoint_dir ", config_.out_dir, ": cannot create the directory: ", ec.message()));
    }
  }
  if (!is_root()) {
    // Rank 0 reads the checkpoint; SyncFromRoot below hands the state to the others.
  } else if (config_.resume) {
    const std::string last = OutPath("last.safetensors");
    if (std::filesystem::exists(last)) {
      DLF_RETURN_IF_ERROR(LoadCheckpoint(last, true));
      if (config_.verbose) {
        absl::PrintF("resumed from %s at epoch %lld, step %lld of the epoch\n", last.c_str(),
                     state_.epoch + 1, state_.step_in_epoch);
      }
    } else if (config_.verbose) {
      absl::PrintF("no checkpoint at %s: starting from scratch\n", last.c_str());
    }
  } else if (!config_.init_from.empty()) {
    DLF_ASSIGN_OR_RETURN(const std::string loaded,
                         LoadInitialWeights(*graph_, config_.init_from, config_.run, config_.init_exclude));
    if (config_.verbose) absl::PrintF("%s\n", loaded);
  }
  DLF_RETURN_IF_ERROR(SyncFromRoot());
  while (state_.epoch < config_.epochs) {
    loader_->StartEpoch(state_.epoch, state_.step_in_epoch);
    epoch_start_ = Now();
    epoch_wait_start_ = loader_->wait_seconds();
    session_seen_ = 0;
    double lr = CurrentLearningRate();
    while (const data::Batch* batch = loader_->Next()) {
      if (config_.max_steps > 0 && state_.global_step >= config_.max_steps) {
        if (config_.verbose) {
          PrintProgress(state_.epoch, true);
          absl::PrintF("\nstopped after --max_steps=%lld steps\n", state_.global_step);
        }
        state_.epoch_seconds += Now() - epoch_start_;
        return SaveLast();
      }
      lr = CurrentLearningRate();
      DLF_RETURN_IF_ERROR(TrainStep(*batch, lr));
      session_seen_ += batch->size() * world_size();
      if (world_size() > 1 && config_.check_replicas_every > 0 &&
          state_.global_step % config_.check_replicas_every == 0) {
        DLF_RETURN_IF_ERROR(VerifyReplicas());
      }
      if (config_.checkpoint_every > 0 && state_.global_step % config_.checkpoint_every == 0 &&
          !config_.out_dir.empty()) {
        const double now = Now();
        state_.epoch_seconds += now - epoch_start_;
        epoch_start_ = now;
        session_seen_ = 0;
        DLF_RETURN_IF_ERROR(SaveLast());
      }
      PrintProgress(state_.epoch, state_.step_in_epoch == loader_->batches_per_epoch());
    }
    DLF_RETURN_IF_ERROR(FinishEpoch(state_.epoch, lr));
  }
  return absl::OkStatus();
}

absl::Status Trainer::SaveCheckpoint(const std::string& path, bool with_training_state) {
  data::TensorFile file;
  for (Value v : graph_->persistent_values()) file.tensors[graph_->name(v)] = graph_->parameter_value(v).Clone();
  auto& meta = file.metadata;
  EncodeRunInfo(config_.run, meta);
  meta["epochs_completed"] = absl::StrCat(state_.history.size());
  if (with_training_state) {
    state_.executor_step = executor_->step();
    state_.optimizer = optimizer_->SaveState();
    state_.Encode(file);
  }
  return data::WriteSafetensors(path, file);
}

absl::Status Trainer::LoadCheckpoint(const std::string& path, bool restore_training_state) {
  DLF_ASSIGN_OR_RETURN(const Checkpoint checkpoint, ReadCheckpoint(path));
  DLF_RETURN_IF_ERROR(CheckSameRun(checkpoint.info, config_.run, path));
  DLF_RETURN_IF_ERROR(ValidateWeights(*graph_, checkpoint.file.tensors, path));
  if (restore_training_state) {
    DLF_ASSIGN_OR_RETURN(TrainState t, TrainState::Decode(checkpoint.file, path));
    if (t.batch_size != config_.batch_size || t.seed != config_.seed) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": saved with --batch_size=", t.batch_size, " --seed=", t.seed,
          "; resuming exactly needs the same, found --batch_size=", config_.batch_size,
          " --seed=", config_.seed));
    }
    if (t.optimizer_kind != config_.optimizer.kind) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": saved by optimizer '", t.optimizer_kind,
                                                     "', but this run's --optimizer is '", config_.optimizer.kind, "'"));
    }
    if (absl::Status s = optimizer_->CheckState(t.optimizer); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": ", s.message()));
    }
    // Everything is checked: from here on nothing fails.
    DLF_RETURN_IF_ERROR(optimizer_->LoadState(t.optimizer));
    executor_->set_step(t.executor_step);
    state_ = std::move(t);
  }
  CopyWeights(*graph_, checkpoint.file.tensors);
  return absl::OkStatus();
}

}  // namespace dlf::training
