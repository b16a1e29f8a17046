// Evaluates a checkpoint: test accuracy, per-class accuracy and the confusion matrix.
//   bazel run //models:alexnet_eval -- --checkpoint=runs/.../best.safetensors [--data_dir=...]
#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "data/transforms.h"
#include "models/evaluator.h"
#include "models/safetensors.h"
#include "models/data_sources.h"

ABSL_FLAG(std::string, checkpoint, "", "a .safetensors checkpoint written by training (required)");
ABSL_FLAG(std::string, data_dir, "datasets/cifar-10-batches-bin", "the data set's directory");
ABSL_FLAG(std::string, dataset, "", "cifar10 | fashion_mnist | synthetic (default: as trained)");
ABSL_FLAG(std::string, model, "", "seed | cifar | lenet (default: read from the checkpoint)");
ABSL_FLAG(int, batch_size, 500, "images per evaluation step");

namespace dlf::models {
namespace {

absl::Status Run() {
  const std::string path = ResolveUserPath(absl::GetFlag(FLAGS_checkpoint));
  if (path.empty()) return absl::InvalidArgumentError("--checkpoint is required (see --help)");
  absl::StatusOr<TensorFile> file = ReadSafetensors(path);
  if (!file.ok()) return file.status();
  std::string model = absl::GetFlag(FLAGS_model);
  const std::string saved = file->metadata.count("model") ? file->metadata["model"] : "";
  if (model.empty()) {
    if (saved.empty()) return absl::InvalidArgumentError(path + ": no model recorded; pass --model");
    model = absl::StartsWith(saved, "alexnet-") ? saved.substr(8) : saved;
  }
  absl::StatusOr<ModelFn> build = ModelByName(model);
  if (!build.ok()) return build.status();
  const bool lenet = model == "lenet";
  std::string dataset = absl::GetFlag(FLAGS_dataset);
  std::string data_dir = absl::GetFlag(FLAGS_data_dir);
  if (dataset.empty()) dataset = lenet ? "fashion_mnist" : "cifar10";
  if (dataset == "fashion_mnist" && data_dir == "datasets/cifar-10-batches-bin") {
    data_dir = "/usr/share/datasets/fashion-mnist";
  }
  absl::StatusOr<DataSplits> splits = LoadDataset(dataset, ResolveUserPath(data_dir), true,
                                                  lenet ? 28 : 32, lenet ? 1 : 3, false);
  if (!splits.ok()) return splits.status();
  const data::Dataset& test = splits->test;
  ModelOptions options;
  options.num_classes = test.num_classes;
  const data::Normalization norm = dataset == "cifar10" ? data::Normalization::ImageNet()
                                   : dataset == "fashion_mnist" ? data::Normalization::FashionMnist()
                                                                : data::Normalization{{0.5f}, {0.25f}};
  Evaluator evaluator(*build, options, {test.channels(), test.height(), test.width()},
                      absl::GetFlag(FLAGS_batch_size), norm);
  if (absl::Status s = evaluator.LoadWeights(file->tensors, path); !s.ok()) return s;
  absl::StatusOr<EvalResult> r = evaluator.Evaluate(test);
  if (!r.ok()) return r.status();
  std::printf("%s on %s\ntest loss %.4f, accuracy %.2f%% (%lld images)\n\nper-class accuracy:\n",
              model.c_str(), test.description.c_str(), r->loss, 100 * r->accuracy,
              static_cast<long long>(r->count));
  const std::vector<double> per_class = r->PerClassAccuracy();
  for (size_t c = 0; c < per_class.size(); ++c) {
    const std::string name = c < test.class_names.size() ? test.class_names[c] : std::to_string(c);
    std::printf("  %-12s %6.2f%%\n", name.c_str(), 100 * per_class[c]);
  }
  std::printf("\nconfusion matrix (rows: true class, columns: predicted):\n     ");
  for (size_t c = 0; c < per_class.size(); ++c) std::printf("%6zu", c);
  std::printf("\n");
  for (size_t t = 0; t < r->confusion.size(); ++t) {
    std::printf("%4zu ", t);
    for (int64_t v : r->confusion[t]) std::printf("%6lld", static_cast<long long>(v));
    std::printf("\n");
  }
  return absl::OkStatus();
}

}  // namespace
}  // namespace dlf::models

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("Evaluates a training checkpoint on a test set.");
  absl::ParseCommandLine(argc, argv);
  absl::Status s = dlf::models::Run();
  if (!s.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  return 0;
}
