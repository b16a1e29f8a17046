#include "models/gpt.h"

#include <cmath>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "graph/status_macros.h"
#include "models/nn.h"
#include "models/registry.h"
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

// nanoGPT's dropout, left out of the graph at rate 0 (its CPU configuration) rather than run as a copy.
Value Dropout(Graph& g, Value x, double rate) { return rate > 0 ? ops::Dropout(g, x, rate) : x; }

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
// scaled dot-product attention with dropout on the weights; c_proj and dropout. With a cache:
// one token attends to the cache's rows and itself (`mask` says which), and leaves its keys and
// values in the cache's k, v.
Value CausalSelfAttention(Graph& g, const std::string& name, Value x, const GptConfig& c, GptLayerCache* cache,
                          Value mask) {
  const int64_t b = g.dim(x, 0), t = g.dim(x, 1), head = c.n_embd / c.n_head;
  const std::vector<Value> qkv =
      ops::Split(g, nn::Linear(g, name + ".c_attn", x, 3 * c.n_embd, LinearInit(c)), 2, {c.n_embd, c.n_embd, c.n_embd});
  if (qkv.size() != 3) return Value{};
  const auto split_heads = [&](Value v) {
    return ops::Transpose(g, ops::Reshape(g, v, {b, t, c.n_head, head}), {0, 2, 1, 3});  // [b, h, t, head]
  };
  const Value q = split_heads(qkv[0]), k = split_heads(qkv[1]), v = split_heads(qkv[2]);
  Value y;
  if (cache == nullptr) {
    y = ops::ScaledDotProductAttention(g, q, k, v, {.causal = true, .dropout = c.dropout});
  } else {
    cache->k = k;
    cache->v = v;
    y = ops::ScaledDotProductAttention(g, q, ops::Concat(g, {cache->past_k, k}, 2), ops::Concat(g, {cache->past_v, v}, 2),
                                       {.mask = mask});
  }
  const Value merged = ops::Reshape(g, ops::Transpose(g, y, {0, 2, 1, 3}), {b, t, c.n_embd});
  return Dropout(g, nn::Linear(g, name + ".c_proj", merged, c.n_embd, LinearInit(c, ResidualStd(c))), c.dropout);
}

// MLP "<name>": c_fc to 4 C, exact GELU, c_proj back to C, dropout.
Value Mlp(Graph& g, const std::string& name, Value x, const GptConfig& c) {
  const Value hidden = ops::Gelu(g, nn::Linear(g, name + ".c_fc", x, 4 * c.n_embd, LinearInit(c)));
  return Dropout(g, nn::Linear(g, name + ".c_proj", hidden, c.n_embd, LinearInit(c, ResidualStd(c))), c.dropout);
}

// Block "<name>": x + attn(ln_1(x)), then + mlp(ln_2(.)).
Value Block(Graph& g, const std::string& name, Value x, const GptConfig& c, GptLayerCache* cache, Value mask) {
  x = ops::Add(g, x, CausalSelfAttention(g, name + ".attn", LayerNorm(g, name + ".ln_1", x, c), c, cache, mask));
  return ops::Add(g, x, Mlp(g, name + ".mlp", LayerNorm(g, name + ".ln_2", x, c), c));
}

Value TokenEmbedding(Graph& g, const GptConfig& c) {
  return g.Parameter(kGptTokenEmbedding, {c.vocab_size, c.n_embd}, Initializer::Normal(kInitStd));
}
Value PositionEmbedding(Graph& g, const GptConfig& c) {
  return g.Parameter("transformer.wpe.weight", {c.block_size, c.n_embd}, Initializer::Normal(kInitStd));
}

// Dropout on the embeddings' sum x [b, t, C], the blocks (each with its cache, when given), ln_f
// and the head tied to the token embedding `wte`.
Value Transformer(Graph& g, Value x, Value wte, const GptConfig& c, std::vector<GptLayerCache>* caches, Value mask) {
  x = Dropout(g, x, c.dropout);
  for (int64_t i = 0; i < c.n_layer; ++i) {
    x = Block(g, absl::StrCat("transformer.h.", i), x, c, caches != nullptr ? &(*caches)[i] : nullptr, mask);
  }
  x = LayerNorm(g, "transformer.ln_f", x, c);
  return ops::Linear(g, x, wte, Value{});  // lm_head, tied: x wte^T
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
  const Value wte = TokenEmbedding(g, c);
  const Value wpe = PositionEmbedding(g, c);
  // wpe(arange(t)) is the table's first t rows.
  const Value positions = ops::Reshape(g, ops::Slice(g, wpe, {0, 0}, {t, c.n_embd}), {1, t, c.n_embd});
  return Transformer(g, ops::Add(g, ops::Embedding(g, wte, ids), positions), wte, c, nullptr, Value{});
}

GptStep BuildGptStep(Graph& g, const GptConfig& config, int64_t batch) {
  GptConfig c = config;
  c.dropout = 0;  // decoding is inference
  GptStep step;
  if (const absl::Status s = CheckConfig(c); !s.ok()) {
    g.RecordError(s);
    return step;
  }
  const int64_t head = c.n_embd / c.n_head;
  step.ids = g.Input("ids", DType::kI32, {batch, 1});
  step.positions = g.Input("positions", DType::kI32, {batch, 1});
  step.mask = g.Input("mask", DType::kF32, {1, c.block_size + 1});
  step.layers.resize(c.n_layer);
  for (int64_t i = 0; i < c.n_layer; ++i) {
    const Shape cache = {batch, c.n_head, c.block_size, head};
    step.layers[i].past_k = g.Input(absl::StrCat("past_k.", i), DType::kF32, cache);
    step.layers[i].past_v = g.Input(absl::StrCat("past_v.", i), DType::kF32, cache);
  }
  const Value wte = TokenEmbedding(g, c);
  const Value wpe = PositionEmbedding(g, c);
  const Value x = ops::Add(g, ops::Embedding(g, wte, step.ids), ops::Embedding(g, wpe, step.positions));
  step.logits = Transformer(g, x, wte, c, &step.layers, step.mask);
  return step;
}

int64_t GptParameterCount(const GptConfig& c) {
  const int64_t e = c.n_embd;
  const int64_t per_layer = 12 * e * e + 2 * e + (c.bias ? 11 * e : 0);
  return (c.vocab_size + c.block_size) * e + c.n_layer * per_layer + e + (c.bias ? e : 0);
}

std::string GptConfigRecord(const GptConfig& c) {
  return absl::StrCat("vocab_size=", c.vocab_size, ",block_size=", c.block_size, ",n_layer=", c.n_layer,
                      ",n_head=", c.n_head, ",n_embd=", c.n_embd, ",dropout=", c.dropout, ",bias=", c.bias ? 1 : 0);
}

absl::StatusOr<GptConfig> ParseGptConfigRecord(std::string_view record) {
  std::map<std::string, std::string> fields;
  for (absl::string_view field : absl::StrSplit(absl::string_view(record.data(), record.size()), ',')) {
    const std::pair<std::string, std::string> kv = absl::StrSplit(field, absl::MaxSplits('=', 1));
    fields[kv.first] = kv.second;
  }
  GptConfig c;
  const auto integer = [&](const char* key, int64_t& out) -> absl::Status {
    if (absl::SimpleAtoi(fields[key], &out)) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrCat("gpt config '", std::string(record), "': ", key,
                                                   " is missing or not an integer"));
  };
  int64_t bias = 0;
  DLF_RETURN_IF_ERROR(integer("vocab_size", c.vocab_size));
  DLF_RETURN_IF_ERROR(integer("block_size", c.block_size));
  DLF_RETURN_IF_ERROR(integer("n_layer", c.n_layer));
  DLF_RETURN_IF_ERROR(integer("n_head", c.n_head));
  DLF_RETURN_IF_ERROR(integer("n_embd", c.n_embd));
  DLF_RETURN_IF_ERROR(integer("bias", bias));
  if (!absl::SimpleAtod(fields["dropout"], &c.dropout)) {
    return absl::InvalidArgumentError(absl::StrCat("gpt config '", std::string(record), "': dropout is missing or not a number"));
  }
  c.bias = bias != 0;
  DLF_RETURN_IF_ERROR(CheckConfig(c));
  return c;
}

GptConfig GptConfigFor(const ModelOptions& options) {
  const TransformerOptions& t = options.transformer;
  return {.vocab_size = options.num_classes, .block_size = t.block_size, .n_layer = t.n_layer,
          .n_head = t.n_head, .n_embd = t.n_embd, .dropout = options.dropout, .bias = t.bias};
}

ModelOptions GptModelOptions(const GptConfig& config) {
  ModelOptions options;
  options.num_classes = config.vocab_size;
  options.dropout = config.dropout;
  options.transformer = {.block_size = config.block_size, .n_layer = config.n_layer, .n_head = config.n_head,
                         .n_embd = config.n_embd, .bias = config.bias};
  return options;
}

namespace {

// nanoGPT's configuration for a CPU (its README): 4 layers, 4 heads, 128 wide, 64 tokens, no
// dropout; the default data is a character vocabulary of 155 (the Jargon File).
DLF_REGISTER_MODEL({.name = "gpt",
                    .description = "nanoGPT's GPT (--n_layer 4 --n_head 4 --n_embd 128 --block_size 64 by default)",
                    .build = [](Graph& g, Value ids, const ModelOptions& options) { return Gpt(g, ids, GptConfigFor(options)); },
                    .task = TaskKind::kLanguageModel,
                    .input_shape = {64},
                    .default_dataset = "text",
                    .dropout = 0.0,
                    .parameters = GptParameterCount({.vocab_size = 10, .block_size = 64, .n_layer = 4, .n_head = 4,
                                                     .n_embd = 128}),
                    .tied_names = {{kGptTiedHead, kGptTokenEmbedding}}});

}  // namespace

}  // namespace dlf::models
