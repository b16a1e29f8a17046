#include "models/training/language_model.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_format.h"
#include "graph/status_macros.h"
#include "models/registry.h"
#include "models/training/checkpoint.h"
#include "models/training/evaluator.h"
#include "ops/ops.h"

namespace dlf::training {
namespace {

// loss, perplexity and bits per token of a mean cross-entropy (in nats).
void AddLossMetrics(double loss, const std::string& split, EpochMetrics& m) {
  m.Set(split + "_loss", loss);
  m.Set(split + "_perplexity", std::exp(loss));
  m.Set(split + "_bpc", loss / std::log(2.0));
}

class LanguageModel final : public Task {
 public:
  const char* name() const override { return models::TaskName(models::TaskKind::kLanguageModel); }
  const char* eval_split() const override { return "val"; }
  const char* default_best_metric() const override { return "val_loss"; }
  bool step_based() const override { return true; }
  const char* throughput_metric() const override { return "tokens_per_second"; }
  const char* unit() const override { return "tok"; }
  int64_t units_per_sample(const Shape& sample_shape) const override { return sample_shape[0]; }

  absl::StatusOr<TaskData> MakeData(const TrainConfig& c, const TrainData& data, int rank, int world) const override {
    if (data.text == nullptr) return absl::InvalidArgumentError("a language model trains on a text: no text given");
    TaskData out{.batches = TextBatches(&data.text->train, c.run.input_shape[0], c.batch_size, c.seed,
                                        c.eval_interval, rank, world),
                 .description = data.text->description};
    if (c.eval_iters > 0) out.evaluation = TextEvaluation(c, &data.text->validation, c.batch_size, c.eval_iters);
    return out;
  }

  TaskNet Build(Graph& g, const models::ModelFn& build, const models::ModelOptions& options, int64_t batch,
                const Shape& sample_shape, const HeadOptions& head) const override {
    const Value ids = g.Input("ids", DType::kI32, {batch, sample_shape[0]});
    const Value targets = g.Input("targets", DType::kI32, {batch, sample_shape[0]});
    const Value logits = build(g, ids, options);
    return {.inputs = {ids, targets}, .output = logits,
            .loss = ops::SoftmaxCrossEntropy(g, logits, targets, head.label_smoothing)};
  }

  const std::vector<std::string>& step_sums() const override {
    static const std::vector<std::string> kNone;
    return kNone;
  }

  void AddTrainMetrics(double loss_sum, const std::vector<double>&, int64_t seen, EpochMetrics& m) const override {
    AddLossMetrics(loss_sum / static_cast<double>(seen), "train", m);
  }

  std::string Running(double loss_sum, const std::vector<double>&, int64_t seen) const override {
    const double loss = seen ? loss_sum / static_cast<double>(seen) : 0.0;
    return absl::StrFormat("loss %.4f  ppl %.2f", loss, std::exp(loss));
  }

  const std::vector<CurveFamily>& families() const override {
    static const std::vector<CurveFamily> kFamilies = {
        {"loss", "Loss (cross-entropy per token)", "loss", false},
        {"perplexity", "Perplexity", "ppl", false},
        {"bpc", "Bits per token", "bpc", false}};
    return kFamilies;
  }
  bool HigherIsBetter(const std::string&) const override { return false; }
};

class TextSource final : public BatchSource {
 public:
  TextSource(const std::vector<int32_t>* tokens, int64_t block_size, int64_t batch, uint64_t seed,
             int64_t steps_per_epoch, int shard, int num_shards)
      : tokens_(tokens), block_(block_size), seed_(seed), steps_per_epoch_(steps_per_epoch),
        share_(batch / num_shards), first_(shard * share_),
        ids_(DType::kI32, {share_, block_size}), targets_(DType::kI32, {share_, block_size}) {
    batch_ = {.tensors = {&ids_, &targets_}, .size = share_, .sample_offset = first_};
  }
  int64_t batches_per_epoch() const override { return steps_per_epoch_; }
  void StartEpoch(int64_t epoch, int64_t skip_batches) override {
    next_ = epoch * steps_per_epoch_ + skip_batches;
    end_ = (epoch + 1) * steps_per_epoch_;
  }
  const TaskBatch* Next() override {
    if (next_ >= end_) return nullptr;
    data::FillWindows(*tokens_, block_, seed_, next_++, first_, share_, ids_.i32(), targets_.i32());
    return &batch_;
  }
  absl::Status status() const override { return absl::OkStatus(); }
  double wait_seconds() const override { return 0; }
  std::vector<std::string> skipped_samples() const override { return {}; }

 private:
  const std::vector<int32_t>* tokens_;
  int64_t block_;
  uint64_t seed_;
  int64_t steps_per_epoch_, share_, first_;
  Tensor ids_, targets_;
  TaskBatch batch_;
  int64_t next_ = 0, end_ = 0;
};

// The windows an evaluation scores: `batches` batches of `batch` windows drawn as training draws
// them (from the validation seed: the same batches every time), or every window of the split in
// order (the last batch may be short; counted when the evaluation runs).
struct WindowPlan {
  bool whole_split = false;
  int64_t batch = 0, batches = 0, windows = 0;  // windows: whole_split's count
  int64_t BatchWindows(int64_t b) const { return whole_split ? std::min(batch, windows - b * batch) : batch; }
  WindowPlan For(const std::vector<int32_t>& tokens, int64_t block_size) const {
    if (!whole_split) return *this;
    const int64_t n = data::SplitWindows(tokens, block_size);
    return {.whole_split = true, .batch = batch, .batches = (n + batch - 1) / batch, .windows = n};
  }
};

class TextEval final : public TaskEvaluation {
 public:
  TextEval(const TrainConfig& config, const std::vector<int32_t>* tokens, WindowPlan plan)
      : config_(config), tokens_(tokens), plan_(plan) {}

  void CopyWeightsFrom(const Graph& source) override { weights_.CopyFrom(source); }
  absl::Status LoadWeights(const std::map<std::string, Tensor>& tensors, const std::string& origin) override {
    if (graph_ == nullptr) DLF_RETURN_IF_ERROR(Prepare(plan_.batch));  // any batch names the same weights
    return weights_.Load(*graph_, tensors, origin);
  }

  // Each rank scores its part of every batch: windows [count * rank / world, count * (rank + 1) / world).
  absl::StatusOr<std::vector<double>> ShareSums(int rank, int world) override {
    const int64_t block = config_.run.input_shape[0];
    const WindowPlan plan = plan_.For(*tokens_, block);
    double loss_sum = 0, token_count = 0;  // the loss is a mean over the share's tokens
    for (int64_t b = 0; b < plan.batches; ++b) {
      const int64_t count = plan.BatchWindows(b), first = count * rank / world;
      const int64_t share = count * (rank + 1) / world - first;
      if (share == 0) continue;
      DLF_RETURN_IF_ERROR(Prepare(share));
      weights_.CopyInto(*graph_, *executor_, &graph_weights_version_);
      int32_t* ids = inputs_[0].i32();
      int32_t* targets = inputs_[1].i32();
      if (plan.whole_split) {
        data::FillSplitWindows(*tokens_, block, b * plan.batch + first, share, ids, targets);
      } else {
        data::FillWindows(*tokens_, block, data::ValidationSeed(config_.seed), b, first, share, ids, targets);
      }
      DLF_RETURN_IF_ERROR(executor_->Run({{net_.inputs[0], &inputs_[0]}, {net_.inputs[1], &inputs_[1]}}));
      const double tokens = static_cast<double>(share * block);
      loss_sum += executor_->fetch(0).f32()[0] * tokens;
      token_count += tokens;
    }
    return std::vector<double>{loss_sum, token_count};
  }

  void AddMetrics(const std::vector<double>& totals, const std::string& split, EpochMetrics& m) const override {
    AddLossMetrics(totals[0] / totals[1], split, m);
  }

 private:
  // The inference graph on `batch` windows: built again only when the share size changes, so
  // LoadWeights before the first ShareSums does not leave a graph of another batch.
  absl::Status Prepare(int64_t batch) {
    if (graph_ != nullptr && graph_batch_ == batch) return absl::OkStatus();
    graph_batch_ = batch;
    graph_weights_version_ = -1;
    graph_ = std::make_unique<Graph>();
    net_ = LanguageModelTask().Build(*graph_, config_.build, config_.model_options, batch, config_.run.input_shape, {});
    DLF_RETURN_IF_ERROR(graph_->status());
    DLF_ASSIGN_OR_RETURN(executor_, Executor::Compile(*graph_, {net_.loss},
                                                      {.training = false, .bf16 = config_.bf16, .fixed_parameters = true}));
    inputs_.clear();
    for (int i = 0; i < 2; ++i) inputs_.emplace_back(DType::kI32, Shape{batch, config_.run.input_shape[0]});
    return absl::OkStatus();
  }

  const TrainConfig config_;
  const std::vector<int32_t>* tokens_;
  const WindowPlan plan_;
  EvaluationWeights weights_;
  std::unique_ptr<Graph> graph_;
  int64_t graph_batch_ = 0;
  int64_t graph_weights_version_ = -1;  // which weights_ graph_'s parameters hold
  TaskNet net_;
  std::unique_ptr<Executor> executor_;
  std::vector<Tensor> inputs_;  // ids and targets of graph_batch_ windows
};

}  // namespace

absl::StatusOr<GptCheckpointMetadata> ReadGptMetadata(const std::map<std::string, std::string>& metadata,
                                                      const std::string& path) {
  const auto record = [&](const char* key) -> absl::StatusOr<std::string> {
    const auto it = metadata.find(key);
    if (it != metadata.end()) return it->second;
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a gpt checkpoint (no '", key, "' in its metadata)"));
  };
  GptCheckpointMetadata m;
  DLF_ASSIGN_OR_RETURN(m.config_record, record(models::kGptConfigMetadata));
  DLF_ASSIGN_OR_RETURN(const std::string vocabulary, record(data::kVocabularyMetadata));
  DLF_ASSIGN_OR_RETURN(m.config, models::ParseGptConfigRecord(m.config_record));
  DLF_ASSIGN_OR_RETURN(m.vocabulary, data::Vocabulary::FromRecord(vocabulary));
  DLF_RETURN_IF_ERROR(data::ExpectVocabularyFits(m.vocabulary, m.config.vocab_size, path));
  return m;
}

const Task& LanguageModelTask() {
  static const LanguageModel kTask;
  return kTask;
}

std::unique_ptr<BatchSource> TextBatches(const std::vector<int32_t>* tokens, int64_t block_size, int64_t batch,
                                         uint64_t seed, int64_t steps_per_epoch, int shard, int num_shards) {
  return std::make_unique<TextSource>(tokens, block_size, batch, seed, steps_per_epoch, shard, num_shards);
}

std::unique_ptr<TaskEvaluation> TextEvaluation(const TrainConfig& config, const std::vector<int32_t>* tokens,
                                               int64_t batch, int64_t iters) {
  return std::make_unique<TextEval>(config, tokens, WindowPlan{.batch = batch, .batches = iters});
}

std::unique_ptr<TaskEvaluation> WholeTextEvaluation(const TrainConfig& config, const std::vector<int32_t>* tokens,
                                                    int64_t batch) {
  return std::make_unique<TextEval>(config, tokens, WindowPlan{.whole_split = true, .batch = batch});
}

}  // namespace dlf::training
