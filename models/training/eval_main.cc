#include "models/training/eval_main.h"

#include <omp.h>

#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "graph/status_macros.h"
#include "data/text.h"
#include "models/registry.h"
#include "models/training/checkpoint.h"
#include "models/training/cli.h"
#include "models/training/datasets.h"
#include "models/training/evaluator.h"
#include "models/training/language_model.h"

ABSL_FLAG(std::string, checkpoint, "", "a .safetensors checkpoint written by training (required)");
ABSL_FLAG(std::string, dataset, "", "cifar10 | fashion_mnist | synthetic | folder (default: the checkpoint's)");
ABSL_FLAG(std::string, data_dir, "", "the data set's directory (default: the data set's usual place)");
ABSL_FLAG(int, batch_size, 500, "images (language models: windows of block_size tokens) per evaluation step");
ABSL_FLAG(std::string, data_file, "",
          "language models: the text to score, its last 10% (default: the file the checkpoint trained on)");
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

using NamedTensors = std::map<std::string, Tensor>;

// The checkpoint's weights, or with --ema the moving average saved beside them (into `ema`);
// `origin` says which.
absl::StatusOr<const NamedTensors*> WeightsToScore(const Checkpoint& checkpoint, const std::string& path,
                                                   NamedTensors& ema, std::string& origin) {
  origin = MetadataOrigin(path, checkpoint.info);
  if (!absl::GetFlag(FLAGS_ema)) return &checkpoint.file.tensors;
  ema = EmaWeights(checkpoint.file.tensors);
  if (ema.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": no EMA weights (ema/...): train with --model_ema"));
  absl::PrintF("the EMA weights of %s\n", path);
  absl::StrAppend(&origin, " (EMA weights)");
  return &ema;
}

// A language model: the loss over every window of the text's validation split, tokenized in the
// checkpoint's vocabulary.
absl::Status EvaluateLanguageModel(const Checkpoint& checkpoint, const std::string& path, int batch) {
  const RunInfo& info = checkpoint.info;
  if (FlagGiven("dataset") && absl::GetFlag(FLAGS_dataset) != "text") {
    return absl::InvalidArgumentError(absl::StrCat(path, " is a language model's checkpoint: it evaluates on a text "
                                                   "(--data_file=FILE), found --dataset=", absl::GetFlag(FLAGS_dataset)));
  }
  if (FlagGiven("data_dir")) return absl::InvalidArgumentError("--data_dir is an image flag: a language model reads --data_file");
  DLF_ASSIGN_OR_RETURN(const GptCheckpointMetadata metadata, ReadGptMetadata(checkpoint.file.metadata, path));
  const models::GptConfig& gpt = metadata.config;
  const data::Vocabulary& vocabulary = metadata.vocabulary;
  DLF_ASSIGN_OR_RETURN(const models::ModelSpec* spec, models::FindModel(info.model));
  TrainConfig config = ConfigForModel(*spec, "text", static_cast<int>(gpt.vocab_size));
  config.model_options = models::GptModelOptions(gpt);
  config.run.input_shape = {gpt.block_size};
  DLF_ASSIGN_OR_RETURN(config.bf16, Bf16FromFlags());

  // The weights first: metadata that disagrees with them is refused before the text is read.
  std::string origin;
  NamedTensors ema;
  DLF_ASSIGN_OR_RETURN(const NamedTensors* weights, WeightsToScore(checkpoint, path, ema, origin));
  data::TextData text;  // the evaluation keeps a pointer to its validation tokens
  std::unique_ptr<TaskEvaluation> evaluation = WholeTextEvaluation(config, &text.validation, batch);
  DLF_RETURN_IF_ERROR(evaluation->LoadWeights(*weights, absl::StrCat(origin, " (its gpt/config: ", metadata.config_record, ")")));

  std::string file = ResolveUserPath(absl::GetFlag(FLAGS_data_file));
  if (file.empty()) {
    const auto recorded = checkpoint.file.metadata.find(data::kTextFileMetadata);
    if (recorded == checkpoint.file.metadata.end()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": no '", data::kTextFileMetadata,
                                                     "' in its metadata: give the text with --data_file"));
    }
    file = recorded->second;
  }
  DLF_ASSIGN_OR_RETURN(text, data::LoadTextIn(file, vocabulary, gpt.block_size));
  DLF_ASSIGN_OR_RETURN(const std::vector<double> totals, evaluation->ShareSums(0, 1));
  EpochMetrics metrics;
  evaluation->AddMetrics(totals, "val", metrics);
  const int64_t tokens = static_cast<int64_t>(totals[1]);
  absl::PrintF("%s on %s: the last 10%%, %d windows of %d tokens\n", info.model, text.description,
               tokens / gpt.block_size, gpt.block_size);
  absl::PrintF("val loss %.6f, perplexity %.4f, %.5f bits per %s (%d tokens)\n", metrics.Get("val_loss"),
               metrics.Get("val_perplexity"), metrics.Get("val_bpc"),
               vocabulary.tokenizer() == data::Tokenizer::kByte ? "byte" : "character", tokens);
  return absl::OkStatus();
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
  if (info.task == models::TaskKind::kLanguageModel) return EvaluateLanguageModel(checkpoint, path, batch);
  if (FlagGiven("data_file")) return absl::InvalidArgumentError("--data_file is a language model's flag: an image classifier reads --dataset and --data_dir");
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
  std::string origin;
  NamedTensors ema;
  DLF_ASSIGN_OR_RETURN(const NamedTensors* weights, WeightsToScore(checkpoint, path, ema, origin));
  DLF_RETURN_IF_ERROR(evaluator.LoadWeights(*weights, origin));
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
                                    "Evaluates a training checkpoint on its data set's test split (a language model: on every\n"
                                    "window of its text's last 10%).\n"
                                    "  bazel run //models:evaluate -- --checkpoint=PATH"));
    return Evaluate(positional);
  });
}

}  // namespace dlf::training
