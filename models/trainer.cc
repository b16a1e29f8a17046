#include "models/trainer.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "graph/autodiff.h"
#include "models/layers.h"
#include "models/safetensors.h"
#include "ops/ops.h"
#include "optim/clip.h"

namespace dlf::models {
namespace {

constexpr char kFormat[] = "dlf-checkpoint-1";
constexpr char kOptimizerPrefix[] = "optimizer/";

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string Duration(double seconds) {
  const int64_t s = static_cast<int64_t>(std::max(0.0, seconds));
  if (s >= 3600) return absl::StrFormat("%dh%02dm", s / 3600, s / 60 % 60);
  return absl::StrFormat("%dm%02ds", s / 60, s % 60);
}


template <typename T>
absl::Status ParseMeta(const std::map<std::string, std::string>& meta, const std::string& key,
                       const std::string& path, T& out) {
  auto it = meta.find(key);
  bool ok = it != meta.end();
  if constexpr (std::is_floating_point_v<T>) {
    ok = ok && absl::SimpleAtod(it->second, &out);
  } else {
    ok = ok && absl::SimpleAtoi(it->second, &out);
  }
  if (!ok) return absl::InvalidArgumentError(absl::StrCat(path, ": missing or malformed metadata '", key, "'"));
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateTrainConfig(const TrainConfig& c) {
  auto bad = [](const std::string& m) { return absl::InvalidArgumentError(m); };
  if (!c.build) return bad("no model to train");
  if (c.batch_size <= 0) return bad(absl::StrCat("batch size must be > 0, found ", c.batch_size));
  if (c.epochs <= 0) return bad(absl::StrCat("epochs must be > 0, found ", c.epochs));
  if (c.eval_batch_size <= 0) return bad("eval batch size must be > 0");
  if (c.max_steps < 0 || c.checkpoint_every < 0) return bad("max_steps and checkpoint_every must be >= 0");
  if (!(c.clip_norm >= 0)) return bad(absl::StrCat("clip_norm must be >= 0, found ", c.clip_norm));
  if (!(c.model_options.dropout >= 0 && c.model_options.dropout < 1)) {
    return bad(absl::StrCat("dropout must be in [0, 1), found ", c.model_options.dropout));
  }
  if (c.resume && !c.init_from.empty()) return bad("--resume and --init_from exclude each other");
  return optim::ValidateLearningRate(c.lr);
}

Trainer::Trainer(TrainConfig config, const data::Dataset* train, const data::Dataset* test)
    : config_(std::move(config)), train_(train), test_(test), tty_(isatty(STDOUT_FILENO)) {}

absl::StatusOr<std::unique_ptr<Trainer>> Trainer::Create(TrainConfig config,
                                                         const data::Dataset* train,
                                                         const data::Dataset* test) {
  if (absl::Status s = ValidateTrainConfig(config); !s.ok()) return s;
  if (train == nullptr || train->size() == 0) return absl::InvalidArgumentError("empty training set");
  std::unique_ptr<Trainer> t(new Trainer(std::move(config), train, test));
  if (absl::Status s = t->Build(); !s.ok()) return s;
  return t;
}

absl::Status Trainer::Build() {
  const TrainConfig& c = config_;
  graph_ = std::make_unique<Graph>(c.seed);
  Graph& g = *graph_;
  const Shape image = {train_->channels(), train_->height(), train_->width()};
  images_ = g.Input("images", DType::kF32, {c.batch_size, image[0], image[1], image[2]});
  labels_ = g.Input("labels", DType::kI32, {c.batch_size});
  Value logits = c.build(g, images_, c.model_options);
  loss_ = ops::SoftmaxCrossEntropy(g, logits, labels_);
  correct_ = ops::CountCorrect(g, logits, labels_);
  if (!g.status().ok()) return g.status();
  params_ = g.parameters();
  absl::StatusOr<std::vector<Value>> grads = Gradients(g, loss_, params_);
  if (!grads.ok()) return grads.status();
  std::vector<Value> fetches = {loss_, correct_};
  fetches.insert(fetches.end(), grads->begin(), grads->end());
  auto exec = Executor::Compile(g, fetches, {/*training=*/true});
  if (!exec.ok()) return exec.status();
  executor_ = *std::move(exec);

  std::vector<optim::ParamSpec> specs;
  optim::SgdOptions sgd{.momentum = c.momentum, .nesterov = c.nesterov, .weight_decay = c.weight_decay};
  for (size_t i = 0; i < params_.size(); ++i) {
    const std::string& name = g.name(params_[i]);
    specs.push_back({name, g.shape(params_[i])});
    if (g.shape(params_[i]).size() == 1) sgd.no_decay.insert(name);  // biases
    if (!(*grads)[i].valid()) {
      return absl::InvalidArgumentError("parameter '" + name + "' does not affect the loss");
    }
    param_tensors_.push_back(&g.parameter_value(params_[i]));
    grad_tensors_.push_back(&executor_->fetch(2 + static_cast<int>(i)));
  }
  auto opt = optim::MakeSgd(specs, sgd);
  if (!opt.ok()) return opt.status();
  optimizer_ = *std::move(opt);
  auto schedule = optim::StepLR(c.lr_step_size, c.lr_gamma);
  if (!schedule.ok()) return schedule.status();
  schedule_ = *schedule;

  data::LoaderOptions lo{.batch_size = c.batch_size, .shuffle = c.shuffle, .drop_last = true, .seed = c.seed};
  lo.normalization = c.normalization;
  lo.augmentation = {c.augment, 4, c.augment};
  auto loader = data::Loader::Create(train_, lo);
  if (!loader.ok()) return loader.status();
  loader_ = *std::move(loader);
  evaluator_ = std::make_unique<Evaluator>(c.build, c.model_options, image, c.eval_batch_size,
                                           c.normalization);
  return absl::OkStatus();
}

std::string Trainer::OutPath(const std::string& file) const {
  return (std::filesystem::path(config_.out_dir) / file).string();
}

absl::Status Trainer::CheckFinite(double loss) {
  const int bad_grad = optim::FirstNonFinite(grad_tensors_);
  if (std::isfinite(loss) && bad_grad < 0) return absl::OkStatus();
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
      global_step_ + 1, epoch_ + 1, loss, culprit);
  // Skipping helps only while the weights are still finite.
  if (config_.skip_nonfinite && bad_param < 0) return absl::DataLossError(message);
  return absl::FailedPreconditionError(absl::StrCat(
      message, ". Training stopped: try a smaller --lr or --clip_norm",
      bad_param < 0 ? ", or --skip_nonfinite to skip such steps" : "", "."));
}

absl::Status Trainer::TrainStep(const data::Batch& batch, double lr) {
  const Feed feeds[] = {{images_, &batch.images}, {labels_, &batch.labels}};
  if (absl::Status s = executor_->Run(feeds); !s.ok()) return s;
  const double loss = executor_->fetch(0).f32()[0];
  if (absl::Status s = CheckFinite(loss); !s.ok()) {
    if (!absl::IsDataLoss(s)) return s;
    ++skipped_steps_;  // --skip_nonfinite: no update; the step still counts as taken
    if (config_.verbose) absl::PrintF("%sskipped: %s\n", tty_ ? "\r\033[K" : "", s.message());
    ++global_step_;
    ++step_in_epoch_;
    return absl::OkStatus();
  }
  if (config_.clip_norm > 0) {
    std::vector<Tensor*> grads;
    for (size_t i = 0; i < grad_tensors_.size(); ++i) grads.push_back(&executor_->mutable_fetch(2 + i));
    optim::ClipByGlobalNorm(grads, config_.clip_norm);
  }
  if (absl::Status s = optimizer_->Step(param_tensors_, grad_tensors_, lr); !s.ok()) return s;
  epoch_loss_sum_ += loss * static_cast<double>(batch.size());
  epoch_correct_ += static_cast<int64_t>(executor_->fetch(1).f32()[0]);
  epoch_seen_ += batch.size();
  step_losses_.push_back(loss);
  ++global_step_;
  ++step_in_epoch_;
  if (config_.log_step_losses) absl::PrintF("step %d loss %.17g\n", global_step_, loss);
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
  const double eta = rate > 0 ? (steps - step_in_epoch_) * config_.batch_size / rate : 0;
  const std::string line = absl::StrFormat(
      "epoch %d/%d  step %d/%d  loss %.4f  acc %5.2f%%  %.0f img/s  ETA %s", epoch + 1,
      config_.epochs, step_in_epoch_, steps, epoch_seen_ ? epoch_loss_sum_ / epoch_seen_ : 0.0,
      epoch_seen_ ? 100.0 * epoch_correct_ / epoch_seen_ : 0.0, rate, Duration(eta));
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
  m.train_loss = epoch_loss_sum_ / static_cast<double>(epoch_seen_);
  m.train_accuracy = static_cast<double>(epoch_correct_) / static_cast<double>(epoch_seen_);
  m.lr = lr;
  m.seconds = epoch_seconds_before_ + (Now() - epoch_start_);
  m.images_per_second = static_cast<double>(session_seen_) / (Now() - epoch_start_);
  m.test_loss = m.test_accuracy = NAN;
  const double eval_start = Now();
  if (test_ != nullptr) {
    absl::StatusOr<EvalResult> r = Evaluate(*test_);
    if (!r.ok()) return r.status();
    m.test_loss = r->loss;
    m.test_accuracy = r->accuracy;
  }
  history_.push_back(m);
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
  epoch_ = epoch + 1;
  step_in_epoch_ = 0;
  epoch_loss_sum_ = 0;
  epoch_correct_ = epoch_seen_ = 0;
  epoch_seconds_before_ = 0;
  if (config_.out_dir.empty()) return absl::OkStatus();
  const std::string title = absl::StrCat(config_.model_name, " on ", train_->description);
  if (absl::Status s = WriteMetricsCsv(OutPath("metrics.csv"), history_); !s.ok()) return s;
  if (absl::Status s = WriteLearningCurveSvg(OutPath("learning_curve.svg"), title, history_); !s.ok()) {
    return s;
  }
  const bool best = test_ != nullptr && m.test_accuracy > best_accuracy_;
  if (best) best_accuracy_ = m.test_accuracy;
  if (absl::Status s = SaveCheckpoint(OutPath("last.safetensors"), true); !s.ok()) return s;
  return best ? SaveCheckpoint(OutPath("best.safetensors"), false) : absl::OkStatus();
}

absl::StatusOr<EvalResult> Trainer::Evaluate(const data::Dataset& dataset) {
  evaluator_->CopyWeightsFrom(*graph_);
  return evaluator_->Evaluate(dataset);
}

absl::Status Trainer::Run() {
  if (!config_.out_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(config_.out_dir, ec);
    if (ec) return absl::PermissionDeniedError(absl::StrCat(config_.out_dir, ": ", ec.message()));
  }
  if (config_.resume) {
    const std::string last = OutPath("last.safetensors");
    if (std::filesystem::exists(last)) {
      if (absl::Status s = LoadCheckpoint(last, true); !s.ok()) return s;
      if (config_.verbose) {
        absl::PrintF("resumed from %s at epoch %lld, step %lld of the epoch\n", last.c_str(),
                    epoch_ + 1, step_in_epoch_);
      }
    } else if (config_.verbose) {
      absl::PrintF("no checkpoint at %s: starting from scratch\n", last.c_str());
    }
  } else if (!config_.init_from.empty()) {
    if (absl::Status s = LoadCheckpoint(config_.init_from, false); !s.ok()) return s;
  }
  while (epoch_ < config_.epochs) {
    const double lr = schedule_->LearningRate(config_.lr, static_cast<double>(epoch_));
    loader_->StartEpoch(epoch_, step_in_epoch_);
    epoch_start_ = Now();
    epoch_wait_start_ = loader_->wait_seconds();
    session_seen_ = 0;
    while (const data::Batch* batch = loader_->Next()) {
      if (config_.max_steps > 0 && global_step_ >= config_.max_steps) {
        if (config_.verbose) {
          PrintProgress(epoch_, true);
          absl::PrintF("\nstopped after --max_steps=%lld steps\n", global_step_);
        }
        epoch_seconds_before_ += Now() - epoch_start_;
        if (config_.out_dir.empty()) return absl::OkStatus();
        return SaveCheckpoint(OutPath("last.safetensors"), true);
      }
      if (absl::Status s = TrainStep(*batch, lr); !s.ok()) return s;
      session_seen_ += batch->size();
      if (config_.checkpoint_every > 0 && global_step_ % config_.checkpoint_every == 0 &&
          !config_.out_dir.empty()) {
        const double now = Now();
        epoch_seconds_before_ += now - epoch_start_;
        epoch_start_ = now;
        session_seen_ = 0;
        if (absl::Status s = SaveCheckpoint(OutPath("last.safetensors"), true); !s.ok()) return s;
      }
      PrintProgress(epoch_, step_in_epoch_ == loader_->batches_per_epoch());
    }
    if (absl::Status s = FinishEpoch(epoch_, lr); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status Trainer::SaveCheckpoint(const std::string& path, bool with_training_state) {
  TensorFile file;
  for (size_t i = 0; i < params_.size(); ++i) {
    file.tensors[graph_->name(params_[i])] = param_tensors_[i]->Clone();
  }
  auto& meta = file.metadata;
  meta["format"] = kFormat;
  meta["model"] = config_.model_name;
  meta["epochs_completed"] = absl::StrCat(history_.size());
  if (with_training_state) {
    optim::OptimizerState state = optimizer_->SaveState();
    for (auto& [key, t] : state.buffers) file.tensors[kOptimizerPrefix + key] = std::move(t);
    meta["optimizer_step"] = absl::StrCat(state.step);
    meta["epoch"] = absl::StrCat(epoch_);
    meta["step_in_epoch"] = absl::StrCat(step_in_epoch_);
    meta["global_step"] = absl::StrCat(global_step_);
    meta["executor_step"] = absl::StrCat(executor_->step());
    meta["seed"] = absl::StrCat(config_.seed);
    meta["batch_size"] = absl::StrCat(config_.batch_size);
    meta["epoch_loss_sum"] = absl::StrFormat("%.17g", epoch_loss_sum_);
    meta["epoch_correct"] = absl::StrCat(epoch_correct_);
    meta["epoch_seen"] = absl::StrCat(epoch_seen_);
    meta["epoch_seconds"] = absl::StrFormat("%.17g", epoch_seconds_before_);
    meta["best_accuracy"] = absl::StrFormat("%.17g", best_accuracy_);
    meta["history"] = HistoryToJson(history_);
  }
  return WriteSafetensors(path, file);
}

absl::Status Trainer::LoadCheckpoint(const std::string& path, bool restore_training_state) {
  absl::StatusOr<TensorFile> file = ReadSafetensors(path);
  if (!file.ok()) return file.status();
  auto& meta = file->metadata;
  if (meta.count("model") && meta["model"] != config_.model_name) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": a checkpoint of model '", meta["model"],
                                                   "', but the model is '", config_.model_name, "'"));
  }
  // Check every tensor before changing anything.
  if (absl::Status s = ValidateWeights(*graph_, file->tensors, path); !s.ok()) return s;
  optim::OptimizerState state;
  if (restore_training_state) {
    for (auto& [name, t] : file->tensors) {
      if (name.rfind(kOptimizerPrefix, 0) == 0) state.buffers[name.substr(sizeof(kOptimizerPrefix) - 1)] = t.Clone();
    }
    int64_t batch_size = 0;
    uint64_t seed = 0;
    for (absl::Status s : {ParseMeta(meta, "batch_size", path, batch_size), ParseMeta(meta, "seed", path, seed),
                           ParseMeta(meta, "optimizer_step", path, state.step)}) {
      if (!s.ok()) return s;
    }
    if (batch_size != config_.batch_size || seed != config_.seed) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": saved with --batch_size=", batch_size, " --seed=", seed,
          "; resuming exactly needs the same, found --batch_size=", config_.batch_size,
          " --seed=", config_.seed));
    }
    if (absl::Status s = optimizer_->LoadState(state); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": ", s.message()));
    }
    uint64_t executor_step = 0;
    for (absl::Status s : {ParseMeta(meta, "epoch", path, epoch_),
                           ParseMeta(meta, "step_in_epoch", path, step_in_epoch_),
                           ParseMeta(meta, "global_step", path, global_step_),
                           ParseMeta(meta, "executor_step", path, executor_step),
                           ParseMeta(meta, "epoch_loss_sum", path, epoch_loss_sum_),
                           ParseMeta(meta, "epoch_correct", path, epoch_correct_),
                           ParseMeta(meta, "epoch_seen", path, epoch_seen_),
                           ParseMeta(meta, "epoch_seconds", path, epoch_seconds_before_),
                           ParseMeta(meta, "best_accuracy", path, best_accuracy_),
                           HistoryFromJson(meta["history"], history_)}) {
      if (!s.ok()) return s;
    }
    executor_->set_step(executor_step);
  }
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& src = file->tensors.at(graph_->name(params_[i]));
    std::memcpy(param_tensors_[i]->raw(), src.raw(), src.num_bytes());
  }
  return absl::OkStatus();
}

}  // namespace dlf::models
