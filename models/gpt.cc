#include "models/gpt.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "models/nn.h"
#include "ops/ops.h"

namespace dlf::models {
namespace {

constexpr float kInitStd = 0.02f;

absl::Status CheckConfig(const GptConfig& c) {
  if (c.vocab_size < 1 || c.block_size < 1 || c.n_layer < 1 || c.n_head < 1 || c.n_embd < 1) {
    return absl::InvalidArgumentError(absl::StrCat("gpt: vocab_size ", c.vocab_size, ", block_size ", c.block_size,
                                                   ", n_layer ", c.n_layer, ", n_head ", c.n_head, ", n_embd ",
                                                   c.n_embd, ": each must be at least 1"));
  }
  if (c.n_embd % c.n_head != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("gpt: n_head ", c.n_head, " does not divide n_embd ", c.n_embd));
  }
  if (c.dropout < 0 || c.dropout >= 1) {
    return absl::InvalidArgumentError(absl::StrCat("gpt: dropout must be in [0, 1), found ", c.dropout));
  }
  return absl::OkStatus();
}

nn::LinearOptions LinearInit(const GptConfig& c, float std = kInitStd) {
  return {.bias = c.bias, .weight_init = Initializer::Normal(std), .bias_init = Initializer::Zeros()};
}

// The residual projections' deviation, GPT-2's 1/sqrt(2 n_layer) scaling of the sum of 2 n_layer
// residual branches.
float ResidualStd(const GptConfig& c) { return kInitStd / static_cast<float>(std::sqrt(2.0 * c.n_layer)); }

Value LayerNorm(Graph& g, const std::string& name, Value x, const GptConfig& c) {
  return ops::LayerNorm(g, x, name, {.eps = 1e-5, .bias = c.bias});
}

// CausalSelfAttention "<name>": c_attn makes q, k, v [b, t, C], split into n_head heads; causal
// scaled dot-product attention with dropout on the weights; c_proj and dropout.
Value CausalSelfAttention(Graph& g, const std::string& name, Value x, const GptConfig& c) {
  const int64_t b = g.dim(x, 0), t = g.dim(x, 1), head = c.n_embd / c.n_head;
  const std::vector<Value> qkv =
      ops::Split(g, nn::Linear(g, name + ".c_attn", x, 3 * c.n_embd, LinearInit(c)), 2, {c.n_embd, c.n_embd, c.n_embd});
  if (qkv.size() != 3) return Value{};
  const auto split_heads = [&](Value v) {
    return ops::Transpose(g, ops::Reshape(g, v, {b, t, c.n_head, head}), {0, 2, 1, 3});  // [b, h, t, head]
  };
  const Value y = ops::ScaledDotProductAttention(g, split_heads(qkv[0]), split_heads(qkv[1]), split_heads(qkv[2]),
                                                 {.causal = true, .dropout = c.dropout});
  const Value merged = ops::Reshape(g, ops::Transpose(g, y, {0, 2, 1, 3}), {b, t, c.n_embd});
  return ops::Dropout(g, nn::Linear(g, name + ".c_proj", merged, c.n_embd, LinearInit(c, ResidualStd(c))), c.dropout);
}

// MLP "<name>": c_fc to 4 C, exact GELU, c_proj back to C, dropout.
Value Mlp(Graph& g, const std::string& name, Value x, const GptConfig& c) {
  const Value hidden = ops::Gelu(g, nn::Linear(g, name + ".c_fc", x, 4 * c.n_embd, LinearInit(c)));
  return ops::Dropout(g, nn::Linear(g, name + ".c_proj", hidden, c.n_embd, LinearInit(c, ResidualStd(c))), c.dropout);
}

// Block "<name>": x + attn(ln_1(x)), then + mlp(ln_2(.)).
Value Block(Graph& g, const std::string& name, Value x, const GptConfig& c) {
  x = ops::Add(g, x, CausalSelfAttention(g, name + ".attn", LayerNorm(g, name + ".ln_1", x, c), c));
  return ops::Add(g, x, Mlp(g, name + ".mlp", LayerNorm(g, name + ".ln_2", x, c), c));
}

}  // namespace

Value Gpt(Graph& g, Value ids, const GptConfig& c) {
  if (const absl::Status s = CheckConfig(c); !s.ok()) {
    g.RecordError(s);
    return Value{};
  }
  if (!g.Contains(ids)) return Value{};
  const Shape shape = g.shape(ids);  // a copy: adding nodes may move the graph's shapes
  if (g.dtype(ids) != DType::kI32 || shape.size() != 2 || shape[1] > c.block_size || shape[1] < 1) {
    g.RecordError(absl::InvalidArgumentError(
        absl::StrCat("gpt: expected token ids i32 [batch, t] with 1 <= t <= block_size ", c.block_size, ", found ",
                     DTypeName(g.dtype(ids)), ShapeString(shape))));
    return Value{};
  }
  const int64_t t = shape[1];
  const Value wte = g.Parameter(kGptTokenEmbedding, {c.vocab_size, c.n_embd}, Initializer::Normal(kInitStd));
  const Value wpe = g.Parameter("transformer.wpe.weight", {c.block_size, c.n_embd}, Initializer::Normal(kInitStd));
  // wpe(arange(t)) is the table's first t rows.
  const Value positions = ops::Reshape(g, ops::Slice(g, wpe, {0, 0}, {t, c.n_embd}), {1, t, c.n_embd});
  Value x = ops::Dropout(g, ops::Add(g, ops::Embedding(g, wte, ids), positions), c.dropout);
  for (int64_t i = 0; i < c.n_layer; ++i) x = Block(g, absl::StrCat("transformer.h.", i), x, c);
  x = LayerNorm(g, "transformer.ln_f", x, c);
  return ops::Linear(g, x, wte, Value{});  // lm_head, tied: x wte^T
}

int64_t GptParameterCount(const GptConfig& c) {
  const int64_t e = c.n_embd;
  const int64_t per_layer = 12 * e * e + 2 * e + (c.bias ? 11 * e : 0);
  return (c.vocab_size + c.block_size) * e + c.n_layer * per_layer + e + (c.bias ? e : 0);
}

}  // namespace dlf::models
