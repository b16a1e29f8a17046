#include "models/gpt_generate.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "graph/random.h"
#include "graph/status_macros.h"

namespace dlf::models {

int32_t SampleToken(const float* logits, int64_t vocab, const SamplingOptions& options, double u) {
  if (options.temperature <= 0) return static_cast<int32_t>(std::max_element(logits, logits + vocab) - logits);
  // The top_k-th largest logit: tokens below it get no probability (nanoGPT sets them to -inf).
  float floor = -std::numeric_limits<float>::infinity();
  if (options.top_k > 0 && options.top_k < vocab) {
    std::vector<float> sorted(logits, logits + vocab);
    std::nth_element(sorted.begin(), sorted.begin() + (options.top_k - 1), sorted.end(), std::greater<float>());
    floor = sorted[options.top_k - 1];
  }
  const float top = *std::max_element(logits, logits + vocab);
  std::vector<double> p(vocab, 0.0);
  double sum = 0;
  for (int64_t j = 0; j < vocab; ++j) {
    if (logits[j] >= floor) sum += p[j] = std::exp((logits[j] - top) / options.temperature);
  }
  double cumulative = 0;
  for (int64_t j = 0; j < vocab; ++j) {
    cumulative += p[j] / sum;
    if (p[j] > 0 && u < cumulative) return static_cast<int32_t>(j);
  }
  for (int64_t j = vocab - 1; j >= 0; --j) {  // u within rounding of 1: the last possible token
    if (p[j] > 0) return static_cast<int32_t>(j);
  }
  return 0;
}

absl::StatusOr<std::unique_ptr<GptGenerator>> GptGenerator::Create(const GptConfig& config,
                                                                    const std::map<std::string, Tensor>& weights,
                                                                    bool bf16) {
  std::unique_ptr<GptGenerator> generator(new GptGenerator(config));
  DLF_RETURN_IF_ERROR(generator->Build(weights, bf16));
  return generator;
}

absl::Status GptGenerator::Build(const std::map<std::string, Tensor>& weights, bool bf16) {
  step_ = BuildGptStep(graph_, config_);
  DLF_RETURN_IF_ERROR(graph_.status());
  for (Value p : graph_.parameters()) {
    const auto it = weights.find(graph_.name(p));
    if (it == weights.end()) {
      return absl::InvalidArgumentError(absl::StrCat("the checkpoint has no '", graph_.name(p), "' (", ShapeString(graph_.shape(p)),
                                                     ") of gpt ", GptConfigRecord(config_)));
    }
    if (it->second.dtype() != DType::kF32 || it->second.shape() != graph_.shape(p)) {
      return absl::InvalidArgumentError(absl::StrCat("the checkpoint's '", it->first, "' is ", DTypeName(it->second.dtype()),
                                                     ShapeString(it->second.shape()), ", the model's f32",
                                                     ShapeString(graph_.shape(p))));
    }
    graph_.parameter_value(p) = it->second.Clone();
  }
  std::vector<Value> fetches = {step_.logits};
  for (const GptLayerCache& layer : step_.layers) {
    fetches.push_back(layer.k);
    fetches.push_back(layer.v);
  }
  DLF_ASSIGN_OR_RETURN(executor_, Executor::Compile(graph_, fetches,
                                                    {.training = false, .bf16 = bf16, .fixed_parameters = true}));
  const Shape cache = graph_.shape(step_.layers[0].past_k);
  for (int64_t l = 0; l < config_.n_layer; ++l) {
    past_k_.emplace_back(DType::kF32, cache);
    past_v_.emplace_back(DType::kF32, cache);
  }
  mask_ = Tensor(DType::kF32, {1, config_.block_size + 1});
  id_ = Tensor(DType::kI32, {1, 1});
  position_ = Tensor(DType::kI32, {1, 1});
  return absl::OkStatus();
}

absl::StatusOr<const float*> GptGenerator::Step(int32_t token) {
  if (token < 0 || token >= config_.vocab_size) {
    return absl::InvalidArgumentError(absl::StrCat("token ", token, " is outside the vocabulary [0, ", config_.vocab_size, ")"));
  }
  const int64_t position = static_cast<int64_t>(context_.size());
  // The cache rows before this position and the token itself (the last column) are seen.
  float* mask = mask_.f32();
  for (int64_t j = 0; j < config_.block_size; ++j) mask[j] = j < position ? 0.0f : -std::numeric_limits<float>::infinity();
  mask[config_.block_size] = 0.0f;
  id_.i32()[0] = token;
  position_.i32()[0] = static_cast<int32_t>(position);
  std::vector<Feed> feeds = {{step_.ids, &id_}, {step_.positions, &position_}, {step_.mask, &mask_}};
  for (int64_t l = 0; l < config_.n_layer; ++l) {
    feeds.push_back({step_.layers[l].past_k, &past_k_[l]});
    feeds.push_back({step_.layers[l].past_v, &past_v_[l]});
  }
  DLF_RETURN_IF_ERROR(executor_->Run(feeds));
  // This token's keys and values [1, heads, 1, head] into row `position` of the caches.
  const int64_t heads = config_.n_head, head = config_.n_embd / config_.n_head;
  for (int64_t l = 0; l < config_.n_layer; ++l) {
    const float* k = executor_->fetch(1 + 2 * l).f32();
    const float* v = executor_->fetch(2 + 2 * l).f32();
    for (int64_t h = 0; h < heads; ++h) {
      const int64_t row = (h * config_.block_size + position) * head;
      std::copy(k + h * head, k + (h + 1) * head, past_k_[l].f32() + row);
      std::copy(v + h * head, v + (h + 1) * head, past_v_[l].f32() + row);
    }
  }
  context_.push_back(token);
  ++steps_;
  return executor_->fetch(0).f32();
}

absl::StatusOr<const float*> GptGenerator::Push(int32_t token) {
  if (static_cast<int64_t>(context_.size()) < config_.block_size) return Step(token);
  const std::vector<int32_t> kept(context_.end() - config_.block_size / 2, context_.end());
  context_.clear();  // the cache rows are overwritten as positions are reached again
  for (int32_t t : kept) DLF_RETURN_IF_ERROR(Step(t).status());
  return Step(token);
}

absl::StatusOr<std::vector<int32_t>> GptGenerator::Generate(const std::vector<int32_t>& prompt, int64_t max_new_tokens,
                                                            const SamplingOptions& options) {
  if (prompt.empty()) return absl::InvalidArgumentError("the prompt has no tokens: give at least one");
  context_.clear();  // the cache rows are overwritten as positions are reached again
  const float* logits = nullptr;
  for (int32_t t : prompt) {
    DLF_ASSIGN_OR_RETURN(logits, Push(t));
  }
  std::vector<int32_t> out;
  const uint64_t stream = SplitMix64(options.seed);
  for (int64_t i = 0; i < max_new_tokens; ++i) {
    const double u = static_cast<double>(SplitMix64(stream + static_cast<uint64_t>(i)) >> 11) * 0x1.0p-53;
    out.push_back(SampleToken(logits, config_.vocab_size, options, u));
    if (i + 1 < max_new_tokens) {
      DLF_ASSIGN_OR_RETURN(logits, Push(out.back()));
    }
  }
  return out;
}

}  // namespace dlf::models
