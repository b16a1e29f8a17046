#include "models/training/eval_main.h"

#include <omp.h>

#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "graph/status_macros.h"
#include "models/registry.h"
#include "models/training/checkpoint.h"
#include "models/training/cli.h"
#include "models/training/datasets.h"
#include "models/training/evaluator.h"

ABSL_FLAG(std::string, checkpoint, "", "a .safetensors checkpoint written by training (required)");
ABSL_FLAG(std::string, dataset, "", "cifar10 | fashion_mnist | synthetic | folder (default: the checkpoint's)");
ABSL_FLAG(std::string, data_dir, "", "the data set's directory (default: the data set's usual place)");
ABSL_FLAG(int, batch_size, 500, "images per evaluation step");
ABSL_FLAG(int, threads, 0, "OpenMP threads (0: one per core)");
ABSL_FLAG(bool, ema, false, "score the moving average of the weights a --model_ema run saved beside them");

namespace dlf::training {
namespace {

void PrintResult(const EvalResult& r, const RunInfo& info, const std::string& description) {
  absl::PrintF("%s on %s\ntest loss %.4f, accuracy %.2f%% (%d images)\n\nper-class accuracy:\n",
               info.model, description, r.loss, 100 * r.accuracy, r.count);
  const std::vector<double> per_class = r.PerClassAccuracy();
  for (size_t c = 0; c < per_class.size(); ++c) {
    absl::PrintF("  %-12s %6.2f%%\n", info.class_names[c], 100 * per_class[c]);
  }
  absl::PrintF("\nconfusion matrix (rows: true class, columns: predicted):\n     ");
  for (size_t c = 0; c < per_class.size(); ++c) absl::PrintF("%6d", c);
  absl::PrintF("\n");
  for (size_t t = 0; t < r.confusion.size(); ++t) {
    absl::PrintF("%4d ", t);
    for (int64_t v : r.confusion[t]) absl::PrintF("%6d", v);
    absl::PrintF("\n");
  }
}

absl::Status Evaluate(const std::vector<std::string>& positional) {
  if (!positional.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("unexpected argument '", positional[0],
                                                   "' (the checkpoint goes in --checkpoint)"));
  }
  const int threads = absl::GetFlag(FLAGS_threads), batch = absl::GetFlag(FLAGS_batch_size);
  if (threads < 0) return absl::InvalidArgumentError(absl::StrCat("--threads must be >= 0, found ", threads));
  if (threads > 0) omp_set_num_threads(threads);
  if (batch <= 0) return absl::InvalidArgumentError(absl::StrCat("--batch_size must be > 0, found ", batch));
  const std::string path = ResolveUserPath(absl::GetFlag(FLAGS_checkpoint));
  if (path.empty()) return absl::InvalidArgumentError("--checkpoint is required (see --help)");
  DLF_ASSIGN_OR_RETURN(const Checkpoint checkpoint, ReadCheckpoint(path));
  const RunInfo& info = checkpoint.info;
  DLF_RETURN_IF_ERROR(ExpectClassifier(info, path, "its validation loss is in its run's metrics.csv (val_loss)"));
  DLF_ASSIGN_OR_RETURN(const models::ModelSpec* spec, models::FindModel(info.model));

  // The weights first: metadata that disagrees with them is refused before any data is read.
  models::ModelOptions options;
  options.num_classes = info.num_classes();
  options.extra = info.model_options;
  DLF_ASSIGN_OR_RETURN(const bool bf16, Bf16FromFlags());
  Evaluator evaluator(spec->build, options, info.EvalShape(), batch, {info.mean, info.std}, bf16);
  data::Augmentation transform;  // how a folder's photos are fitted, as in training
  transform.interpolation = info.interpolation;
  transform.crop_fraction = info.crop_fraction;
  evaluator.set_transform(transform);
  if (absl::GetFlag(FLAGS_ema)) {
    const std::map<std::string, Tensor> ema = EmaWeights(checkpoint.file.tensors);
    if (ema.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": no EMA weights (ema/...): train with --model_ema"));
    DLF_RETURN_IF_ERROR(evaluator.LoadWeights(ema, absl::StrCat(MetadataOrigin(path, info), " (EMA weights)")));
    absl::PrintF("the EMA weights of %s\n", path);
  } else {
    DLF_RETURN_IF_ERROR(evaluator.LoadWeights(checkpoint.file.tensors, MetadataOrigin(path, info)));
  }
  const std::string dataset = FlagGiven("dataset") ? absl::GetFlag(FLAGS_dataset) : info.dataset;
  DLF_RETURN_IF_ERROR(CheckDatasetName(dataset));
  if (dataset == "folder" && !FlagGiven("data_dir")) {
    return absl::InvalidArgumentError("--dataset=folder needs --data_dir (a folder of class folders, or ROOT with ROOT/val)");
  }
  const std::string dir = ResolveUserPath(FlagGiven("data_dir") ? absl::GetFlag(FLAGS_data_dir)
                                                                : DefaultDataDir(dataset));
  DLF_ASSIGN_OR_RETURN(const data::Dataset test, LoadSplit(dataset, dir, false, info.EvalShape()));
  if (dataset == "folder" && test.class_names != info.class_names) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": the model's classes are ", absl::StrJoin(info.class_names, ", "), "; the folder's are ",
        absl::StrJoin(test.class_names, ", "), " (class folders must be named as the classes, in the same order)"));
  }
  if (test.num_classes != info.num_classes()) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": the model was trained on ", info.num_classes(), " classes (", info.dataset,
        "), but ", dataset, " has ", test.num_classes));
  }
  if (dataset != info.dataset) {
    absl::PrintF("note: the model was trained on %s; evaluating on %s\n", info.dataset, dataset);
  }
  DLF_ASSIGN_OR_RETURN(const EvalResult r, evaluator.Evaluate(test));
  PrintResult(r, info, test.description);
  return absl::OkStatus();
}

}  // namespace

int EvalMain(int argc, char** argv) {
  return RunTool([&]() -> absl::Status {
    DLF_ASSIGN_OR_RETURN(const std::vector<std::string> positional,
                         ParseFlags(argc, argv,
                                    "Evaluates a training checkpoint on its data set's test split.\n"
                                    "  bazel run //models:evaluate -- --checkpoint=PATH"));
    return Evaluate(positional);
  });
}

}  // namespace dlf::training
