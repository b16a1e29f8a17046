#include "models/training/task.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "models/registry.h"
#include "graph/status_macros.h"
#include "models/training/classifier.h"
#include "models/training/evaluator.h"
#include "models/training/language_model.h"
#include "models/training/train_config.h"

namespace dlf::training {
namespace {

class Classification final : public Task {
 public:
  const char* name() const override { return models::TaskName(models::TaskKind::kClassification); }

  absl::StatusOr<TaskData> MakeData(const TrainConfig& c, const TrainData& data, int rank, int world) const override {
    if (data.train == nullptr || data.train->size() == 0) return absl::InvalidArgumentError("empty training set");
    for (const data::Dataset* d : {data.train, data.test}) {
      const Shape image = d == data.test ? c.run.EvalShape() : c.run.input_shape;
      if (d != nullptr && Shape{d->channels(), d->height(), d->width()} != image) {
        return absl::InvalidArgumentError(absl::StrCat(d->description, " has images of ",
                                                       ShapeString({d->channels(), d->height(), d->width()}),
                                                       ", the model takes ", ShapeString(image)));
      }
    }
    TaskData out{.description = data.train->description};
    if (data.test != nullptr) out.evaluation = ImageEvaluationOf(c, data.test);
    data::LoaderOptions lo{.batch_size = c.batch_size, .shuffle = c.shuffle, .drop_last = true, .seed = c.seed};
    lo.shard = rank;
    lo.num_shards = world;
    lo.normalization = {c.run.mean, c.run.std};
    lo.decode_threads = c.decode_threads;
    lo.skip_bad_images = c.skip_bad_images;
    lo.mixing = {c.mixup_alpha, c.cutmix_alpha, static_cast<int>(c.model_options.num_classes)};
    lo.augmentation = c.transform;
    lo.augmentation.horizontal_flip = c.augment;
    const bool resized_crop = data.train->streamed() || c.transform.random_resized_crop;
    lo.augmentation.random_resized_crop = c.augment && resized_crop;
    lo.augmentation.random_crop = c.augment && !resized_crop;
    DLF_ASSIGN_OR_RETURN(std::unique_ptr<data::Loader> loader, data::Loader::Create(data.train, lo));
    out.batches = ImageBatches(std::move(loader));
    return out;
  }

  TaskNet Build(Graph& g, const models::ModelFn& build, const models::ModelOptions& options, int64_t batch,
                const Shape& sample_shape, const HeadOptions& head) const override {
    const ClassifierNet net =
        BuildClassifier(g, build, options, batch, sample_shape, head.label_smoothing, head.soft_targets);
    // In data::Batch's order: images, labels, and the soft targets when mixing (else invalid).
    return {.inputs = {net.images, net.labels, net.targets}, .output = net.logits, .loss = net.loss, .sums = {net.correct}};
  }

  const std::vector<std::string>& step_sums() const override {
    static const std::vector<std::string> kSums = {"correct"};
    return kSums;
  }

  void AddTrainMetrics(double loss_sum, const std::vector<double>& sums, int64_t seen,
                       EpochMetrics& m) const override {
    m.Set("train_loss", loss_sum / static_cast<double>(seen));
    m.Set("train_accuracy", sums[0] / static_cast<double>(seen));
  }

  std::string Running(double loss_sum, const std::vector<double>& sums, int64_t seen) const override {
    const double n = static_cast<double>(seen);
    return absl::StrFormat("loss %.4f  acc %5.2f%%", seen ? loss_sum / n : 0.0, seen ? 100.0 * sums[0] / n : 0.0);
  }

  const std::vector<CurveFamily>& families() const override {
    static const std::vector<CurveFamily> kFamilies = {{"loss", "Loss (cross-entropy)", "loss", false},
                                                    {"accuracy", "Accuracy", "acc", true}};
    return kFamilies;
  }
  bool HigherIsBetter(const std::string& metric) const override { return metric == "accuracy"; }
};

}  // namespace

std::vector<Feed> Task::Feeds(const TaskNet& net, const TaskBatch& batch) const {
  std::vector<Feed> feeds;
  for (size_t i = 0; i < net.inputs.size() && i < batch.tensors.size(); ++i) {
    if (net.inputs[i].valid()) feeds.push_back({net.inputs[i], batch.tensors[i]});
  }
  return feeds;
}

std::string Task::Summary(const EpochMetrics& m, const std::string& split) const {
  std::string out;
  bool any = false;
  for (const CurveFamily& p : families()) any = any || !std::isnan(m.Get(split + "_" + p.family));
  if (!any) return "not evaluated";  // e.g. a language model run with --eval_iters=0
  for (const CurveFamily& p : families()) {
    const double v = m.Get(split + "_" + p.family);
    absl::StrAppend(&out, out.empty() ? "" : " ", p.abbreviation, " ",
                    p.fraction ? absl::StrFormat("%.2f%%", 100 * v) : absl::StrFormat("%.4f", v));
  }
  return out;
}

bool Task::FamilyOf(const std::string& name, const std::string& split, std::string* family) const {
  for (const CurveFamily& p : families()) {
    if (name != split + "_" + p.family) continue;
    *family = p.family;
    return true;
  }
  return false;
}

absl::StatusOr<MetricChoice> ChooseMetric(const Task& task, const std::string& chosen, bool model_ema) {
  const std::string name = chosen.empty() ? task.default_best_metric() : chosen;
  std::vector<std::string> names;
  const std::string eval = task.eval_split();
  for (const std::string& split : {eval, "ema_" + eval}) {
    std::string family;
    if (task.FamilyOf(name, split, &family)) {
      if (split != eval && !model_ema) {
        return absl::InvalidArgumentError(absl::StrCat("--best_metric=", name, " needs --model_ema"));
      }
      return MetricChoice{name, task.HigherIsBetter(family)};
    }
    for (const CurveFamily& f : task.families()) names.push_back(absl::StrCat(split, "_", f.family));
  }
  return absl::InvalidArgumentError(absl::StrCat("--best_metric must be one of ", absl::StrJoin(names, ", "),
                                                 " (the ", task.name(), " task's evaluation metrics), found '",
                                                 name, "'"));
}

const Task& ClassificationTask() {
  static const Classification kTask;
  return kTask;
}

const Task& TaskFor(models::TaskKind kind) {
  switch (kind) {
    case models::TaskKind::kClassification:
      return ClassificationTask();
    case models::TaskKind::kLanguageModel:
      return LanguageModelTask();
  }
  return ClassificationTask();
}

}  // namespace dlf::training
