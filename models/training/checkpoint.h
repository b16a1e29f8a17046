#ifndef DLF_MODELS_TRAINING_CHECKPOINT_H_
#define DLF_MODELS_TRAINING_CHECKPOINT_H_

// What a checkpoint says about the run that wrote it, so that evaluation, prediction and
// resuming need nothing else: the model, the data set, the input shape, the normalization and
// the class names. Stored as safetensors metadata next to the weights.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "data/image.h"
#include "data/safetensors.h"
#include "graph/graph.h"
#include "models/models.h"
#include "models/training/name_pattern.h"

namespace dlf::training {

inline constexpr char kCheckpointFormat[] = "dlf-checkpoint-2";

struct RunInfo {
  std::string model;    // registered model name
  models::TaskKind task = models::TaskKind::kClassification;  // "task" (absent: classification)
  std::string dataset;  // "cifar10", "fashion_mnist", "synthetic"
  std::vector<int64_t> input_shape;  // [c, h, w]; a language model's [block_size]
  std::vector<float> mean, std;      // per-channel normalization of pixels in [0, 1]
  std::vector<std::string> class_names;
  models::ModelVariant model_options;  // models::ModelOptions::extra (--lrn, --init), "model_options"
  // How evaluation fits a photo (image folders, predict): the resampling filter and
  // Resize(size / crop_fraction) + CenterCrop(size).
  data::Interpolation interpolation = data::Interpolation::kBilinear;
  double crop_fraction = 0.875;
  int64_t eval_crop_size = 0;  // the evaluation's crop when not the training size (0)
  std::string version;  // dlf's version that wrote the checkpoint
  int64_t num_classes() const { return static_cast<int64_t>(class_names.size()); }
  // [c, h, w] of the images evaluation feeds.
  std::vector<int64_t> EvalShape() const {
    return eval_crop_size > 0 ? std::vector<int64_t>{input_shape[0], eval_crop_size, eval_crop_size} : input_shape;
  }
};

// Writes `info` (and the format) into safetensors metadata.
void EncodeRunInfo(const RunInfo& info, std::map<std::string, std::string>& metadata);
// Reads and checks it; errors name `path` and the key.
absl::StatusOr<RunInfo> DecodeRunInfo(const std::map<std::string, std::string>& metadata,
                                      const std::string& path);

// Whether a checkpoint of run `saved` can continue as run `now`: same model, data set, input
// shape and classes. The error names both.
absl::Status CheckSameRun(const RunInfo& saved, const RunInfo& now, const std::string& path);

// Checks that `tensors` holds every parameter and buffer of `g` with its dtype and shape and
// nothing else, as PyTorch's load_state_dict(strict=True) does (IsTrainingState tensors are
// allowed; names `skip` matches are left out on both sides). The
// error names `origin` and lists every missing, unexpected and mis-shaped name; a weight that is
// not finite is an error naming the first one.
absl::Status ValidateWeights(const Graph& g, const std::map<std::string, Tensor>& tensors,
                             const std::string& origin, const NamePattern& skip = {});

// Tensors a checkpoint holds beside the weights: training state ("optimizer/...") and the
// --model_ema weights ("ema/<name>").
bool IsTrainingState(const std::string& name);
// The EMA weights under the model's names; empty when the checkpoint has none.
std::map<std::string, Tensor> EmaWeights(const std::map<std::string, Tensor>& tensors);

// Copies `tensors` into g's parameters and buffers (those `skip` does not match); they must
// have passed ValidateWeights.
void CopyWeights(Graph& g, const std::map<std::string, Tensor>& tensors, const NamePattern& skip = {});

// Checks `tensors` (ValidateWeights) and copies them into g's parameters and buffers.
absl::Status SetWeights(Graph& g, const std::map<std::string, Tensor>& tensors,
                        const std::string& origin, const NamePattern& skip = {});

// Sets the weights a run starts from (--init_from): every parameter and buffer of `g` that
// `exclude` does not match, from either a dlf checkpoint of the same model and input shape
// (trained on any data set: fine-tuning) or a plain safetensors state_dict with PyTorch's
// names and no dlf metadata (e.g. safetensors.torch.save_file(model.state_dict(), path)).
// Checks the whole file before changing anything; returns a line saying what was loaded.
absl::StatusOr<std::string> LoadInitialWeights(Graph& g, const std::string& path,
                                               const RunInfo& run, const NamePattern& exclude);

// How errors about a checkpoint's tensors name it: its path and what its metadata says the
// tensors are ("PATH (its metadata: lenet, 10 classes, input [1, 28, 28])"), so that metadata
// disagreeing with the tensors names both sides.
std::string MetadataOrigin(const std::string& path, const RunInfo& info);

// Adds the model `info` describes to `g`, on one image [1, c, h, w] named "images"; returns
// (images, logits). An error of the registry or of the model's build.
absl::StatusOr<std::pair<Value, Value>> BuildFromMetadata(Graph& g, const RunInfo& info);

// Builds the model `info` describes and checks `tensors` against it (ValidateWeights, named by
// MetadataOrigin): metadata whose class count or input shape does not fit its tensors is an error.
absl::Status ValidateAgainstMetadata(const RunInfo& info, const std::map<std::string, Tensor>& tensors,
                                     const std::string& path);

// Reads a checkpoint and its RunInfo; the model's tied second names (ModelSpec::tied_names) are
// checked equal to the parameter they name and left out.
struct Checkpoint {
  data::TensorFile file;
  RunInfo info;
};
absl::StatusOr<Checkpoint> ReadCheckpoint(const std::string& path);

// An error naming `path`, its task and `instead` unless the checkpoint is an image classifier's
// (the tools that take images).
absl::Status ExpectClassifier(const RunInfo& info, const std::string& path, const std::string& instead);

}  // namespace dlf::training

#endif  // DLF_MODELS_TRAINING_CHECKPOINT_H_
