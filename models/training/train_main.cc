#include "models/training/train_main.h"

#include <omp.h>

#include <cstdio>
#include <filesystem>
#include <optional>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "data/cifar10.h"
#include "graph/status_macros.h"
#include "graph/version.h"
#include "models/gpt.h"
#include "models/layers.h"
#include "models/registry.h"
#include "models/training/cli.h"
#include "models/training/datasets.h"
#include "models/training/input_shape.h"
#include "models/training/text_flags.h"
#include "models/training/transform_flags.h"
#include "models/training/trainer.h"

ABSL_FLAG(std::string, model, "",
          "the model to train: a registered name (listed above), or an ONNX file (path ending in .onnx)");
ABSL_FLAG(std::string, dataset, "",
          "cifar10 | fashion_mnist | synthetic (default: the model's). When neither --dataset "
          "nor --data_dir is given and CIFAR-10 is not found, a short Fashion-MNIST run is made");
ABSL_FLAG(std::string, data_dir, "",
          "the data set's directory (default: datasets/cifar-10-batches-bin for CIFAR-10, "
          "/usr/share/datasets/fashion-mnist for Fashion-MNIST)");
ABSL_FLAG(std::vector<std::string>, input_shape, {},
          "C,H,W: the image size for an ONNX model whose file leaves it open (a dynamic axis "
          "other than the batch)");
ABSL_FLAG(int, train_crop_size, 0,
          "the image size to train at (a folder's RandomResizedCrop size; default: the model's, 224 "
          "for resnet18/50); models ending in global pooling take any, others refuse");
ABSL_FLAG(std::string, val_dir, "", "--dataset=folder: the evaluation images (default: <data_dir>/val)");
ABSL_FLAG(int, epochs, 90, "epochs to train");
ABSL_FLAG(int, batch_size, 128, "images per step");
ABSL_FLAG(double, lr, 0.01, "base learning rate");
ABSL_FLAG(std::string, optimizer, "sgd", "sgd | adam | adamw");
ABSL_FLAG(double, momentum, 0.9, "SGD momentum (PyTorch convention)");
ABSL_FLAG(bool, nesterov, false, "SGD: Nesterov momentum");
ABSL_FLAG(double, adam_beta1, 0.9, "Adam/AdamW: beta1");
ABSL_FLAG(double, adam_beta2, 0.999, "Adam/AdamW: beta2");
ABSL_FLAG(double, adam_eps, 1e-8, "Adam/AdamW: epsilon");
ABSL_FLAG(double, weight_decay, 0.0,
          "weight decay on the parameters of 2 or more dimensions only (nanoGPT's configure_optimizers rule: "
          "weights and embeddings decay; biases and normalization weights, the 1-D ones, do not): L2 for sgd "
          "and adam, decoupled for adamw (a language model's default: 0.1)");
ABSL_FLAG(std::string, lr_schedule, "step",
          "step | multistep | cosine | constant | plateau (multiply by --lr_gamma when the test "
          "loss has not improved for --patience_epochs, as PyTorch's ReduceLROnPlateau)");
ABSL_FLAG(int, patience_epochs, 10, "plateau: epochs without a better test loss before the rate drops");
ABSL_FLAG(int, lr_step_size, 30, "step: multiply the learning rate by --lr_gamma every this many epochs");
ABSL_FLAG(double, lr_gamma, 0.1, "step, multistep: learning-rate decay factor");
ABSL_FLAG(std::vector<std::string>, lr_milestones, {},
          "multistep: epochs at which the learning rate is multiplied by --lr_gamma, e.g. 30,60");
ABSL_FLAG(double, warmup_epochs, 0.0,
          "linear warmup from 0 to --lr over this many epochs (fractions allowed), then the schedule");
ABSL_FLAG(double, label_smoothing, 0.0, "cross-entropy label smoothing in [0, 1), as PyTorch's");
ABSL_FLAG(double, clip_norm, 0.0, "clip gradients to this global L2 norm (0: off)");
ABSL_FLAG(std::optional<double>, dropout, std::nullopt,
          "dropout rate of the classifier (models that have one); default the model's: 0.5 for AlexNet, "
          "0.2 for the MobileNets and EfficientNet (torchvision's)");
ABSL_FLAG(bool, lrn, false, "AlexNet: local response normalization after conv1 and conv2");
ABSL_FLAG(std::string, init, "model",
          "AlexNet presets: model (the preset's own: he for seed, torch for cifar) | he (He "
          "normal, Xavier for the last layer, zero biases) | torch (PyTorch's nn.Conv2d/nn.Linear "
          "default)");
ABSL_FLAG(bool, augment, false,
          "random crop (pad 4; --padding_mode) and horizontal flip; for an image folder "
          "RandomResizedCrop and horizontal flip");
ABSL_FLAG(bool, shuffle, true, "reshuffle the training set every epoch");
ABSL_FLAG(int, seed, 1, "seed of initialization, shuffling, augmentation and dropout");
ABSL_FLAG(int, threads, 0, "OpenMP threads (0: one per core)");
ABSL_FLAG(std::string, checkpoint_dir, "runs/<model>-<dataset>",
          "where checkpoints, metrics.csv and learning_curve.svg go (empty: nowhere)");
ABSL_FLAG(bool, resume, false, "continue from <checkpoint_dir>/last.safetensors if it exists");
ABSL_FLAG(std::string, init_from, "",
          "start from these weights: a dlf checkpoint of the same model (any data set), or a "
          "safetensors file of a PyTorch state_dict with the model's names (checked as "
          "load_state_dict(strict=True); tools/torch_to_safetensors.py converts .pt/.pth files)");
ABSL_FLAG(std::string, init_exclude, "",
          "with --init_from: parameters and buffers whose names match this regular expression "
          "keep their initialization, e.g. '^fc\\.' for a classifier with another number of classes");
ABSL_FLAG(std::string, freeze, "",
          "do not train parameters whose names match this regular expression, e.g. "
          "'^(conv1|bn1|layer1|layer2)\\.': no gradient is computed for them");
ABSL_FLAG(bool, freeze_bn, false,
          "with --freeze: BatchNorm layers whose weight is frozen also keep their running "
          "statistics and normalize with them (as in inference)");
ABSL_FLAG(int, grad_accum_steps, 1,
          "add up the gradients of this many batches of --batch_size before each optimizer update "
          "(an update sees batch_size x grad_accum_steps images; --max_steps and the logged steps "
          "count updates)");
ABSL_FLAG(bool, model_ema, false,
          "keep an exponential moving average of the weights, evaluated every epoch and saved as "
          "ema/<name> beside them (evaluate --ema scores it)");
ABSL_FLAG(double, model_ema_decay, 0.9998, "--model_ema: the average's decay per update");
ABSL_FLAG(int, early_stopping_patience, 0,
          "stop when the test loss has not improved for this many epochs (0: never)");
ABSL_FLAG(std::string, best_metric, "",
          "what best.safetensors is best by: any evaluation metric of the model's task, <split>_<metric> or "
          "(with --model_ema) ema_<split>_<metric>; classification: test_accuracy (default) | test_loss | "
          "ema_test_accuracy | ema_test_loss; language model: val_loss (default) | val_perplexity | val_bpc | "
          "ema_val_...");
ABSL_FLAG(int, keep_checkpoints, 0,
          "also keep the last N epochs' checkpoints as epoch_<N>.safetensors (0: none)");
ABSL_FLAG(bool, lr_finder, false,
          "instead of training, the LR range test (fastai's lr_find): --lr_finder_steps updates at "
          "rates growing exponentially from --lr_finder_start to --lr_finder_end; writes "
          "lr_finder.csv and lr_finder.svg to --checkpoint_dir and prints the suggested lr");
ABSL_FLAG(double, lr_finder_start, 1e-7, "--lr_finder: the first rate");
ABSL_FLAG(double, lr_finder_end, 10, "--lr_finder: the last rate");
ABSL_FLAG(int, lr_finder_steps, 100, "--lr_finder: updates in the sweep");
ABSL_FLAG(std::string, config, "",
          "a run config: a JSON file of flag names and values, e.g. {\"model\": \"resnet20\", "
          "\"lr_milestones\": [100, 150]}; flags on the command line override it. Every run "
          "writes its whole resolved config to <checkpoint_dir>/config.json");
ABSL_FLAG(int, max_steps, 0,
          "stop after this many steps (0: no limit), for smoke runs; a language model's run length (default 2000)");
ABSL_FLAG(int, checkpoint_every, 0, "also checkpoint every N steps (0: at epoch ends only)");
ABSL_FLAG(int, eval_batch_size, 500, "images per evaluation step");
ABSL_FLAG(bool, skip_nonfinite, false,
          "skip (do not apply) a step whose loss or gradients are NaN or infinite, instead of "
          "stopping with an error naming the step and the tensor");
ABSL_FLAG(bool, log_step_losses, false, "print every step's loss as `step N loss X`");
ABSL_FLAG(double, allreduce_bucket_mb, 25,
          "under mpirun: gradients are averaged in buckets of about this many MB, each sent as "
          "soon as the backward pass has produced it");
ABSL_FLAG(std::string, allreduce_dtype, "f32",
          "under mpirun: f32 | bf16 (gradients travel as bf16, half the bytes; sums in f32)");
ABSL_FLAG(bool, overlap_allreduce, true,
          "under mpirun: send gradient buckets during the backward pass (false: after it)");
ABSL_FLAG(double, collective_timeout_s, 60,
          "under mpirun: a rank that does not join a collective within this many seconds stops "
          "the run with an error naming it");
ABSL_FLAG(int, check_replicas_every, 100,
          "under mpirun: every N steps verify that all ranks hold identical parameters (0: never)");

namespace dlf::training {
namespace {

absl::StatusOr<std::vector<int64_t>> Milestones() {
  std::vector<int64_t> out;
  for (const std::string& m : absl::GetFlag(FLAGS_lr_milestones)) {
    int64_t epoch = 0;
    if (!absl::SimpleAtoi(m, &epoch) || epoch <= 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--lr_milestones must be positive epochs separated by commas (e.g. 30,60), found '", m, "'"));
    }
    out.push_back(epoch);
  }
  return out;
}

// The image pipeline's settings: the evaluation crop, the transforms, decoding, mixing.
absl::Status ImageOptionsFromFlags(const models::ModelSpec& spec, TrainConfig& c) {
  if (const int64_t val_crop = ValCropSizeFromFlags(); val_crop != 0) {
    DLF_RETURN_IF_ERROR(CheckCropSize(spec, val_crop, "val_crop_size"));
    c.run.eval_crop_size = val_crop;
  }
  DLF_ASSIGN_OR_RETURN(c.transform, ImageTransformFromFlags(c.run.EvalShape()));
  c.run.interpolation = c.transform.interpolation;
  c.run.crop_fraction = c.transform.crop_fraction;
  c.decode_threads = DecodeThreadsFromFlags();
  c.skip_bad_images = SkipBadImagesFromFlags();
  std::tie(c.mixup_alpha, c.cutmix_alpha) = MixingFromFlags();
  return absl::OkStatus();
}

// A language model's recipe unless the flags say otherwise: nanoGPT's for a CPU (AdamW, betas
// 0.9 / 0.99, weight decay 0.1 on the 2-D parameters, clipping at 1, lr 1e-3 warmed up and
// decayed by a cosine, batch 12, 2000 steps).
void SetLanguageModelDefaults() {
  if (!FlagGiven("lr")) absl::SetFlag(&FLAGS_lr, 1e-3);
  if (!FlagGiven("batch_size")) absl::SetFlag(&FLAGS_batch_size, 12);
  if (!FlagGiven("optimizer")) absl::SetFlag(&FLAGS_optimizer, "adamw");
  if (!FlagGiven("adam_beta2")) absl::SetFlag(&FLAGS_adam_beta2, 0.99);
  if (!FlagGiven("weight_decay")) absl::SetFlag(&FLAGS_weight_decay, 0.1);
  if (!FlagGiven("clip_norm")) absl::SetFlag(&FLAGS_clip_norm, 1.0);
  if (!FlagGiven("max_steps")) absl::SetFlag(&FLAGS_max_steps, 2000);
  if (!FlagGiven("lr_schedule")) absl::SetFlag(&FLAGS_lr_schedule, "cosine");
}

// Everything that comes from flags alone; the data decides the rest (classes, normalization).
absl::StatusOr<TrainConfig> ConfigFromFlags(const models::ModelSpec& spec) {
  // The data set, its classes and normalization are set once the data is loaded.
  TrainConfig c = ConfigForModel(spec, "", 0);
  if (absl::GetFlag(FLAGS_dropout)) c.model_options.dropout = *absl::GetFlag(FLAGS_dropout);
  const std::string init = absl::GetFlag(FLAGS_init);
  if (init != "model" && init != "he" && init != "torch") {
    return absl::InvalidArgumentError(absl::StrCat("--init must be model, he or torch, found '", init, "'"));
  }
  // The options only some models take; the checkpoint records them.
  models::ModelVariant& variant = c.model_options.extra;
  variant.lrn = absl::GetFlag(FLAGS_lrn);
  if (init != "model") {
    DLF_ASSIGN_OR_RETURN(variant.init, models::ParseInitScheme(init));
  }
  for (const auto& [name, value] : models::ModelVariantRecord(variant)) {
    if (absl::c_find(spec.options, name) == spec.options.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--", name, " does not apply to model ", spec.name, " (",
          spec.options.empty() ? "it takes no model options" : "it takes --" + absl::StrJoin(spec.options, ", --"), ")"));
    }
  }
  c.run.model_options = variant;
  c.batch_size = absl::GetFlag(FLAGS_batch_size);
  c.epochs = absl::GetFlag(FLAGS_epochs);
  c.lr = absl::GetFlag(FLAGS_lr);
  DLF_ASSIGN_OR_RETURN(const optim::OptimizerKind optimizer, optim::ParseOptimizerKind(absl::GetFlag(FLAGS_optimizer)));
  DLF_ASSIGN_OR_RETURN(c.schedule.kind, optim::ParseScheduleKind(absl::GetFlag(FLAGS_lr_schedule)));
  c.optimizer = {.kind = optimizer,
                 .momentum = absl::GetFlag(FLAGS_momentum),
                 .nesterov = absl::GetFlag(FLAGS_nesterov),
                 .beta1 = absl::GetFlag(FLAGS_adam_beta1),
                 .beta2 = absl::GetFlag(FLAGS_adam_beta2),
                 .epsilon = absl::GetFlag(FLAGS_adam_eps),
                 .weight_decay = absl::GetFlag(FLAGS_weight_decay)};
  c.schedule.step_size = absl::GetFlag(FLAGS_lr_step_size);
  c.schedule.gamma = absl::GetFlag(FLAGS_lr_gamma);
  DLF_ASSIGN_OR_RETURN(c.schedule.milestones, Milestones());
  c.schedule.warmup_epochs = absl::GetFlag(FLAGS_warmup_epochs);
  c.label_smoothing = absl::GetFlag(FLAGS_label_smoothing);
  c.clip_norm = absl::GetFlag(FLAGS_clip_norm);
  c.augment = absl::GetFlag(FLAGS_augment);
  c.shuffle = absl::GetFlag(FLAGS_shuffle);
  if (absl::GetFlag(FLAGS_seed) < 0) {
    return absl::InvalidArgumentError(absl::StrCat("--seed must be >= 0, found ", absl::GetFlag(FLAGS_seed)));
  }
  c.seed = static_cast<uint64_t>(absl::GetFlag(FLAGS_seed));
  c.resume = absl::GetFlag(FLAGS_resume);
  c.init_from = ResolveUserPath(absl::GetFlag(FLAGS_init_from));
  DLF_ASSIGN_OR_RETURN(c.init_exclude, NamePattern::Create("init_exclude", absl::GetFlag(FLAGS_init_exclude)));
  DLF_ASSIGN_OR_RETURN(c.freeze, NamePattern::Create("freeze", absl::GetFlag(FLAGS_freeze)));
  c.freeze_bn = absl::GetFlag(FLAGS_freeze_bn);
  c.max_steps = absl::GetFlag(FLAGS_max_steps);
  c.checkpoint_every = absl::GetFlag(FLAGS_checkpoint_every);
  c.eval_batch_size = absl::GetFlag(FLAGS_eval_batch_size);
  c.skip_nonfinite = absl::GetFlag(FLAGS_skip_nonfinite);
  c.log_step_losses = absl::GetFlag(FLAGS_log_step_losses);
  const double bucket_mb = absl::GetFlag(FLAGS_allreduce_bucket_mb);
  if (!(bucket_mb > 0)) {
    return absl::InvalidArgumentError(absl::StrCat("--allreduce_bucket_mb must be > 0, found ", bucket_mb));
  }
  c.reducer.bucket_bytes = static_cast<int64_t>(bucket_mb * 1e6);
  const std::string dtype = absl::GetFlag(FLAGS_allreduce_dtype);
  if (dtype != "f32" && dtype != "bf16") {
    return absl::InvalidArgumentError(absl::StrCat("--allreduce_dtype must be f32 or bf16, found '", dtype, "'"));
  }
  c.reducer.bf16 = dtype == "bf16";
  c.reducer.overlap = absl::GetFlag(FLAGS_overlap_allreduce);
  c.check_replicas_every = absl::GetFlag(FLAGS_check_replicas_every);
  c.grad_accum_steps = absl::GetFlag(FLAGS_grad_accum_steps);
  if (spec.task == models::TaskKind::kLanguageModel) {
    DLF_RETURN_IF_ERROR(LanguageModelFromFlags(c));
  } else {
    DLF_RETURN_IF_ERROR(CheckNoTextFlags(spec.name));
    DLF_RETURN_IF_ERROR(ImageOptionsFromFlags(spec, c));
  }
  c.model_ema = absl::GetFlag(FLAGS_model_ema);
  c.model_ema_decay = absl::GetFlag(FLAGS_model_ema_decay);
  c.plateau_patience = absl::GetFlag(FLAGS_patience_epochs);
  c.early_stopping_patience = absl::GetFlag(FLAGS_early_stopping_patience);
  c.best_metric = absl::GetFlag(FLAGS_best_metric);
  c.keep_checkpoints = absl::GetFlag(FLAGS_keep_checkpoints);
  c.lr_finder = {.enabled = absl::GetFlag(FLAGS_lr_finder), .start = absl::GetFlag(FLAGS_lr_finder_start),
                 .end = absl::GetFlag(FLAGS_lr_finder_end), .steps = absl::GetFlag(FLAGS_lr_finder_steps)};
  if (c.lr_finder.enabled) {  // the rate is the sweep's: constant base, no decay, every step counts
    c.schedule = {.kind = optim::ScheduleKind::kConstant};
    c.epochs = 1 << 20;
    c.skip_nonfinite = true;
    c.resume = false;
  }
  DLF_ASSIGN_OR_RETURN(c.bf16, Bf16FromFlags());
  DLF_RETURN_IF_ERROR(ValidateTrainConfig(c));
  return c;
}

struct Data {
  data::Dataset train, test;
  data::TextData text;  // a language model's
  std::string name;
  bool fell_back = false;  // CIFAR-10 missing: the short Fashion-MNIST run
};

absl::StatusOr<Data> LoadData(const models::ModelSpec& spec, const std::vector<int64_t>& eval_shape, bool print) {
  Data d;
  d.name = FlagGiven("dataset") ? absl::GetFlag(FLAGS_dataset) : spec.default_dataset;
  DLF_RETURN_IF_ERROR(CheckDatasetName(d.name));
  const bool dir_given = FlagGiven("data_dir");
  if (d.name == "folder" && !dir_given) {
    return absl::InvalidArgumentError("--dataset=folder needs --data_dir=ROOT (ROOT/train/<class>/<image>, ROOT/val/<class>/<image>)");
  }
  std::string dir = ResolveUserPath(dir_given ? absl::GetFlag(FLAGS_data_dir) : DefaultDataDir(d.name));
  absl::StatusOr<data::Dataset> train = LoadSplit(d.name, dir, true, spec.input_shape);
  if (!train.ok() && absl::IsNotFound(train.status()) && d.name == "cifar10" &&
      !FlagGiven("dataset") && !dir_given) {
    if (print) std::printf("CIFAR-10 was not found in %s.\n%s\nFor now: a short run on Fashion-MNIST "
                "(installed by tools/setup.sh), fitted to the model's input.\n\n",
                dir.c_str(), data::kCifar10Help);
    d.name = "fashion_mnist";
    d.fell_back = true;
    dir = DefaultDataDir(d.name);
    train = LoadSplit(d.name, dir, true, spec.input_shape);
  }
  if (!train.ok()) return train.status();
  d.train = *std::move(train);
  const std::string val_dir = absl::GetFlag(FLAGS_val_dir);
  if (!val_dir.empty() && d.name != "folder") return absl::InvalidArgumentError("--val_dir needs --dataset=folder");
  DLF_ASSIGN_OR_RETURN(d.test, LoadSplit(d.name, val_dir.empty() ? dir : ResolveUserPath(val_dir), false, eval_shape));
  return d;
}

// The output directory --checkpoint_dir names ("runs/<model>-<dataset>" by default).
std::string OutDir(const models::ModelSpec& spec, const std::string& dataset) {
  std::string out = absl::GetFlag(FLAGS_checkpoint_dir);
  if (out == "runs/<model>-<dataset>") {  // a model file's run is named by the file's stem
    out = absl::StrCat("runs/", std::filesystem::path(spec.name).stem().string(), "-", dataset);
  }
  return ResolveUserPath(out);
}

// A language model on a text: its windows train, its last 10% validates.
absl::StatusOr<std::unique_ptr<Trainer>> SetUpLanguageModel(const models::ModelSpec& spec, Communicator& comm,
                                                            Data& d, TrainConfig& c) {
  if (FlagGiven("dataset") && absl::GetFlag(FLAGS_dataset) != "text") {
    return absl::InvalidArgumentError(absl::StrCat("model ", spec.name, " is a language model: it trains on --dataset=text ",
                                                   "(--data_file=FILE), found --dataset=", absl::GetFlag(FLAGS_dataset)));
  }
  for (const char* flag : {"data_dir", "val_dir", "input_shape", "train_crop_size"}) {
    if (FlagGiven(flag)) {
      return absl::InvalidArgumentError(absl::StrCat("--", flag, " is an image flag; model ", spec.name,
                                                     " is a language model (see --data_file, --block_size)"));
    }
  }
  SetLanguageModelDefaults();
  DLF_ASSIGN_OR_RETURN(c, ConfigFromFlags(spec));
  c.comm = &comm;
  DLF_ASSIGN_OR_RETURN(d.text, TextFromFlags(c.run.input_shape[0]));
  d.name = c.run.dataset = "text";
  c.model_options.num_classes = d.text.vocabulary.size();
  c.task_metadata[models::kGptConfigMetadata] = models::GptConfigRecord(models::GptConfigFor(c.model_options));
  c.task_metadata[data::kVocabularyMetadata] = d.text.vocabulary.Record();
  c.task_metadata[data::kTextFileMetadata] = std::filesystem::absolute(d.text.path).string();
  d.train.description = absl::StrCat(d.text.description, ": the first 90% (", d.text.train.size(), " tokens)");
  d.test.description = absl::StrCat("the last 10% (", d.text.validation.size(), " tokens)");
  c.out_dir = OutDir(spec, d.name);
  if (comm.is_root() && !c.out_dir.empty()) {  // a resumed run must train the same model on the same text
    DLF_RETURN_IF_ERROR(RecordRunConfig(c.out_dir, c.resume && !c.lr_finder.enabled,
                                        {"model", "data_file", "tokenizer", "block_size", "n_layer", "n_head",
                                         "n_embd", "bias"}));
  }
  return Trainer::Create(c, TrainData{.text = &d.text});
}

// Everything before the first step; each rank does it alone, and the ranks agree on the outcome.
absl::StatusOr<std::unique_ptr<Trainer>> SetUp(const std::vector<std::string>& positional,
                                               Communicator& comm, Data& d, TrainConfig& c) {
  if (!positional.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("unexpected argument '", positional[0],
                                                   "' (flags are --name=value; see --help)"));
  }
  const int threads = absl::GetFlag(FLAGS_threads);
  if (threads < 0) return absl::InvalidArgumentError(absl::StrCat("--threads must be >= 0, found ", threads));
  if (threads > 0) omp_set_num_threads(threads);
  std::string model = absl::GetFlag(FLAGS_model);
  // A network from a file is recorded by its absolute path, so that its checkpoints find it.
  if (absl::EndsWith(model, ".onnx")) model = std::filesystem::absolute(ResolveUserPath(model)).string();
  if (model.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--model is required; registered models: ",
                                                   absl::StrJoin(models::ModelNames(), ", ")));
  }
  DLF_ASSIGN_OR_RETURN(const models::ModelSpec* found, models::FindModel(model));
  if (found->task == models::TaskKind::kLanguageModel) return SetUpLanguageModel(*found, comm, d, c);
  DLF_ASSIGN_OR_RETURN(const models::ModelSpec resolved,
                       ResolveInputShape(*found, absl::GetFlag(FLAGS_input_shape), absl::GetFlag(FLAGS_train_crop_size)));
  const models::ModelSpec* spec = &resolved;
  DLF_ASSIGN_OR_RETURN(c, ConfigFromFlags(*spec));  // before reading any data
  c.comm = &comm;
  DLF_ASSIGN_OR_RETURN(d, LoadData(*spec, c.run.EvalShape(), comm.is_root()));
  if (d.fell_back && !FlagGiven("epochs") && !c.lr_finder.enabled) c.epochs = 1;  // the short run promised above
  c.run.dataset = d.name;
  c.run.class_names = d.train.class_names;
  c.model_options.num_classes = d.train.num_classes;
  const data::Normalization norm = d.name == spec->default_dataset
                                       ? data::Normalization{spec->mean, spec->std}
                                       : MeasureNormalization(d.train);
  c.run.mean = norm.mean;
  c.run.std = norm.std;
  c.out_dir = OutDir(*spec, d.name);
  if (comm.is_root() && !c.out_dir.empty()) {
    // A resumed run must train the same model on the same data.
    DLF_RETURN_IF_ERROR(RecordRunConfig(c.out_dir, c.resume && !c.lr_finder.enabled,
                                        {"model", "input_shape", "lrn", "init", "dataset", "data_dir"}));
  }
  return Trainer::Create(c, &d.train, c.lr_finder.enabled ? nullptr : &d.test);
}

absl::Status Train(const std::vector<std::string>& positional) {
  DLF_ASSIGN_OR_RETURN(std::unique_ptr<Communicator> comm,
                       Communicator::Create(absl::GetFlag(FLAGS_collective_timeout_s)));
  Data d;
  TrainConfig c;
  absl::StatusOr<std::unique_ptr<Trainer>> created = SetUp(positional, *comm, d, c);
  DLF_RETURN_IF_ERROR(comm->Agree(created.status()));
  std::unique_ptr<Trainer> trainer = *std::move(created);
  if (comm->is_root()) {
    absl::PrintF("model %s: %.2f M parameters | train %s | %s %s\n", c.run.model,
                 models::CountParameters(trainer->graph()) / 1e6, d.train.description,
                 trainer->task().eval_split(), d.test.description);
    const std::string length = c.lr_finder.enabled
        ? absl::StrFormat("LR range test from lr %g to %g over %d steps", c.lr_finder.start, c.lr_finder.end, c.lr_finder.steps)
        : trainer->task().step_based()
            ? absl::StrCat(c.max_steps, " steps (evaluated every ", c.eval_interval, "), ", DescribeTraining(c))
            : absl::StrCat(c.epochs, " epochs, ", DescribeTraining(c));
    absl::PrintF("batch %d%s, %s, %s, activations and gradients %.1f MB\n", c.batch_size,
                 c.grad_accum_steps > 1 ? absl::StrCat(" x ", c.grad_accum_steps, " accumulated per update") : "",
                 length, trainer->parallel().Describe(c), trainer->executor().stats().arena_bytes / 1e6);
    if (!trainer->freeze_summary().empty()) absl::PrintF("%s\n", trainer->freeze_summary());
    if (!c.out_dir.empty()) {
      absl::PrintF("writing %s to %s\n", c.lr_finder.enabled ? "the curve" : "checkpoints and metrics", c.out_dir);
    }
    std::fflush(stdout);
  }
  if (absl::Status s = trainer->Run(); !s.ok()) {
    // Other ranks may be waiting in a collective for this one: end them all.
    if (comm->size() > 1) comm->Abort(s);
    return s;
  }
  if (!comm->is_root() || c.lr_finder.enabled) return absl::OkStatus();
  const auto& history = trainer->history();
  if (!history.empty()) {
    // Without an evaluation (--eval_iters=0) the run ends on its training metrics.
    const std::string eval = trainer->evaluation() != nullptr ? trainer->task().eval_split() : "train";
    absl::PrintF("done: %s %s after %d %s", eval, trainer->task().Summary(history.back(), eval),
                 trainer->task().step_based() ? trainer->global_step() : static_cast<int64_t>(history.size()),
                 trainer->task().step_based() ? "steps" : "epochs");
    if (!c.out_dir.empty()) absl::PrintF(" (curves: %s/learning_curve.svg)", c.out_dir);
    absl::PrintF("\n");
  }
  return absl::OkStatus();
}

}  // namespace

int TrainMain(int argc, char** argv, const TrainDefaults& defaults) {
  absl::SetFlag(&FLAGS_model, defaults.model);
  absl::SetFlag(&FLAGS_epochs, defaults.epochs);
  absl::SetFlag(&FLAGS_lr, defaults.lr);
  absl::SetFlag(&FLAGS_lr_step_size, defaults.lr_step_size);
  const std::string usage = absl::StrCat(
      "Trains a registered model on CIFAR-10, Fashion-MNIST or generated data.\n  bazel run //models:",
      defaults.program, " -- [--flag=value ...]\n",
      "Defaults here: ", defaults.model.empty() ? "" : absl::StrCat("--model=", defaults.model, " "),
      "--epochs=", defaults.epochs, " --lr=", defaults.lr, " --lr_step_size=", defaults.lr_step_size,
      "\nModels (--model):\n", models::DescribeModels());
  return RunTool([&]() -> absl::Status {
    DLF_ASSIGN_OR_RETURN(const std::vector<std::string> positional, ParseFlags(argc, argv, usage));
    return Train(positional);
  });
}

}  // namespace dlf::training
