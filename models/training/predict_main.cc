#include "models/training/predict_main.h"

#include <omp.h>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "graph/status_macros.h"
#include "models/training/cli.h"
#include "models/training/predictor.h"

ABSL_FLAG(std::string, checkpoint, "", "a .safetensors checkpoint written by training (required)");
ABSL_FLAG(int, top_k, 5, "how many classes to print per image");
ABSL_FLAG(int, threads, 0, "OpenMP threads (0: one per core)");

namespace dlf::training {
namespace {

absl::Status Predict(const std::vector<std::string>& args) {
  const int threads = absl::GetFlag(FLAGS_threads), top_k = absl::GetFlag(FLAGS_top_k);
  if (threads < 0) return absl::InvalidArgumentError(absl::StrCat("--threads must be >= 0, found ", threads));
  if (threads > 0) omp_set_num_threads(threads);
  if (top_k <= 0) return absl::InvalidArgumentError(absl::StrCat("--top_k must be > 0, found ", top_k));
  const std::string path = ResolveUserPath(absl::GetFlag(FLAGS_checkpoint));
  if (path.empty()) return absl::InvalidArgumentError("--checkpoint is required (see --help)");
  if (args.empty()) return absl::InvalidArgumentError("no image given: predict --checkpoint=PATH IMAGE...");
  DLF_ASSIGN_OR_RETURN(const bool bf16, Bf16FromFlags());
  DLF_ASSIGN_OR_RETURN(std::unique_ptr<Predictor> predictor, Predictor::Load(path, bf16));
  // Every image is decoded before the model is run, so a bad one fails the command early.
  std::vector<data::Image> images;
  for (const std::string& arg : args) {
    DLF_ASSIGN_OR_RETURN(data::Image image, data::ReadImage(ResolveUserPath(arg)));
    images.push_back(std::move(image));
  }
  DLF_ASSIGN_OR_RETURN(const std::vector<Prediction> predictions, predictor->Predict(images));
  const RunInfo& info = predictor->info();
  for (size_t i = 0; i < args.size(); ++i) {
    absl::PrintF("%s (%dx%d):\n", args[i], images[i].width, images[i].height);
    for (int c : predictions[i].TopK(top_k)) {
      absl::PrintF("  %6.2f%%  %s\n", 100 * predictions[i].probabilities[c], info.class_names[c]);
    }
  }
  return absl::OkStatus();
}

}  // namespace

int PredictMain(int argc, char** argv) {
  return RunTool([&]() -> absl::Status {
    DLF_ASSIGN_OR_RETURN(
        const std::vector<std::string> images,
        ParseFlags(argc, argv,
                   "Prints the most probable classes of PNG, JPEG or BMP images with a trained model.\n"
                   "  bazel run //models:predict -- --checkpoint=PATH IMAGE..."));
    return Predict(images);
  });
}

}  // namespace dlf::training
