// nanoGPT's CPU recipe on a text file, the dlf side of the quality comparison with PyTorch
// (tools/gpt_quality.py trains nanoGPT's module the same way on the same text):
//
//   bazel run -c opt //benchmarks:gpt_quality -- --seed=1 [--data_file=FILE] [--steps=2000]
//
// n_layer 4, n_head 4, n_embd 128, block 64, batch 12, dropout 0 (nanoGPT's README for a CPU);
// AdamW (betas 0.9 / 0.99, weight decay 0.1 on the 2-D parameters), gradients clipped at 1; lr
// 1e-3 warmed up over 100 steps, then cosine to 1e-4 at the last step (nanoGPT's get_lr). The
// character vocabulary and the 90/10 split are data/text.h's; the training windows come from
// (seed, step, sample). Prints the training loss every 100 steps and, at the end, the mean
// validation loss over --eval_batches batches.
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_format.h"
#include "data/text.h"
#include "graph/status_macros.h"
#include "models/gpt_train.h"
#include "optim/schedule.h"

ABSL_FLAG(std::string, data_file, "/usr/share/doc/jargon-text/jargon.txt.gz", "UTF-8 text (plain or gzip)");
ABSL_FLAG(int64_t, seed, 1, "initialization and training windows");
ABSL_FLAG(int64_t, steps, 2000, "training steps (the cosine ends at the last)");
ABSL_FLAG(int64_t, warmup_steps, 100, "linear warmup");
ABSL_FLAG(double, lr, 1e-3, "peak learning rate");
ABSL_FLAG(double, min_lr, 1e-4, "the learning rate at the last step");
ABSL_FLAG(int64_t, eval_batches, 200, "validation batches of 12 windows at the end");

namespace dlf {
namespace {

constexpr int64_t kBatch = 12;

absl::Status Run() {
  const models::GptConfig base = {.block_size = 64, .n_layer = 4, .n_head = 4, .n_embd = 128, .dropout = 0.0};
  const std::string path = absl::GetFlag(FLAGS_data_file);
  DLF_ASSIGN_OR_RETURN(const data::TextData text, data::LoadText(path, data::Tokenizer::kCharacter, base.block_size));
  models::GptConfig config = base;
  config.vocab_size = text.vocabulary.size();
  const uint64_t seed = static_cast<uint64_t>(absl::GetFlag(FLAGS_seed));
  DLF_ASSIGN_OR_RETURN(auto step, models::GptTrainStep::Create(config, {.batch = kBatch, .seed = seed}));
  const int64_t steps = absl::GetFlag(FLAGS_steps);
  DLF_ASSIGN_OR_RETURN(const optim::SchedulePtr schedule,
                       optim::WarmupCosineLR(absl::GetFlag(FLAGS_warmup_steps), steps - 1,
                                             absl::GetFlag(FLAGS_min_lr) / absl::GetFlag(FLAGS_lr)));
  absl::PrintF("%s: %d training and %d validation tokens; gpt %s\n", text.description, text.train.size(),
               text.validation.size(), models::GptConfigRecord(config));
  Tensor x(DType::kI32, {kBatch, config.block_size}), y(DType::kI32, {kBatch, config.block_size});
  for (int64_t s = 0; s < steps; ++s) {
    data::FillWindows(text.train, config.block_size, seed, s, 0, kBatch, x.i32(), y.i32());
    DLF_ASSIGN_OR_RETURN(const double loss, step->Step(x, y, schedule->LearningRate(absl::GetFlag(FLAGS_lr), s)));
    if ((s + 1) % 100 == 0) absl::PrintF("step %d: train loss %.4f\n", s + 1, loss);
  }
  const int64_t batches = absl::GetFlag(FLAGS_eval_batches);
  double sum = 0;
  for (int64_t b = 0; b < batches; ++b) {
    data::FillWindows(text.validation, config.block_size, data::ValidationSeed(seed), b, 0, kBatch, x.i32(), y.i32());
    DLF_ASSIGN_OR_RETURN(const double loss, step->EvalLoss(x, y));
    sum += loss;
  }
  absl::PrintF("seed %d: val loss %.4f (%d batches of %d windows)\n", seed, sum / batches, batches, kBatch);
  return absl::OkStatus();
}

}  // namespace
}  // namespace dlf

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  if (absl::Status s = dlf::Run(); !s.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  return 0;
}
