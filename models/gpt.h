#ifndef DLF_MODELS_GPT_H_
#define DLF_MODELS_GPT_H_

// nanoGPT's GPT (Karpathy's model.py, GPT-2's architecture): token and position embeddings,
// dropout, n_layer pre-LayerNorm blocks of causal self-attention and a 4x GELU MLP, a final
// LayerNorm and an output head tied to the token embedding. Its parameter names are nanoGPT's
// (transformer.wte.weight, transformer.h.0.attn.c_attn.weight, ..., lm_head.weight), so a
// checkpoint loads into nanoGPT's GPT with load_state_dict(strict=True) (tools/gpt_check.py).

#include <cstdint>

#include "graph/graph.h"

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

// Adds the model on ids i32 [b, t] (t <= block_size) and returns the logits [b, t, vocab_size].
// Initialization as nanoGPT's: every Linear and Embedding weight N(0, 0.02), biases 0, the
// residual projections (attn.c_proj, mlp.c_proj) N(0, 0.02 / sqrt(2 n_layer)), LayerNorm 1 and 0.
// Errors (a bad config or input) are recorded in `g`.
Value Gpt(Graph& g, Value ids, const GptConfig& config);

// The parameters nanoGPT's get_num_params(non_embedding=False) counts (the tied head once).
int64_t GptParameterCount(const GptConfig& config);

}  // namespace dlf::models

#endif  // DLF_MODELS_GPT_H_
