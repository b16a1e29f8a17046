#include "models/training/predictor.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "data/image_transforms.h"
#include "graph/status_macros.h"
#include "models/registry.h"

namespace dlf::training {
namespace {

constexpr int64_t kBatch = 16;

std::vector<float> Softmax(const std::vector<float>& logits) {
  const float m = *std::max_element(logits.begin(), logits.end());
  std::vector<float> p(logits.size());
  double sum = 0;
  for (size_t j = 0; j < logits.size(); ++j) sum += p[j] = std::exp(logits[j] - m);
  for (float& v : p) v = static_cast<float>(v / sum);
  return p;
}

}  // namespace

std::vector<int> Prediction::TopK(int k) const {
  std::vector<int> order(probabilities.size());
  std::iota(order.begin(), order.end(), 0);
  k = std::min<int>(k, static_cast<int>(order.size()));
  std::partial_sort(order.begin(), order.begin() + k, order.end(),
                    [&](int a, int b) { return probabilities[a] > probabilities[b]; });
  order.resize(k);
  return order;
}

absl::StatusOr<std::unique_ptr<Predictor>> Predictor::Load(const std::string& path, bool bf16) {
  DLF_ASSIGN_OR_RETURN(Checkpoint checkpoint, ReadCheckpoint(path));
  DLF_RETURN_IF_ERROR(ExpectClassifier(checkpoint.info, path, "//models:generate samples text from it"));
  DLF_ASSIGN_OR_RETURN(const models::ModelSpec* spec, models::FindModel(checkpoint.info.model));
  models::ModelOptions options;
  options.num_classes = checkpoint.info.num_classes();
  options.extra = checkpoint.info.model_options;
  auto evaluator = std::make_unique<Evaluator>(spec->build, options, checkpoint.info.EvalShape(),
                                               kBatch, data::Normalization{checkpoint.info.mean,
                                                                           checkpoint.info.std},
                                               bf16);
  DLF_RETURN_IF_ERROR(evaluator->LoadWeights(checkpoint.file.tensors, MetadataOrigin(path, checkpoint.info)));
  return std::unique_ptr<Predictor>(new Predictor(std::move(checkpoint.info), std::move(evaluator)));
}

absl::StatusOr<std::vector<uint8_t>> Predictor::Preprocess(const data::Image& image) const {
  const std::vector<int64_t> shape = info_.EvalShape();
  const int64_t c = shape[0], h = shape[1], w = shape[2];
  data::Image fitted;
  if (info_.dataset == "folder") {  // photos: as the training run evaluated them
    data::Augmentation transform;
    transform.interpolation = info_.interpolation;
    transform.crop_fraction = info_.crop_fraction;
    DLF_ASSIGN_OR_RETURN(const data::Image channels, data::ConvertChannels(image, c));
    fitted = data::EvaluationCrop(channels, h, w, transform);
  } else {
    DLF_ASSIGN_OR_RETURN(fitted, data::FitImage(image, c, h, w));
  }
  std::vector<uint8_t> chw(c * h * w);
  data::ToPlanar(fitted, chw.data());
  return chw;
}

absl::StatusOr<std::vector<Prediction>> Predictor::Predict(const std::vector<data::Image>& images) {
  const std::vector<int64_t> shape = info_.EvalShape();
  const int64_t c = shape[0], h = shape[1], w = shape[2];
  data::Dataset batch;
  batch.images = Tensor(DType::kU8, {static_cast<int64_t>(images.size()), c, h, w});
  batch.labels.assign(images.size(), 0);
  batch.num_classes = static_cast<int>(info_.num_classes());
  for (size_t i = 0; i < images.size(); ++i) {
    DLF_ASSIGN_OR_RETURN(const std::vector<uint8_t> chw, Preprocess(images[i]));
    std::memcpy(batch.images.u8() + i * chw.size(), chw.data(), chw.size());
  }
  DLF_ASSIGN_OR_RETURN(const Tensor logits, evaluator_->Logits(batch));
  std::vector<Prediction> out(images.size());
  const int64_t k = info_.num_classes();
  for (size_t i = 0; i < images.size(); ++i) {
    out[i].logits.assign(logits.f32() + i * k, logits.f32() + (i + 1) * k);
    out[i].probabilities = Softmax(out[i].logits);
  }
  return out;
}

}  // namespace dlf::training
