#ifndef DLF_MODELS_REGISTRY_H_
#define DLF_MODELS_REGISTRY_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "models/models.h"

namespace dlf::models {

// Everything the tools (train, evaluate, predict) need to know about a model besides its
// graph. Each model registers one spec in its own file (DLF_REGISTER_MODEL).
struct ModelSpec {
  std::string name;                  // --model value and the name checkpoints record
  std::vector<std::string> aliases;  // other accepted --model values (e.g. "seed")
  std::string description;           // one line for --help
  ModelFn build;
  TaskKind task = TaskKind::kClassification;  // the task the model serves
  std::vector<std::string> options;  // the ModelOptions::extra names this model reads
  std::vector<int64_t> input_shape;  // [channels, height, width] of one image
  std::string default_dataset;       // "cifar10", "fashion_mnist"
  // Per-channel normalization of the pixels in [0, 1], for the default dataset.
  std::vector<float> mean, std;
  double dropout = 0.5;  // the classifier's dropout rate unless --dropout says otherwise
  int64_t parameters = 0;  // with 10 classes; models_test checks it against the built graph
  // Second names checkpoints give a parameter, second name -> parameter (nanoGPT's state_dict
  // holds the tied head as lm_head.weight beside transformer.wte.weight): written beside it so
  // that PyTorch's load_state_dict(strict=True) takes the file, and checked equal and dropped on
  // reading.
  std::map<std::string, std::string> tied_names;
};

// CIFAR-10's per-channel statistics (its training set), the normalization of the models whose
// default data set it is.
inline const std::vector<float> kCifar10Mean = {0.4914f, 0.4822f, 0.4465f};
inline const std::vector<float> kCifar10Std = {0.2470f, 0.2435f, 0.2616f};
// ImageNet's, which torchvision's pretrained models and reference scripts use.
inline const std::vector<float> kImageNetMean = {0.485f, 0.456f, 0.406f};
inline const std::vector<float> kImageNetStd = {0.229f, 0.224f, 0.225f};

// A model in torchvision's form: 3x224x224 (any size where its pooling is global), ImageNet's
// normalization, the "folder" data set by default; the description gets ", ImageNet
// normalization".
ModelSpec ImageNetModel(std::string name, std::string description, ModelFn build, int64_t parameters,
                        double dropout = 0.5);

// A task's name in checkpoints and messages ("classification", "language_model"), and back
// (an unknown name is an error listing the known ones).
const char* TaskName(TaskKind task);
absl::StatusOr<TaskKind> ParseTaskName(const std::string& name);

// A ModelVariant by option name ({"init": "he", "lrn": "true"}; an option at its default is
// left out), and back: an unknown name or value is an error naming it.
std::map<std::string, std::string> ModelVariantRecord(const ModelVariant& variant);
absl::StatusOr<ModelVariant> ParseModelVariantRecord(const std::map<std::string, std::string>& record);
// "he" or "torch" (--init; an error lists them).
absl::StatusOr<InitScheme> ParseInitScheme(const std::string& name);

// Fails on an empty or duplicate name or alias, a builder missing, or a bad shape.
absl::Status RegisterModel(ModelSpec spec);
// For static registration: aborts on a programming error (duplicate name) at startup.
bool RegisterModelOrDie(ModelSpec spec);

// Models defined by a file (a path ending in `extension`, e.g. ".onnx"): the library that reads
// such files registers a loader, and FindModel loads each file once and keeps its spec.
using ModelFileLoader = std::function<absl::StatusOr<ModelSpec>(const std::string& path)>;
bool RegisterModelFileLoader(const std::string& extension, ModelFileLoader loader);

// By name or alias, or by the path of a model file; the error lists every registered model.
absl::StatusOr<const ModelSpec*> FindModel(const std::string& name);
// All specs, sorted by name, and their names.
std::vector<const ModelSpec*> RegisteredModels();
std::vector<std::string> ModelNames();
// One line per model: name, aliases, input shape, parameters, default dataset, description.
std::string DescribeModels();

}  // namespace dlf::models

#define DLF_REGISTER_MODEL_CONCAT_INNER(a, b) a##b
#define DLF_REGISTER_MODEL_CONCAT(a, b) DLF_REGISTER_MODEL_CONCAT_INNER(a, b)
#define DLF_REGISTER_MODEL(...)                                                 \
  [[maybe_unused]] static const bool DLF_REGISTER_MODEL_CONCAT(                 \
      dlf_model_registered_, __COUNTER__) = ::dlf::models::RegisterModelOrDie(__VA_ARGS__)

#endif  // DLF_MODELS_REGISTRY_H_
