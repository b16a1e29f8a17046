#include "models/training/text_flags.h"

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/str_cat.h"
#include "graph/status_macros.h"
#include "models/training/cli.h"

// nanoGPT's configuration for a CPU (its README's shakespeare_char command) by default.
ABSL_FLAG(std::string, data_file, "",
          "language models: UTF-8 text, plain or gzip'd (default: the Jargon File, "
          "/usr/share/doc/jargon-text/jargon.txt.gz from Debian's jargon-text, 1.6 M characters); "
          "the first 90% trains, the last 10% validates");
ABSL_FLAG(std::string, tokenizer, "char",
          "language models: char (the sorted set of the file's characters, as nanoGPT's shakespeare_char) | "
          "byte (256 ids)");
ABSL_FLAG(int64_t, block_size, 64, "language models: the context, in tokens (the position embedding's rows)");
ABSL_FLAG(int64_t, n_layer, 4, "language models: transformer blocks");
ABSL_FLAG(int64_t, n_head, 4, "language models: attention heads (dividing --n_embd)");
ABSL_FLAG(int64_t, n_embd, 128, "language models: the embedding width");
ABSL_FLAG(bool, bias, false, "language models: biases in the Linear and LayerNorm layers (GPT-2: true)");
ABSL_FLAG(int64_t, eval_interval, 250,
          "language models: steps between evaluations (each one a row of metrics.csv and a checkpoint)");
ABSL_FLAG(int64_t, eval_iters, 20, "language models: validation batches per evaluation (0: none)");
ABSL_FLAG(int64_t, warmup_steps, 100, "language models: linear warmup of the learning rate over this many steps");
ABSL_FLAG(double, min_lr, 1e-4, "language models: the cosine schedule's end, reached at --lr_decay_steps");
ABSL_FLAG(int64_t, lr_decay_steps, 0,
          "language models: the step where the cosine reaches --min_lr (nanoGPT's lr_decay_iters; 0: --max_steps)");

namespace dlf::training {
namespace {

constexpr char kDefaultText[] = "/usr/share/doc/jargon-text/jargon.txt.gz";

const char* const kTextFlags[] = {"data_file", "tokenizer", "block_size", "n_layer", "n_head", "n_embd", "bias",
                                  "eval_interval", "eval_iters", "warmup_steps", "min_lr", "lr_decay_steps"};

}  // namespace

absl::StatusOr<data::TextData> TextFromFlags(int64_t block_size) {
  DLF_ASSIGN_OR_RETURN(const data::Tokenizer tokenizer, data::ParseTokenizer(absl::GetFlag(FLAGS_tokenizer)));
  const std::string given = absl::GetFlag(FLAGS_data_file);
  const std::string path = given.empty() ? kDefaultText : ResolveUserPath(given);
  absl::StatusOr<data::TextData> text = data::LoadText(path, tokenizer, block_size);
  if (!text.ok() && given.empty() && absl::IsNotFound(text.status())) {
    return absl::NotFoundError(absl::StrCat(text.status().message(),
                                            " (the default text: tools/setup.sh installs Debian's jargon-text; "
                                            "or give --data_file=FILE)"));
  }
  return text;
}

absl::Status LanguageModelFromFlags(TrainConfig& c) {
  models::TransformerOptions& t = c.model_options.transformer;
  t = {.block_size = absl::GetFlag(FLAGS_block_size), .n_layer = absl::GetFlag(FLAGS_n_layer),
       .n_head = absl::GetFlag(FLAGS_n_head), .n_embd = absl::GetFlag(FLAGS_n_embd), .bias = absl::GetFlag(FLAGS_bias)};
  for (const auto& [flag, value] : {std::pair{"block_size", t.block_size}, {"n_layer", t.n_layer},
                                    {"n_head", t.n_head}, {"n_embd", t.n_embd}}) {
    if (value <= 0) return absl::InvalidArgumentError(absl::StrCat("--", flag, " must be > 0, found ", value));
  }
  if (t.n_embd % t.n_head != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--n_head=", t.n_head, " must divide --n_embd=", t.n_embd, " (each head takes n_embd / n_head)"));
  }
  c.run.input_shape = {t.block_size};
  c.eval_interval = absl::GetFlag(FLAGS_eval_interval);
  c.eval_iters = absl::GetFlag(FLAGS_eval_iters);
  c.warmup_steps = absl::GetFlag(FLAGS_warmup_steps);
  c.min_lr = absl::GetFlag(FLAGS_min_lr);
  c.lr_decay_steps = absl::GetFlag(FLAGS_lr_decay_steps);
  return absl::OkStatus();
}

absl::Status CheckNoTextFlags(const std::string& model) {
  for (const char* flag : kTextFlags) {
    // A run config (--config) holds every flag at its value: only one changed from its default counts.
    const absl::CommandLineFlag* f = absl::FindCommandLineFlag(flag);
    if (FlagGiven(flag) && f != nullptr && f->CurrentValue() != f->DefaultValue()) {
      return absl::InvalidArgumentError(absl::StrCat("--", flag, " is a language model's flag; model ", model,
                                                     " is an image classifier"));
    }
  }
  return absl::OkStatus();
}

}  // namespace dlf::training
