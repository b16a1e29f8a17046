#include "models/train_main.h"

#include <omp.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "data/idx.h"
#include "models/data_sources.h"
#include "models/layers.h"
#include "models/trainer.h"

ABSL_FLAG(std::string, data_dir, "datasets/cifar-10-batches-bin",
          "CIFAR-10 binary directory (data_batch_*.bin, test_batch.bin), or the Fashion-MNIST "
          "directory for --dataset=fashion_mnist (default there: /usr/share/datasets/fashion-mnist)");
ABSL_FLAG(std::string, dataset, "cifar10",
          "cifar10 | fashion_mnist | synthetic. When CIFAR-10 is not found and --dataset was not "
          "given, a short Fashion-MNIST run is made instead");
ABSL_FLAG(std::string, model, "seed", "seed | cifar (AlexNet presets) | lenet");
ABSL_FLAG(int, epochs, 90, "epochs to train");
ABSL_FLAG(int, batch_size, 128, "images per step");
ABSL_FLAG(double, lr, 0.01, "base learning rate");
ABSL_FLAG(double, momentum, 0.9, "SGD momentum (PyTorch convention)");
ABSL_FLAG(bool, nesterov, false, "Nesterov momentum");
ABSL_FLAG(double, weight_decay, 0.0, "L2 weight decay (biases exempt)");
ABSL_FLAG(int, lr_step_size, 30, "multiply the learning rate by --lr_gamma every this many epochs");
ABSL_FLAG(double, lr_gamma, 0.1, "learning-rate decay factor");
ABSL_FLAG(double, clip_norm, 0.0, "clip gradients to this global L2 norm (0: off)");
ABSL_FLAG(double, dropout, 0.5, "dropout rate of the classifier");
ABSL_FLAG(bool, lrn, false, "AlexNet: local response normalization after conv1 and conv2");
ABSL_FLAG(bool, augment, false, "random crop (pad 4) and horizontal flip");
ABSL_FLAG(bool, shuffle, true, "reshuffle the training set every epoch");
ABSL_FLAG(int, seed, 1, "seed of initialization, shuffling, augmentation and dropout");
ABSL_FLAG(int, threads, 0, "OpenMP threads (0: one per core)");
ABSL_FLAG(std::string, checkpoint_dir, "runs/<model>",
          "where checkpoints, metrics.csv and learning_curve.svg go (empty: nowhere)");
ABSL_FLAG(bool, resume, false, "continue from <checkpoint_dir>/last.safetensors if it exists");
ABSL_FLAG(std::string, init_from, "", "start from this checkpoint's weights");
ABSL_FLAG(int, max_steps, 0, "stop after this many steps (0: no limit), for smoke runs");
ABSL_FLAG(int, checkpoint_every, 0, "also checkpoint every N steps (0: at epoch ends only)");
ABSL_FLAG(int, eval_batch_size, 500, "images per evaluation step");
ABSL_FLAG(bool, skip_nonfinite, false,
          "skip (do not apply) a step whose loss or gradients are NaN or infinite, instead of "
          "stopping with an error naming the step and the tensor");
ABSL_FLAG(bool, log_step_losses, false, "print every step's loss as `step N loss X`");

namespace dlf::models {
namespace {

// Whether --flag (or -flag, --flag=..., --noflag) was typed; this Abseil keeps the flag's own
// record of it private.
std::vector<std::string> g_args;
bool Given(const std::string& flag) {
  for (const std::string& a : g_args) {
    const std::string bare = a.substr(a.find_first_not_of('-') == std::string::npos ? 0 : a.find_first_not_of('-'));
    if (bare == flag || bare.rfind(flag + "=", 0) == 0 || bare == "no" + flag) return true;
  }
  return false;
}

}  // namespace

int TrainMain(int argc, char** argv, const TrainDefaults& defaults) {
  absl::SetFlag(&FLAGS_model, defaults.model);
  absl::SetFlag(&FLAGS_dataset, defaults.dataset);
  absl::SetFlag(&FLAGS_epochs, defaults.epochs);
  absl::SetFlag(&FLAGS_lr, defaults.lr);
  absl::SetFlag(&FLAGS_lr_step_size, defaults.lr_step_size);
  absl::SetProgramUsageMessage(absl::StrCat(
      "Trains a model with SGD on CIFAR-10, Fashion-MNIST or generated data.\n  bazel run //models:",
      defaults.program, " -- [--flag=value ...]\nDefaults here: --model=", defaults.model,
      " --dataset=", defaults.dataset, " --epochs=", defaults.epochs, " --lr=", defaults.lr,
      " --lr_step_size=", defaults.lr_step_size));
  // Abseil's --help lists the flags of the file named like the program; ours live here.
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [](absl::string_view file) {
    return absl::StrContains(file, "models/train_main.cc");
  };
  usage.contains_helpshort_flags = usage.contains_help_flags;
  absl::SetFlagsUsageConfig(usage);
  g_args.assign(argv + 1, argv + argc);
  absl::ParseCommandLine(argc, argv);
  auto fail = [](const absl::Status& s) {
    std::fprintf(stderr, "error: %s\n", std::string(s.message()).c_str());
    return 1;
  };
  if (absl::GetFlag(FLAGS_threads) < 0) return fail(absl::InvalidArgumentError("--threads must be >= 0"));
  if (absl::GetFlag(FLAGS_threads) > 0) omp_set_num_threads(absl::GetFlag(FLAGS_threads));

  const std::string model = absl::GetFlag(FLAGS_model);
  absl::StatusOr<ModelFn> build = ModelByName(model);
  if (!build.ok()) return fail(build.status());
  const bool lenet = model == "lenet";
  const int64_t size = lenet ? 28 : 32, channels = lenet ? 1 : 3;

  TrainConfig c;
  c.model_name = lenet ? "lenet" : "alexnet-" + model;
  c.build = *build;
  c.model_options.dropout = absl::GetFlag(FLAGS_dropout);
  c.model_options.lrn = absl::GetFlag(FLAGS_lrn);
  c.batch_size = absl::GetFlag(FLAGS_batch_size);
  c.epochs = absl::GetFlag(FLAGS_epochs);
  c.lr = absl::GetFlag(FLAGS_lr);
  c.momentum = absl::GetFlag(FLAGS_momentum);
  c.nesterov = absl::GetFlag(FLAGS_nesterov);
  c.weight_decay = absl::GetFlag(FLAGS_weight_decay);
  c.lr_step_size = absl::GetFlag(FLAGS_lr_step_size);
  c.lr_gamma = absl::GetFlag(FLAGS_lr_gamma);
  c.clip_norm = absl::GetFlag(FLAGS_clip_norm);
  c.augment = absl::GetFlag(FLAGS_augment);
  c.shuffle = absl::GetFlag(FLAGS_shuffle);
  c.seed = static_cast<uint64_t>(absl::GetFlag(FLAGS_seed));
  c.resume = absl::GetFlag(FLAGS_resume);
  c.init_from = ResolveUserPath(absl::GetFlag(FLAGS_init_from));
  c.max_steps = absl::GetFlag(FLAGS_max_steps);
  c.checkpoint_every = absl::GetFlag(FLAGS_checkpoint_every);
  c.eval_batch_size = absl::GetFlag(FLAGS_eval_batch_size);
  c.skip_nonfinite = absl::GetFlag(FLAGS_skip_nonfinite);
  c.log_step_losses = absl::GetFlag(FLAGS_log_step_losses);
  // Bad settings are reported before the data set is read.
  if (absl::Status s = ValidateTrainConfig(c); !s.ok()) return fail(s);

  std::string dataset = absl::GetFlag(FLAGS_dataset);
  std::string data_dir = absl::GetFlag(FLAGS_data_dir);
  if (dataset == "fashion_mnist" && !Given("data_dir")) data_dir = data::kFashionMnistDir;
  absl::StatusOr<DataSplits> splits =
      LoadDataset(dataset, ResolveUserPath(data_dir), Given("dataset"), size, channels, true);
  if (!splits.ok()) return fail(splits.status());

  c.model_options.num_classes = splits->train.num_classes;
  const bool fell_back = dataset == "cifar10" && splits->name != "cifar10";
  if (fell_back && !Given("epochs")) c.epochs = 1;  // the short run promised above
  const bool cifar = splits->name == "cifar10";
  c.normalization = cifar ? data::Normalization::ImageNet()
                          : splits->name == "fashion_mnist" ? data::Normalization::FashionMnist()
                                                            : data::Normalization{{0.5f}, {0.25f}};
  std::string out = absl::GetFlag(FLAGS_checkpoint_dir);
  if (out == "runs/<model>") out = "runs/" + c.model_name + "-" + splits->name;
  c.out_dir = ResolveUserPath(out);

  absl::StatusOr<std::unique_ptr<Trainer>> trainer = Trainer::Create(c, &splits->train, &splits->test);
  if (!trainer.ok()) return fail(trainer.status());
  const PlanStats& plan = (*trainer)->executor().stats();
  std::printf("model %s: %.2f M parameters | train %s | test %s\n", c.model_name.c_str(),
              CountParameters((*trainer)->graph()) / 1e6, splits->train.description.c_str(),
              splits->test.description.c_str());
  std::printf("batch %lld, %d epochs, lr %g (x%g every %lld epochs), momentum %g%s, %d threads, "
              "activation memory %.1f MB\n",
              static_cast<long long>(c.batch_size), static_cast<int>(c.epochs), c.lr, c.lr_gamma,
              static_cast<long long>(c.lr_step_size), c.momentum, c.nesterov ? " (Nesterov)" : "",
              omp_get_max_threads(), plan.arena_bytes / 1e6);
  if (!c.out_dir.empty()) std::printf("writing checkpoints and metrics to %s\n", c.out_dir.c_str());
  std::fflush(stdout);
  if (absl::Status s = (*trainer)->Run(); !s.ok()) return fail(s);
  const auto& history = (*trainer)->history();
  if (!history.empty()) {
    std::printf("done: test accuracy %.2f%% after %d epochs", 100 * history.back().test_accuracy,
                static_cast<int>(history.size()));
    if (!c.out_dir.empty()) std::printf(" (curves: %s/learning_curve.svg)", c.out_dir.c_str());
    std::printf("\n");
  }
  return 0;
}

}  // namespace dlf::models
