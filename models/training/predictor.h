#ifndef DLF_MODELS_TRAINING_PREDICTOR_H_
#define DLF_MODELS_TRAINING_PREDICTOR_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "data/image.h"
#include "models/training/checkpoint.h"
#include "models/training/evaluator.h"

namespace dlf::training {

struct Prediction {
  std::vector<float> logits;         // one per class
  std::vector<float> probabilities;  // softmax of the logits
  // The k most probable classes, most probable first.
  std::vector<int> TopK(int k) const;
};

// Classifies images with a checkpoint's model, preprocessing each as the training data was
// (data::FitImage): channels converted; a larger image resized (bilinear) and center-cropped to
// the model's input, a smaller one zero-padded (as Fashion-MNIST's 28x28 were for 32x32
// models); then normalized as the checkpoint says.
class Predictor {
 public:
  static absl::StatusOr<std::unique_ptr<Predictor>> Load(const std::string& checkpoint_path,
                                                          bool bf16 = false);

  // The image fitted to the model's input, planar u8 [c, h, w] (what Predict feeds the model).
  absl::StatusOr<std::vector<uint8_t>> Preprocess(const data::Image& image) const;
  absl::StatusOr<std::vector<Prediction>> Predict(const std::vector<data::Image>& images);

  const RunInfo& info() const { return info_; }

 private:
  Predictor(RunInfo info, std::unique_ptr<Evaluator> evaluator)
      : info_(std::move(info)), evaluator_(std::move(evaluator)) {}

  RunInfo info_;
  std::unique_ptr<Evaluator> evaluator_;
};

}  // namespace dlf::training

#endif  // DLF_MODELS_TRAINING_PREDICTOR_H_
