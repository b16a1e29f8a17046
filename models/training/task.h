#ifndef DLF_MODELS_TRAINING_TASK_H_
#define DLF_MODELS_TRAINING_TASK_H_

// What a training run optimizes besides the model: the inputs a batch feeds, the loss and the
// per-step statistics built on the model's output, and the named metrics they make. The train
// step, the trainer, its state and its reports go through this interface; a model registers
// with the task it serves (models::ModelSpec::task).

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "data/dataset.h"
#include "data/text.h"
#include "models/training/batches.h"
#include "graph/executor.h"
#include "graph/graph.h"
#include "models/models.h"
#include "models/training/report.h"

namespace dlf::training {

struct TrainConfig;  // models/training/train_config.h
class TaskEvaluation;

// What a run trains and evaluates on: image data sets (classification) or a text's tokens
// (language model).
struct TrainData {
  const data::Dataset* train = nullptr;
  const data::Dataset* test = nullptr;  // null: no evaluation
  const data::TextData* text = nullptr;
};

// A task's view of one rank's data: the training batches, the evaluation (null: none) and
// what it trains on in a few words ("Fashion-MNIST train (60000 images)").
struct TaskData {
  std::unique_ptr<BatchSource> batches;
  std::unique_ptr<TaskEvaluation> evaluation;
  std::string description;
};

// The model with a task's head on one batch.
struct TaskNet {
  std::vector<Value> inputs;  // fed from a batch in Task::Feeds' order; an invalid one is not fed
  Value output;               // the model's (logits)
  Value loss;                 // f32 scalar: the batch's mean loss
  std::vector<Value> sums;    // f32 scalars summed over steps and ranks, one per Task::step_sums()
};

// How the head is set up for training.
struct HeadOptions {
  double label_smoothing = 0;
  bool soft_targets = false;  // classification with mixup / cutmix: the loss is against fed targets
};

class Task {
 public:
  virtual ~Task() = default;
  virtual const char* name() const = 0;
  // The evaluation's split in metric names ("test": "test_loss"; a language model's "val").
  virtual const char* eval_split() const { return "test"; }
  // Whether the run is counted in steps (the learning rate follows the step, not the epoch).
  virtual bool step_based() const { return false; }
  // The throughput metric and its unit in progress lines, and how many units a sample holds.
  virtual const char* throughput_metric() const { return "images_per_second"; }
  virtual const char* unit() const { return "img"; }
  virtual int64_t units_per_sample(const Shape&) const { return 1; }
  // What best.safetensors is best by unless --best_metric says otherwise.
  virtual const char* default_best_metric() const { return "test_accuracy"; }

  // Rank `rank` of `world`'s batches and evaluation of `data` for the run `config` describes;
  // data the task cannot take (images of another shape than the model's, no text) is an error.
  virtual absl::StatusOr<TaskData> MakeData(const TrainConfig& config, const TrainData& data, int rank,
                                            int world) const = 0;

  // Adds the model (built by `build` on `batch` samples of `sample_shape`) and the head to `g`;
  // errors are recorded in `g`.
  virtual TaskNet Build(Graph& g, const models::ModelFn& build, const models::ModelOptions& options,
                        int64_t batch, const Shape& sample_shape, const HeadOptions& head) const = 0;
  // The feeds of `batch` for `net`: its valid inputs, each with the batch's tensor at its position.
  std::vector<Feed> Feeds(const TaskNet& net, const TaskBatch& batch) const;

  // The names of TaskNet::sums (checkpoints record their epoch totals as "epoch_<name>").
  virtual const std::vector<std::string>& step_sums() const = 0;
  // The training metrics of an epoch ("train_loss", ...) from its loss summed per sample and its
  // sums over `seen` samples.
  virtual void AddTrainMetrics(double loss_sum, const std::vector<double>& sums, int64_t seen,
                               EpochMetrics& m) const = 0;
  // The running metrics of the epoch in progress for the progress line ("loss 0.4321  acc 85.12%").
  virtual std::string Running(double loss_sum, const std::vector<double>& sums, int64_t seen) const = 0;

  // The metric families every split reports ("loss", "accuracy": the curves' panels), and
  // whether higher is better for each.
  virtual const std::vector<CurveFamily>& families() const = 0;
  virtual bool HigherIsBetter(const std::string& metric) const = 0;

  // "loss 0.4321 acc 85.12%": the metrics "<split>_<family>" of `m`, one per family ("not
  // evaluated" when `m` has none of them).
  std::string Summary(const EpochMetrics& m, const std::string& split) const;
  // Whether `name` is "<split>_<family>" for one of the panels' families; sets `family`.
  bool FamilyOf(const std::string& name, const std::string& split, std::string* family) const;
};

// A task's evaluation of the weights it is given, on its evaluation data: each rank computes
// sums over its share, the parallel strategy adds them over the ranks, and the metrics come
// from the totals, so they do not depend on the number of ranks.
class TaskEvaluation {
 public:
  virtual ~TaskEvaluation() = default;
  // Takes every parameter and buffer of `source`, a graph of the same model.
  virtual void CopyWeightsFrom(const Graph& source) = 0;
  // Takes weights by name (e.g. the EMA's); `origin` names them in errors.
  virtual absl::Status LoadWeights(const std::map<std::string, Tensor>& tensors, const std::string& origin) = 0;
  // The sums of share `rank` of `world` (the same count on every rank).
  virtual absl::StatusOr<std::vector<double>> ShareSums(int rank, int world) = 0;
  // The metrics "<split>_<family>" from the sums over all ranks.
  virtual void AddMetrics(const std::vector<double>& totals, const std::string& split, EpochMetrics& m) const = 0;
};

// An evaluation metric to select by (--best_metric): its name and direction.
struct MetricChoice {
  std::string name;  // "test_accuracy"
  bool higher_is_better = true;
  // A score where higher is better: the metric, or minus it.
  double Score(const EpochMetrics& m) const { return higher_is_better ? m.Get(name) : -m.Get(name); }
};

// `name` as one of the task's evaluation metrics ("test_<family>", or "ema_test_<family>" with
// model_ema; empty: the task's default); anything else is an error listing them.
absl::StatusOr<MetricChoice> ChooseMetric(const Task& task, const std::string& name, bool model_ema);

// Images in, classes out: softmax cross-entropy (label smoothing, mixup's soft targets) and the
// count of right answers; metrics loss and accuracy.
const Task& ClassificationTask();

// The task a model serves.
const Task& TaskFor(models::TaskKind kind);

}  // namespace dlf::training

#endif  // DLF_MODELS_TRAINING_TASK_H_
