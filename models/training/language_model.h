#ifndef DLF_MODELS_TRAINING_LANGUAGE_MODEL_H_
#define DLF_MODELS_TRAINING_LANGUAGE_MODEL_H_

// The language-model task: token windows in, next-token logits out, the mean cross-entropy
// over every token; metrics loss, perplexity and bits per token ("bpc": bits per character
// with a character vocabulary). A run is counted in steps: an "epoch" of the trainer is
// --eval_interval steps, after which the validation loss over --eval_iters batches is measured.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "data/text.h"
#include "models/gpt.h"
#include "models/training/batches.h"
#include "models/training/task.h"
#include "models/training/train_config.h"

namespace dlf::training {

const Task& LanguageModelTask();

// What a GPT checkpoint's metadata says of it: its configuration (and the record it was read
// from) and its vocabulary, which must fit the configuration's. A missing key is an error
// naming it and `path`.
struct GptCheckpointMetadata {
  models::GptConfig config;
  std::string config_record;
  data::Vocabulary vocabulary;
};
absl::StatusOr<GptCheckpointMetadata> ReadGptMetadata(const std::map<std::string, std::string>& metadata,
                                                      const std::string& path);

// The training windows of `text`: batch `step` (global, counted over epochs of
// `steps_per_epoch`) is windows 0 .. batch - 1 drawn from (seed, step, sample); this rank gets
// samples [shard * n, (shard + 1) * n) with n = batch / num_shards.
std::unique_ptr<BatchSource> TextBatches(const std::vector<int32_t>* tokens, int64_t block_size, int64_t batch,
                                         uint64_t seed, int64_t steps_per_epoch, int shard, int num_shards);

// The validation loss of the model config.build describes over `iters` batches of `batch`
// windows of `tokens` (the same windows at every evaluation: data::ValidationSeed), each rank
// scoring its share of every batch.
std::unique_ptr<TaskEvaluation> TextEvaluation(const TrainConfig& config, const std::vector<int32_t>* tokens,
                                               int64_t batch, int64_t iters);

// The loss over every window of `tokens` in order (data::SplitWindows), `batch` at a time: the
// whole split's loss, as //models:evaluate reports it. `tokens` is read when it runs.
std::unique_ptr<TaskEvaluation> WholeTextEvaluation(const TrainConfig& config, const std::vector<int32_t>* tokens,
                                                    int64_t batch);

}  // namespace dlf::training

#endif  // DLF_MODELS_TRAINING_LANGUAGE_MODEL_H_
