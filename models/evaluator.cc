#include "models/evaluator.h"

#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "data/loader.h"
#include "ops/ops.h"

namespace dlf::models {

std::vector<double> EvalResult::PerClassAccuracy() const {
  std::vector<double> acc;
  for (size_t c = 0; c < confusion.size(); ++c) {
    int64_t total = 0;
    for (int64_t v : confusion[c]) total += v;
    acc.push_back(total ? static_cast<double>(confusion[c][c]) / total : 0.0);
  }
  return acc;
}

Evaluator::Evaluator(ModelFn build, ModelOptions options, Shape image_shape, int64_t batch_size,
                     data::Normalization normalization)
    : build_(std::move(build)),
      options_(options),
      image_shape_(std::move(image_shape)),
      batch_size_(batch_size),
      normalization_(std::move(normalization)) {}

void Evaluator::CopyWeightsFrom(const Graph& source) {
  for (Value p : source.parameters()) weights_[source.name(p)] = source.parameter_value(p).Clone();
  ++weights_version_;
}

absl::StatusOr<Evaluator::Net*> Evaluator::NetFor(int64_t batch) {
  auto it = nets_.find(batch);
  if (it != nets_.end()) return it->second.get();
  auto net = std::make_unique<Net>();
  net->graph = std::make_unique<Graph>();
  Graph& g = *net->graph;
  Shape shape = {batch};
  shape.insert(shape.end(), image_shape_.begin(), image_shape_.end());
  net->images = g.Input("images", DType::kF32, shape);
  net->labels = g.Input("labels", DType::kI32, {batch});
  Value logits = build_(g, net->images, options_);
  net->loss = ops::SoftmaxCrossEntropy(g, logits, net->labels);
  net->predictions = ops::Argmax(g, logits);
  if (!g.status().ok()) return g.status();
  auto exec = Executor::Compile(g, {net->loss, net->predictions}, {/*training=*/false});
  if (!exec.ok()) return exec.status();
  net->executor = *std::move(exec);
  return (nets_[batch] = std::move(net)).get();
}

absl::Status ValidateWeights(const Graph& g, const std::map<std::string, Tensor>& tensors,
                             const std::string& origin) {
  for (Value p : g.parameters()) {
    auto it = tensors.find(g.name(p));
    if (it == tensors.end()) {
      return absl::InvalidArgumentError(absl::StrCat(origin, ": missing parameter '", g.name(p),
                                                     "' (is it a checkpoint of another model?)"));
    }
    if (it->second.shape() != g.shape(p) || it->second.dtype() != DType::kF32) {
      return absl::InvalidArgumentError(absl::StrCat(
          origin, ": parameter '", g.name(p), "' is ", DTypeName(it->second.dtype()),
          ShapeString(it->second.shape()), ", the model expects f32", ShapeString(g.shape(p))));
    }
  }
  for (const auto& [name, t] : tensors) {
    if (absl::StartsWith(name, "optimizer/")) continue;
    if (!g.FindParameter(name).ok()) {
      return absl::InvalidArgumentError(absl::StrCat(origin, ": tensor '", name,
                                                     "' is not a parameter of this model"));
    }
  }
  return absl::OkStatus();
}

absl::Status Evaluator::LoadWeights(const std::map<std::string, Tensor>& tensors,
                                    const std::string& origin) {
  absl::StatusOr<Net*> net = NetFor(batch_size_);
  if (!net.ok()) return net.status();
  const Graph& g = *(*net)->graph;
  if (absl::Status s = ValidateWeights(g, tensors, origin); !s.ok()) return s;
  for (Value p : g.parameters()) weights_[g.name(p)] = tensors.at(g.name(p)).Clone();
  ++weights_version_;
  return absl::OkStatus();
}

absl::StatusOr<EvalResult> Evaluator::Evaluate(const data::Dataset& dataset) {
  data::LoaderOptions lo{.batch_size = batch_size_, .shuffle = false, .drop_last = false};
  lo.normalization = normalization_;
  auto loader = data::Loader::Create(&dataset, lo);
  if (!loader.ok()) return loader.status();
  EvalResult r;
  r.confusion.assign(options_.num_classes, std::vector<int64_t>(options_.num_classes, 0));
  double loss_sum = 0;
  int64_t correct = 0;
  (*loader)->StartEpoch(0);
  while (const data::Batch* b = (*loader)->Next()) {
    absl::StatusOr<Net*> net = NetFor(b->size());
    if (!net.ok()) return net.status();
    Graph& g = *(*net)->graph;
    if (!weights_.empty() && (*net)->weights_version != weights_version_) {
      for (Value p : g.parameters()) {
        const Tensor& w = weights_.at(g.name(p));
        std::memcpy(g.parameter_value(p).raw(), w.raw(), w.num_bytes());
      }
      (*net)->weights_version = weights_version_;
    }
    Executor& exec = *(*net)->executor;
    if (absl::Status s = exec.Run({{(*net)->images, &b->images}, {(*net)->labels, &b->labels}});
        !s.ok()) {
      return s;
    }
    loss_sum += exec.fetch(0).f32()[0] * static_cast<double>(b->size());
    for (int64_t i = 0; i < b->size(); ++i) {
      const int32_t truth = b->labels.i32()[i], predicted = exec.fetch(1).i32()[i];
      r.confusion[truth][predicted]++;
      correct += truth == predicted;
    }
    r.count += b->size();
  }
  r.loss = loss_sum / static_cast<double>(r.count);
  r.accuracy = static_cast<double>(correct) / static_cast<double>(r.count);
  return r;
}

}  // namespace dlf::models
