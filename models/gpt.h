#ifndef DLF_MODELS_GPT_H_
#define DLF_MODELS_GPT_H_

// nanoGPT's GPT (Karpathy's model.py, GPT-2's architecture): token and position embeddings,
// dropout, n_layer pre-LayerNorm blocks of causal self-attention and a 4x GELU MLP, a final
// LayerNorm and an output head tied to the token embedding. Its parameter names are nanoGPT's
// (transformer.wte.weight, transformer.h.0.attn.c_attn.weight, ..., lm_head.weight), so a
// checkpoint loads into nanoGPT's GPT with load_state_dict(strict=True) (tools/gpt_check.py).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

#include "graph/graph.h"
#include "models/models.h"

namespace dlf::models {

struct GptConfig {
  int64_t vocab_size = 65;  // rows of the token embedding (and the head's outputs)
  int64_t block_size = 256;  // the longest context: rows of the position embedding
  int64_t n_layer = 6;
  int64_t n_head = 6;
  int64_t n_embd = 384;
  double dropout = 0.2;
  bool bias = false;  // biases in the Linear and LayerNorm layers (GPT-2: true)
};

// The token embedding's name, and the name nanoGPT's state_dict also gives it: lm_head.weight
// is the same tensor (weight tying), so checkpoints carry it under both.
inline constexpr char kGptTokenEmbedding[] = "transformer.wte.weight";
inline constexpr char kGptTiedHead[] = "lm_head.weight";
// The checkpoint metadata key of the GptConfigRecord.
inline constexpr char kGptConfigMetadata[] = "gpt/config";

// Adds the model on ids i32 [b, t] (t <= block_size) and returns the logits [b, t, vocab_size].
// Initialization as nanoGPT's: every Linear and Embedding weight N(0, 0.02), biases 0, the
// residual projections (attn.c_proj, mlp.c_proj) N(0, 0.02 / sqrt(2 n_layer)), LayerNorm 1 and 0.
// Errors (a bad config or input) are recorded in `g`.
Value Gpt(Graph& g, Value ids, const GptConfig& config);

// The GPT a ModelOptions describes: the vocabulary is num_classes, the shape its transformer's.
GptConfig GptConfigFor(const ModelOptions& options);
// And back: the ModelOptions that build `config`.
ModelOptions GptModelOptions(const GptConfig& config);

// The parameters nanoGPT's get_num_params(non_embedding=False) counts (the tied head once).
int64_t GptParameterCount(const GptConfig& config);

// The configuration as checkpoints record it ("vocab_size=65,block_size=256,...") and back;
// a missing or malformed field is an error naming it.
std::string GptConfigRecord(const GptConfig& config);
absl::StatusOr<GptConfig> ParseGptConfigRecord(std::string_view record);

// One decoding step with a key/value cache: the graph takes one token per sequence at a
// position and the keys and values every layer computed for the positions before it, and gives
// the next token's logits and this token's keys and values (for the caller to store). The
// parameters are the full model's (same names and shapes); dropout is off.
struct GptLayerCache {
  Value past_k, past_v;  // fed: f32 [batch, n_head, block_size, head], rows 0 .. position - 1 used
  Value k, v;            // fetched: this token's [batch, n_head, 1, head]
};
struct GptStep {
  Value ids;        // fed: i32 [batch, 1]
  Value positions;  // fed: i32 [batch, 1], the token's position (< block_size)
  // fed: f32 [1, block_size + 1], 0 over the cache rows in use and the last column (the token
  // itself), -inf over the rest
  Value mask;
  std::vector<GptLayerCache> layers;
  Value logits;  // [batch, 1, vocab_size]
};
GptStep BuildGptStep(Graph& g, const GptConfig& config, int64_t batch = 1);

}  // namespace dlf::models

#endif  // DLF_MODELS_GPT_H_
