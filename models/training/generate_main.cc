#include "models/training/generate_main.h"

#include <omp.h>

#include <chrono>
#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "data/safetensors.h"
#include "data/text.h"
#include "graph/status_macros.h"
#include "models/gpt.h"
#include "models/gpt_generate.h"
#include "models/training/cli.h"
#include "models/training/language_model.h"

ABSL_FLAG(std::string, checkpoint, "", "a .safetensors checkpoint of the gpt model (required)");
ABSL_FLAG(std::string, prompt, "\n", "the text to continue (its characters must be in the checkpoint's vocabulary)");
ABSL_FLAG(int64_t, max_new_tokens, 500, "how many tokens to sample");
ABSL_FLAG(double, temperature, 0.8, "logits / temperature before sampling; 0: always the most probable token");
ABSL_FLAG(int64_t, top_k, 200, "sample among the k most probable tokens (0: all)");
ABSL_FLAG(int64_t, seed, 1337, "the sampling seed: the same seed gives the same text");
ABSL_FLAG(int, threads, 0, "OpenMP threads (0: one per core)");

namespace dlf::training {
namespace {

absl::Status CheckFlags() {
  const int threads = absl::GetFlag(FLAGS_threads);
  if (threads < 0) return absl::InvalidArgumentError(absl::StrCat("--threads must be >= 0, found ", threads));
  if (threads > 0) omp_set_num_threads(threads);
  if (absl::GetFlag(FLAGS_max_new_tokens) < 1) {
    return absl::InvalidArgumentError(absl::StrCat("--max_new_tokens must be >= 1, found ", absl::GetFlag(FLAGS_max_new_tokens)));
  }
  if (!(absl::GetFlag(FLAGS_temperature) >= 0)) {
    return absl::InvalidArgumentError(absl::StrCat("--temperature must be >= 0, found ", absl::GetFlag(FLAGS_temperature)));
  }
  if (absl::GetFlag(FLAGS_top_k) < 0) {
    return absl::InvalidArgumentError(absl::StrCat("--top_k must be >= 0, found ", absl::GetFlag(FLAGS_top_k)));
  }
  if (absl::GetFlag(FLAGS_prompt).empty()) return absl::InvalidArgumentError("--prompt is empty: give at least one character");
  return absl::OkStatus();
}

absl::Status Generate() {
  DLF_RETURN_IF_ERROR(CheckFlags());
  const std::string path = ResolveUserPath(absl::GetFlag(FLAGS_checkpoint));
  if (path.empty()) return absl::InvalidArgumentError("--checkpoint is required (see --help)");
  DLF_ASSIGN_OR_RETURN(const data::TensorFile file, data::ReadSafetensors(path));
  DLF_ASSIGN_OR_RETURN(const GptCheckpointMetadata gpt, ReadGptMetadata(file.metadata, path));
  const models::GptConfig& config = gpt.config;
  const data::Vocabulary& vocabulary = gpt.vocabulary;
  DLF_ASSIGN_OR_RETURN(const std::vector<int32_t> prompt, vocabulary.Encode(absl::GetFlag(FLAGS_prompt), "--prompt"));
  DLF_ASSIGN_OR_RETURN(const bool bf16, Bf16FromFlags());
  absl::StatusOr<std::unique_ptr<models::GptGenerator>> created = models::GptGenerator::Create(config, file.tensors, bf16);
  if (!created.ok()) {  // the tensors disagree with the config the metadata gives: name both
    return absl::InvalidArgumentError(absl::StrCat(path, " (its gpt/config: ", gpt.config_record, "): ",
                                                   created.status().message()));
  }
  std::unique_ptr<models::GptGenerator> generator = *std::move(created);
  const models::SamplingOptions options = {.temperature = absl::GetFlag(FLAGS_temperature),
                                           .top_k = absl::GetFlag(FLAGS_top_k),
                                           .seed = static_cast<uint64_t>(absl::GetFlag(FLAGS_seed))};
  const auto start = std::chrono::steady_clock::now();
  DLF_ASSIGN_OR_RETURN(const std::vector<int32_t> tokens,
                       generator->Generate(prompt, absl::GetFlag(FLAGS_max_new_tokens), options));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  absl::PrintF("%s%s\n", absl::GetFlag(FLAGS_prompt), vocabulary.Decode(tokens));
  std::fflush(stdout);
  absl::FPrintF(stderr, "%d tokens in %.2f s: %.1f tokens/s (%d decoding steps, prompt included)\n", tokens.size(),
                seconds, tokens.size() / seconds, generator->steps());
  return absl::OkStatus();
}

}  // namespace

int GenerateMain(int argc, char** argv) {
  return RunTool([&]() -> absl::Status {
    DLF_ASSIGN_OR_RETURN(const std::vector<std::string> args,
                         ParseFlags(argc, argv,
                                    "Samples text from a gpt checkpoint (a key/value cache: one decoding step per token).\n"
                                    "  bazel run //models:generate -- --checkpoint=PATH --prompt=TEXT"));
    if (!args.empty()) return absl::InvalidArgumentError(absl::StrCat("unexpected argument '", args[0], "' (see --help)"));
    return Generate();
  });
}

}  // namespace dlf::training
