#ifndef DLF_MODELS_GPT_GENERATE_H_
#define DLF_MODELS_GPT_GENERATE_H_

// Sampling from a GPT with a key/value cache: each token runs one decoding step (BuildGptStep)
// over the keys and values kept from the tokens before it, never the whole prefix again.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "graph/executor.h"
#include "graph/graph.h"
#include "graph/tensor.h"
#include "models/gpt.h"

namespace dlf::models {

struct SamplingOptions {
  double temperature = 0.8;  // logits / temperature; 0: always the most probable token
  int64_t top_k = 200;       // sample among the k most probable (0: all)
  uint64_t seed = 1337;      // nanoGPT's sample.py defaults, all three
};

// The token sampling picks for `logits` [vocab] with a uniform draw u in [0, 1): the most
// probable at temperature 0 (the lowest id among equals), else the first token whose
// cumulative probability (over the top_k, in id order) exceeds u.
int32_t SampleToken(const float* logits, int64_t vocab, const SamplingOptions& options, double u);

class GptGenerator {
 public:
  // `weights` by name, as a checkpoint holds them (lm_head.weight, the tied head, and
  // optimizer state may be among them); every parameter of the model must be, with its shape.
  static absl::StatusOr<std::unique_ptr<GptGenerator>> Create(const GptConfig& config,
                                                              const std::map<std::string, Tensor>& weights,
                                                              bool bf16 = false);

  // Appends `token` to the context; returns the logits [vocab] of the token after it, valid
  // until the next call. When the context reaches block_size, its last block_size / 2 tokens
  // are encoded again from position 0 (nanoGPT crops to block_size and recomputes every token).
  absl::StatusOr<const float*> Push(int32_t token);
  // Pushes `prompt` (at least one token), then samples and pushes max_new_tokens tokens;
  // returns those. The same options give the same tokens.
  absl::StatusOr<std::vector<int32_t>> Generate(const std::vector<int32_t>& prompt, int64_t max_new_tokens,
                                                const SamplingOptions& options);
  // Decoding steps run so far (tokens pushed, re-encoded ones included).
  int64_t steps() const { return steps_; }

 private:
  GptGenerator(const GptConfig& config) : config_(config) {}
  absl::Status Build(const std::map<std::string, Tensor>& weights, bool bf16);
  absl::StatusOr<const float*> Step(int32_t token);

  GptConfig config_;
  Graph graph_;
  GptStep step_;
  std::unique_ptr<Executor> executor_;
  std::vector<Tensor> past_k_, past_v_;  // by layer: [1, n_head, block_size, head]
  Tensor mask_, id_, position_;
  std::vector<int32_t> context_;  // the tokens whose keys and values the cache holds
  int64_t steps_ = 0;
};

}  // namespace dlf::models

#endif  // DLF_MODELS_GPT_GENERATE_H_
