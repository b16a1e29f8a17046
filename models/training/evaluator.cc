#include "models/training/evaluator.h"

#include <cstring>

#include "graph/status_macros.h"
#include "models/training/checkpoint.h"
#include "models/training/train_config.h"
#include "ops/ops.h"

namespace dlf::training {

std::vector<double> ResultSums(const EvalResult& r) {
  std::vector<double> sums = {r.loss_sum, static_cast<double>(r.count)};
  for (const auto& row : r.confusion) sums.insert(sums.end(), row.begin(), row.end());
  return sums;
}

EvalResult ResultFromSums(const std::vector<double>& sums, int classes) {
  EvalResult r;
  r.loss_sum = sums[0];
  r.count = static_cast<int64_t>(sums[1]);
  r.loss = sums[0] / sums[1];
  r.confusion.assign(classes, std::vector<int64_t>(classes, 0));
  int64_t correct = 0;
  for (int t = 0; t < classes; ++t) {
    for (int p = 0; p < classes; ++p) r.confusion[t][p] = static_cast<int64_t>(sums[2 + t * classes + p]);
    correct += r.confusion[t][t];
  }
  r.accuracy = static_cast<double>(correct) / sums[1];
  return r;
}

absl::StatusOr<std::vector<double>> ImageEvaluation::ShareSums(int rank, int world) {
  if (world > 1 && shard_world_ != world) {
    const int64_t n = dataset_->size();
    shard_ = data::Slice(*dataset_, n * rank / world, n * (rank + 1) / world);
    shard_world_ = world;
  }
  const data::Dataset& share = world > 1 ? shard_ : *dataset_;
  EvalResult r;
  r.confusion.assign(classes_, std::vector<int64_t>(classes_, 0));
  if (share.size() > 0) {
    DLF_ASSIGN_OR_RETURN(r, evaluator_->Evaluate(share));
  }
  return ResultSums(r);
}

void ImageEvaluation::AddMetrics(const std::vector<double>& totals, const std::string& split, EpochMetrics& m) const {
  const EvalResult r = ResultFromSums(totals, classes_);
  m.Set(split + "_loss", r.loss);
  m.Set(split + "_accuracy", r.accuracy);
}

std::unique_ptr<ImageEvaluation> ImageEvaluationOf(const TrainConfig& c, const data::Dataset* dataset) {
  auto evaluator = std::make_unique<Evaluator>(c.build, c.model_options, c.run.EvalShape(), c.eval_batch_size,
                                               data::Normalization{c.run.mean, c.run.std}, c.bf16);
  evaluator->set_transform(c.transform);
  return std::make_unique<ImageEvaluation>(std::move(evaluator), dataset,
                                           static_cast<int>(c.model_options.num_classes));
}

std::vector<double> EvalResult::PerClassAccuracy() const {
  std::vector<double> acc;
  for (size_t c = 0; c < confusion.size(); ++c) {
    int64_t total = 0;
    for (int64_t v : confusion[c]) total += v;
    acc.push_back(total ? static_cast<double>(confusion[c][c]) / total : 0.0);
  }
  return acc;
}

Evaluator::Evaluator(models::ModelFn build, models::ModelOptions options, Shape image_shape,
                     int64_t batch_size, data::Normalization normalization, bool bf16)
    : build_(std::move(build)),
      options_(options),
      image_shape_(std::move(image_shape)),
      batch_size_(batch_size),
      normalization_(std::move(normalization)),
      bf16_(bf16) {}

void EvaluationWeights::CopyFrom(const Graph& source) {
  for (Value p : source.persistent_values()) weights_[source.name(p)] = source.parameter_value(p).Clone();
  ++version_;
}

absl::Status EvaluationWeights::Load(const Graph& model, const std::map<std::string, Tensor>& tensors,
                                     const std::string& origin) {
  DLF_RETURN_IF_ERROR(ValidateWeights(model, tensors, origin));
  for (Value p : model.persistent_values()) weights_[model.name(p)] = tensors.at(model.name(p)).Clone();
  ++version_;
  return absl::OkStatus();
}

void EvaluationWeights::CopyInto(Graph& g, Executor& executor, int64_t* version) const {
  if (weights_.empty() || *version == version_) return;
  for (Value p : g.persistent_values()) {
    const Tensor& w = weights_.at(g.name(p));
    std::memcpy(g.parameter_value(p).raw(), w.raw(), w.num_bytes());
  }
  executor.ParametersChanged();
  *version = version_;
}

void Evaluator::CopyWeightsFrom(const Graph& source) { weights_.CopyFrom(source); }

absl::StatusOr<Evaluator::Net*> Evaluator::NetFor(int64_t batch) {
  auto it = nets_.find(batch);
  if (it != nets_.end()) return it->second.get();
  auto net = std::make_unique<Net>();
  net->graph = std::make_unique<Graph>();
  Graph& g = *net->graph;
  net->head = BuildClassifier(g, build_, options_, batch, image_shape_);
  DLF_RETURN_IF_ERROR(g.status());
  DLF_ASSIGN_OR_RETURN(net->executor,
                       Executor::Compile(g, {net->head.loss, net->head.predictions, net->head.logits},
                                         {.training = false, .bf16 = bf16_, .fixed_parameters = true}));
  return (nets_[batch] = std::move(net)).get();
}

absl::Status Evaluator::LoadWeights(const std::map<std::string, Tensor>& tensors,
                                    const std::string& origin) {
  DLF_ASSIGN_OR_RETURN(Net* net, NetFor(batch_size_));
  return weights_.Load(*net->graph, tensors, origin);
}

absl::Status Evaluator::ForEachBatch(
    const data::Dataset& dataset,
    const std::function<void(const data::Batch&, const Executor&)>& consume) {
  data::LoaderOptions lo{.batch_size = batch_size_, .shuffle = false, .drop_last = false};
  lo.normalization = normalization_;
  lo.augmentation = {.interpolation = transform_.interpolation};
  lo.augmentation.crop_fraction = transform_.crop_fraction;
  DLF_ASSIGN_OR_RETURN(auto loader, data::Loader::Create(&dataset, lo));
  loader->StartEpoch(0);
  while (const data::Batch* b = loader->Next()) {
    DLF_ASSIGN_OR_RETURN(Net* net, NetFor(b->size()));
    weights_.CopyInto(*net->graph, *net->executor, &net->weights_version);
    DLF_RETURN_IF_ERROR(net->executor->Run({{net->head.images, &b->images}, {net->head.labels, &b->labels}}));
    consume(*b, *net->executor);
  }
  return loader->status();
}

absl::StatusOr<EvalResult> Evaluator::Evaluate(const data::Dataset& dataset) {
  if (dataset.size() == 0) return absl::InvalidArgumentError("nothing to evaluate: the data set is empty");
  EvalResult r;
  r.confusion.assign(options_.num_classes, std::vector<int64_t>(options_.num_classes, 0));
  double loss_sum = 0;
  int64_t correct = 0;
  DLF_RETURN_IF_ERROR(ForEachBatch(dataset, [&](const data::Batch& b, const Executor& exec) {
    loss_sum += exec.fetch(0).f32()[0] * static_cast<double>(b.size());
    for (int64_t i = 0; i < b.size(); ++i) {
      const int32_t truth = b.labels.i32()[i], predicted = exec.fetch(1).i32()[i];
      r.confusion[truth][predicted]++;
      correct += truth == predicted;
    }
    r.count += b.size();
  }));
  r.loss_sum = loss_sum;
  r.loss = loss_sum / static_cast<double>(r.count);
  r.accuracy = static_cast<double>(correct) / static_cast<double>(r.count);
  return r;
}

absl::StatusOr<Tensor> Evaluator::Logits(const data::Dataset& dataset) {
  Tensor logits(DType::kF32, {dataset.size(), options_.num_classes});
  int64_t row = 0;
  DLF_RETURN_IF_ERROR(ForEachBatch(dataset, [&](const data::Batch& b, const Executor& exec) {
    std::memcpy(logits.f32() + row * options_.num_classes, exec.fetch(2).raw(), exec.fetch(2).num_bytes());
    row += b.size();
  }));
  return logits;
}

}  // namespace dlf::training
