#ifndef DLF_MODELS_TRAINING_TEXT_FLAGS_H_
#define DLF_MODELS_TRAINING_TEXT_FLAGS_H_

// The train tool's language-model flags (only its binaries define them): the text, the
// tokenizer, the transformer's shape and the step-based recipe.

#include "absl/status/statusor.h"
#include "data/text.h"
#include "models/training/train_config.h"

namespace dlf::training {

// The text the flags name (--data_file, default: the Jargon File from Debian's jargon-text,
// which tools/setup.sh installs) in the --tokenizer's vocabulary; errors name the file.
absl::StatusOr<data::TextData> TextFromFlags(int64_t block_size);

// The transformer's shape (--block_size --n_layer --n_head --n_embd --bias) and the step-based
// recipe (--eval_interval --eval_iters --warmup_steps --min_lr --lr_decay_steps) into `c`.
absl::Status LanguageModelFromFlags(TrainConfig& c);

// An error when one of these flags was given another value than its default with a model that
// is not a language model.
absl::Status CheckNoTextFlags(const std::string& model);

}  // namespace dlf::training

#endif  // DLF_MODELS_TRAINING_TEXT_FLAGS_H_
