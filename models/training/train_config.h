#ifndef DLF_MODELS_TRAINING_TRAIN_CONFIG_H_
#define DLF_MODELS_TRAINING_TRAIN_CONFIG_H_

// What a training run is asked to do: the model and data, the optimizer and schedule, the
// recipe features and where output goes. Checked in one place before anything is built.

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "data/transforms.h"
#include "models/models.h"
#include "models/registry.h"
#include "models/training/checkpoint.h"
#include "models/training/distributed/communicator.h"
#include "models/training/distributed/gradient_reducer.h"
#include "models/training/name_pattern.h"
#include "optim/factory.h"
#include "optim/schedule.h"

namespace dlf::training {

// The LR range test (--lr_finder): `steps` updates at rates growing exponentially from
// `start` to `end`, instead of training.
struct LrFinderConfig {
  bool enabled = false;
  double start = 1e-7, end = 10;
  int64_t steps = 100;
};

struct TrainConfig {
  // The model, data set, input shape, normalization and classes: recorded in checkpoints, and
  // a resume or --init_from must match them.
  RunInfo run;
  models::ModelFn build;
  models::TaskKind task = models::TaskKind::kClassification;  // what the model is trained for
  models::ModelOptions model_options;
  int64_t batch_size = 128;
  int64_t epochs = 1;
  double lr = 0.01;
  // Biases (1-D parameters) are exempt from weight decay whatever no_decay says.
  optim::OptimizerConfig optimizer;
  // The schedule is evaluated every step at the fractional epoch reached; a cosine schedule's
  // length is the run's epochs.
  optim::ScheduleConfig schedule;
  double label_smoothing = 0.0;
  bool bf16 = false;  // convolutions and linear layers in bf16 (f32 weights, gradients, state)
  bool fast_math = true;  // ExecutorOptions::fast_math (Winograd convolutions)
  double clip_norm = 0.0;  // 0: no clipping
  // In-memory sets: random crop (pad 4) + horizontal flip; image folders: RandomResizedCrop
  // (scale 0.08-1, ratio 3/4-4/3) + horizontal flip.
  bool augment = false;
  // The rest of the image transform: the crop's padding mode and fill, ColorJitter and
  // RandomErasing (training), and for image folders the resampling filter and the evaluation's
  // Resize(size / crop_fraction) + CenterCrop(size). Its crop and flip switches are --augment's.
  data::Augmentation transform;
  // Batch-level mixup / cutmix (Beta(alpha, alpha); 0: off), torchvision's references' recipe.
  double mixup_alpha = 0, cutmix_alpha = 0;
  int decode_threads = 0;  // image folders: threads decoding (0: one per core)
  bool skip_bad_images = false;  // a training image that cannot be made is replaced and counted
  bool shuffle = true;
  uint64_t seed = 1;
  std::string out_dir;     // checkpoints, metrics.csv, learning_curve.svg; empty: write nothing
  bool resume = false;     // continue from out_dir/last.safetensors if it exists
  std::string init_from;   // start from these weights: a dlf checkpoint or a plain state_dict
  NamePattern init_exclude;  // names init_from leaves as initialized (e.g. a new classifier)
  // Parameters that are not trained: autodiff builds no gradient for them and the optimizer
  // keeps no state. With freeze_bn, a BatchNorm whose weight is frozen also keeps its running
  // statistics (it normalizes with them, as in inference).
  NamePattern freeze;
  bool freeze_bn = false;
  int64_t max_steps = 0;   // stop after this many steps in total (0: no limit)
  int64_t checkpoint_every = 0;  // also checkpoint every N steps (0: at epoch ends only)
  int64_t eval_batch_size = 500;
  // A step whose loss or gradients are not finite stops training with an error naming the
  // step and the tensor; with skip_nonfinite it is skipped (no update) and training goes on.
  bool skip_nonfinite = false;
  bool log_step_losses = false;  // print "step N loss X" (17 significant digits) every step
  bool verbose = true;
  double progress_seconds = 10;  // between progress lines when stdout is not a terminal

  // Recipe features (each a callback or a part of the step; see callbacks.h).
  // Micro-batches of batch_size images whose gradients add up to one optimizer update (timm's
  // --grad-accum-steps): an update sees batch_size * grad_accum_steps images; max_steps, the
  // logged steps and the schedule count updates.
  int64_t grad_accum_steps = 1;
  // An exponential moving average of the weights (parameters and buffers), updated after
  // every optimizer update, evaluated each epoch and saved as "ema/<name>" in checkpoints.
  bool model_ema = false;
  double model_ema_decay = 0.9998;
  // schedule.kind kPlateau: the rate is multiplied by schedule.gamma when the test loss has
  // not improved (by a relative 1e-4, as PyTorch's ReduceLROnPlateau) for plateau_patience epochs.
  int64_t plateau_patience = 10;
  // Stop when the test loss has not improved for this many epochs (0: never).
  int64_t early_stopping_patience = 0;
  // best.safetensors keeps the epoch best by this metric: any evaluation metric of the task
  // ("test_<family>", or "ema_test_<family>" with model_ema; classification: test_accuracy,
  // test_loss, ema_test_accuracy, ema_test_loss).
  std::string best_metric;  // empty: the task's default (test_accuracy, a language model's val_loss)
  // Also keep the last N epochs' checkpoints as epoch_<N>.safetensors (0: none).
  int64_t keep_checkpoints = 0;
  LrFinderConfig lr_finder;

  // Runs counted in steps (the language-model task): max_steps updates, "epochs" of
  // eval_interval steps, each ending with the evaluation over eval_iters batches (0: none) and
  // the checkpoints. The cosine schedule is nanoGPT's: linear warmup over warmup_steps, then a
  // cosine from lr down to min_lr at lr_decay_steps (nanoGPT's lr_decay_iters; 0: max_steps).
  int64_t eval_interval = 250;
  int64_t eval_iters = 200;
  int64_t warmup_steps = 0;
  int64_t lr_decay_steps = 0;
  double min_lr = 0;
  // Metadata every checkpoint carries for the tools that read it (a GPT's "gpt/config", the
  // text's "text/vocabulary").
  std::map<std::string, std::string> task_metadata;
  std::map<std::string, std::string> tied_names;  // the model's (models::ModelSpec::tied_names)

  // Data parallelism (null or a world of one: train alone). batch_size is the global batch,
  // split evenly across the ranks; every rank draws what a single process would for the same
  // global sample positions, so results do not depend on the number of ranks (up to the
  // order of summation; BatchNorm's batch statistics are per rank, as in PyTorch's DDP).
  Communicator* comm = nullptr;
  ReducerOptions reducer;
  // Steps between checks that every rank holds bit-identical parameters (0: never).
  int64_t check_replicas_every = 100;
};

// The defaults for a registered model on `dataset` with its own normalization (for tests,
// benchmarks and programs that train without flags).
TrainConfig ConfigForModel(const models::ModelSpec& spec, const std::string& dataset, int num_classes);

// Checks the settings that do not depend on the data (batch size, epochs, rates, optimizer,
// schedule ...): a clear error before anything is loaded. Trainer::Create checks them too.
absl::Status ValidateTrainConfig(const TrainConfig& config);

// The optimizer, schedule and recipe in one line, for the run's header.
std::string DescribeTraining(const TrainConfig& config);

// The schedule the config asks for ("plateau" is constant here: its reductions are a callback's).
absl::StatusOr<optim::SchedulePtr> MakeTrainSchedule(const TrainConfig& config);

}  // namespace dlf::training

#endif  // DLF_MODELS_TRAINING_TRAIN_CONFIG_H_
