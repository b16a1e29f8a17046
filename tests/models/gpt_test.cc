// nanoGPT's GPT: its parameter names, shapes and count, its initialization, causality, the tied
// head's gradient, and the loss of nanoGPT's own module (tools/gpt_check.py, PyTorch) on dlf's
// weights.
#include "models/gpt.h"

#include "models/gpt_generate.h"

#include <cmath>
#include <cstdio>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "data/safetensors.h"
#include "gmock/gmock.h"
#include "graph/autodiff.h"
#include "graph/executor.h"
#include "gtest/gtest.h"
#include "ops/ops.h"
#include "tests/testing/model_weights.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"

namespace dlf::models {
namespace {

using ::dlf::testing::BinaryPath;
using ::dlf::testing::ProcessResult;
using ::dlf::testing::PythonPath;
using ::dlf::testing::RunProcess;

constexpr GptConfig kSmall = {.vocab_size = 11, .block_size = 8, .n_layer = 2, .n_head = 2, .n_embd = 16,
                              .dropout = 0.1, .bias = true};

using ::dlf::testing::PerturbParameters;

std::map<std::string, Shape> ParameterShapes(Graph& g) {
  std::map<std::string, Shape> shapes;
  for (Value v : g.parameters()) shapes[g.name(v)] = g.shape(v);
  return shapes;
}

TEST(GptTest, NamesShapesAndCountAreNanoGpts) {
  for (bool bias : {true, false}) {
    GptConfig c = kSmall;
    c.bias = bias;
    Graph g(1);
    const Value logits = Gpt(g, g.Input("ids", DType::kI32, {3, 5}), c);
    ASSERT_TRUE(g.status().ok()) << g.status();
    EXPECT_EQ(g.shape(logits), (Shape{3, 5, 11}));
    std::map<std::string, Shape> expected = {{"transformer.wte.weight", {11, 16}},
                                             {"transformer.wpe.weight", {8, 16}},
                                             {"transformer.ln_f.weight", {16}}};
    if (bias) expected["transformer.ln_f.bias"] = {16};
    for (int i = 0; i < 2; ++i) {
      const std::string h = absl::StrCat("transformer.h.", i);
      const std::pair<std::string, Shape> weights[] = {{".ln_1.weight", {16}}, {".attn.c_attn.weight", {48, 16}},
                                                       {".attn.c_proj.weight", {16, 16}}, {".ln_2.weight", {16}},
                                                       {".mlp.c_fc.weight", {64, 16}}, {".mlp.c_proj.weight", {16, 64}}};
      for (const auto& [suffix, shape] : weights) {
        expected[h + suffix] = shape;
        if (bias) expected[h + suffix.substr(0, suffix.size() - 6) + "bias"] = {shape[0]};
      }
    }
    EXPECT_EQ(ParameterShapes(g), expected);
    int64_t count = 0;
    for (Value v : g.parameters()) count += g.parameter_value(v).num_elements();
    EXPECT_EQ(count, GptParameterCount(c));
  }
  // nanoGPT's shakespeare_char configuration (6 x 384, 6 heads, 256 positions, no bias, 65
  // characters): its model.py prints "number of parameters: 10.65M", which leaves the 256 x 384
  // position embedding out (get_num_params(non_embedding=True)).
  EXPECT_EQ(GptParameterCount({}) - 256 * 384, 10'646'784);
}

// Std of each family of weights over a larger model: N(0, 0.02), the residual projections
// N(0, 0.02 / sqrt(2 n_layer)), biases 0, LayerNorm weights 1.
TEST(GptTest, InitializationIsNanoGpts) {
  const GptConfig c = {.vocab_size = 64, .block_size = 64, .n_layer = 4, .n_head = 4, .n_embd = 128, .bias = true};
  Graph g(3);
  Gpt(g, g.Input("ids", DType::kI32, {1, 4}), c);
  ASSERT_TRUE(g.status().ok()) << g.status();
  for (Value v : g.parameters()) {
    const std::string& name = g.name(v);
    const Tensor& t = g.parameter_value(v);
    double sum = 0, squares = 0;
    for (int64_t i = 0; i < t.num_elements(); ++i) {
      sum += t.f32()[i];
      squares += double{t.f32()[i]} * t.f32()[i];
    }
    const double mean = sum / t.num_elements(), std = std::sqrt(squares / t.num_elements() - mean * mean);
    SCOPED_TRACE(name);
    if (absl::EndsWith(name, ".bias")) {
      EXPECT_EQ(squares, 0.0);
    } else if (name.find(".ln_") != std::string::npos) {
      EXPECT_EQ(mean, 1.0);
      EXPECT_EQ(std, 0.0);
    } else {
      const double expected = absl::EndsWith(name, "c_proj.weight") ? 0.02 / std::sqrt(8.0) : 0.02;
      EXPECT_NEAR(std, expected, 0.1 * expected);
      EXPECT_NEAR(mean, 0.0, 0.1 * expected);
    }
  }
}

// Logits at position i depend on tokens 0..i only.
TEST(GptTest, IsCausal) {
  Graph g(5);
  const Value ids = g.Input("ids", DType::kI32, {1, 6});
  const Value logits = Gpt(g, ids, kSmall);
  auto exec = Executor::Compile(g, {logits}, {.training = false});
  ASSERT_TRUE(exec.ok()) << exec.status();
  Tensor a = Tensor::I32({1, 6}, {1, 2, 3, 4, 5, 6});
  ASSERT_TRUE((*exec)->Run({{ids, &a}}).ok());
  const Tensor first = (*exec)->fetch(0).Clone();
  Tensor b = Tensor::I32({1, 6}, {1, 2, 3, 9, 0, 10});  // positions 3.. changed
  ASSERT_TRUE((*exec)->Run({{ids, &b}}).ok());
  const Tensor& second = (*exec)->fetch(0);
  for (int64_t i = 0; i < 6 * 11; ++i) {
    if (i < 3 * 11) {
      EXPECT_EQ(first.f32()[i], second.f32()[i]) << i;
    } else {
      EXPECT_NE(first.f32()[i], second.f32()[i]) << i;
    }
  }
}

TEST(GptTest, BadConfigAndInputAreErrors) {
  Graph g;
  GptConfig c = kSmall;
  c.n_head = 3;
  Gpt(g, g.Input("ids", DType::kI32, {2, 4}), c);
  EXPECT_THAT(std::string(g.status().message()), ::testing::HasSubstr("n_head 3 does not divide n_embd 16"));
  Graph h;
  Gpt(h, h.Input("ids", DType::kI32, {2, 9}), kSmall);
  EXPECT_THAT(std::string(h.status().message()),
              ::testing::HasSubstr("expected token ids i32 [batch, t] with 1 <= t <= block_size 8, found i32[2, 9]"));
}

// dlf's eval-mode loss on its own weights equals nanoGPT's module's (PyTorch, f32) to 1e-5, and
// the checkpoint loads strictly: lm_head.weight is written beside transformer.wte.weight.
TEST(GptTest, NanoGptsModuleLoadsTheWeightsAndComputesTheSameLoss) {
  for (bool bias : {true, false}) {
    GptConfig c = kSmall;
    c.bias = bias;
    Graph g(7);
    const Value ids = g.Input("ids", DType::kI32, {3, 8});
    const Value targets = g.Input("targets", DType::kI32, {3, 8});
    const Value loss = ops::SoftmaxCrossEntropy(g, Gpt(g, ids, c), targets);
    auto exec = Executor::Compile(g, {loss}, {.training = false, .fast_math = false});
    ASSERT_TRUE(exec.ok()) << exec.status();
    Tensor x(DType::kI32, {3, 8}), y(DType::kI32, {3, 8});
    for (int i = 0; i < 24; ++i) {
      x.i32()[i] = (i * 7 + 3) % 11;
      y.i32()[i] = (i * 5 + 1) % 11;
    }
    PerturbParameters(g);
    ASSERT_TRUE((*exec)->Run({{ids, &x}, {targets, &y}}).ok());
    EXPECT_GT(std::abs((*exec)->fetch(0).f32()[0] - std::log(11.0)), 0.05);
    data::TensorFile file;
    for (Value v : g.persistent_values()) file.tensors[g.name(v)] = g.parameter_value(v).Clone();
    file.tensors[kGptTiedHead] = file.tensors[kGptTokenEmbedding].Clone();
    file.tensors["check/ids"] = x.Clone();
    file.tensors["check/targets"] = y.Clone();
    file.tensors["check/loss"] = (*exec)->fetch(0).Clone();
    const std::string path = ::dlf::testing::TempDir("gpt") + "/gpt.safetensors";
    ASSERT_TRUE(data::WriteSafetensors(path, file).ok());
    const ProcessResult r = RunProcess(PythonPath(), {BinaryPath("tools/gpt_check.py"), "--n_head=2", path});
    std::printf("%s", r.output.c_str());
    EXPECT_EQ(r.exit_code(), 0) << r.output;
    EXPECT_THAT(r.output, ::testing::HasSubstr("load_state_dict(strict=True) took all"));
    EXPECT_THAT(r.output, ::testing::HasSubstr("validation loss: nanoGPT"));
  }
}

// The full model's eval logits for `tokens` (one sequence, at most block_size) on `weights`.
class FullModel {
 public:
  FullModel(const GptConfig& c, const std::map<std::string, Tensor>& weights, int64_t t) : g_(1) {
    ids_ = g_.Input("ids", DType::kI32, {1, t});
    const Value logits = Gpt(g_, ids_, c);
    for (Value p : g_.parameters()) g_.parameter_value(p) = weights.at(g_.name(p)).Clone();
    exec_ = std::move(*Executor::Compile(g_, {logits}, {.training = false, .fast_math = false}));
  }
  const Tensor& Logits(const std::vector<int32_t>& tokens) {
    Tensor ids = Tensor::I32({1, static_cast<int64_t>(tokens.size())}, tokens);
    EXPECT_TRUE(exec_->Run({{ids_, &ids}}).ok());
    return exec_->fetch(0);
  }

 private:
  Graph g_;
  Value ids_;
  std::unique_ptr<Executor> exec_;
};

std::map<std::string, Tensor> PerturbedWeights(const GptConfig& c) {
  Graph g(9);
  Gpt(g, g.Input("ids", DType::kI32, {1, 1}), c);
  PerturbParameters(g);
  std::map<std::string, Tensor> weights;
  for (Value p : g.parameters()) weights[g.name(p)] = g.parameter_value(p).Clone();
  return weights;
}

// Each decoding step's logits (one token on the key/value cache) equal the full model's at that
// position, up to block_size and past it, where the generator keeps the last block_size / 2
// tokens and encodes them again from position 0.
TEST(GptGenerateTest, CachedStepsEqualTheFullModel) {
  const std::map<std::string, Tensor> weights = PerturbedWeights(kSmall);
  auto generator = GptGenerator::Create(kSmall, weights);
  ASSERT_TRUE(generator.ok()) << generator.status();
  FullModel full(kSmall, weights, 8);
  const std::vector<int32_t> tokens = {3, 1, 4, 1, 5, 9, 2, 6, 5, 3};
  double worst = 0, largest = 0;
  for (size_t i = 0; i < tokens.size(); ++i) {
    absl::StatusOr<const float*> step = (*generator)->Push(tokens[i]);
    ASSERT_TRUE(step.ok()) << step.status();
    // The context the cache holds: all tokens up to block_size, then the kept 4 and the new ones.
    const size_t first = i < 8 ? 0 : 4;
    std::vector<int32_t> context(tokens.begin() + first, tokens.begin() + i + 1);
    if (context.size() < 8) {
      FullModel shorter(kSmall, weights, static_cast<int64_t>(context.size()));
      const Tensor& ref = shorter.Logits(context);
      for (int64_t j = 0; j < 11; ++j) {
        const float want = ref.f32()[(context.size() - 1) * 11 + j];
        worst = std::max(worst, std::abs(double{(*step)[j]} - want));
        largest = std::max(largest, std::abs(double{want}));
      }
    } else {
      const Tensor& ref = full.Logits(context);
      for (int64_t j = 0; j < 11; ++j) worst = std::max(worst, std::abs(double{(*step)[j]} - ref.f32()[7 * 11 + j]));
    }
  }
  EXPECT_GT(largest, 0.5);
  EXPECT_LT(worst, 1e-5 * largest) << worst;
  // One step per token, and 4 more when the 9th found the cache full and its last 4 tokens were
  // encoded again.
  EXPECT_EQ((*generator)->steps(), 10 + 4);
}

// Greedy decoding with the cache is greedy decoding by running the whole prefix again; each new
// token costs one step (the prompt's 3, then one per token but the last).
TEST(GptGenerateTest, GreedyEqualsRecomputationAndEachTokenIsOneStep) {
  const std::map<std::string, Tensor> weights = PerturbedWeights(kSmall);
  auto generator = GptGenerator::Create(kSmall, weights);
  ASSERT_TRUE(generator.ok()) << generator.status();
  const std::vector<int32_t> prompt = {2, 7, 1};
  auto tokens = (*generator)->Generate(prompt, 5, {.temperature = 0});
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  EXPECT_EQ((*generator)->steps(), 3 + 4);
  std::vector<int32_t> context = prompt;
  for (int i = 0; i < 5; ++i) {
    FullModel full(kSmall, weights, static_cast<int64_t>(context.size()));
    const Tensor& logits = full.Logits(context);
    const float* last = logits.f32() + (context.size() - 1) * 11;
    context.push_back(static_cast<int32_t>(std::max_element(last, last + 11) - last));
  }
  EXPECT_EQ(*tokens, std::vector<int32_t>(context.begin() + 3, context.end()));
}

TEST(GptGenerateTest, SamplingIsDeterministicPerSeed) {
  const std::map<std::string, Tensor> weights = PerturbedWeights(kSmall);
  auto a = GptGenerator::Create(kSmall, weights);
  auto b = GptGenerator::Create(kSmall, weights);
  ASSERT_TRUE(a.ok() && b.ok());
  const SamplingOptions options = {.temperature = 1.5, .top_k = 0, .seed = 5};
  const auto first = (*a)->Generate({1}, 20, options);
  const auto again = (*b)->Generate({1}, 20, options);
  const auto other = (*a)->Generate({1}, 20, {.temperature = 1.5, .top_k = 0, .seed = 6});
  ASSERT_TRUE(first.ok() && again.ok() && other.ok());
  EXPECT_EQ(*first, *again);
  EXPECT_NE(*first, *other);
}

// The draw u picks by cumulative probability over the top_k: over a fine grid of u, each token's
// share is its softmax(logits / temperature) probability among the top k.
TEST(GptGenerateTest, SampleTokenFollowsTheTopKSoftmax) {
  const float logits[] = {1.0f, 3.0f, -2.0f, 2.5f, 0.0f};
  const SamplingOptions options = {.temperature = 0.7, .top_k = 3};
  std::vector<int> counts(5, 0);
  const int n = 100000;
  for (int i = 0; i < n; ++i) ++counts[SampleToken(logits, 5, options, (i + 0.5) / n)];
  // Top 3: ids 1 (3.0), 3 (2.5), 0 (1.0).
  const double e1 = std::exp(3.0 / 0.7), e3 = std::exp(2.5 / 0.7), e0 = std::exp(1.0 / 0.7), sum = e1 + e3 + e0;
  EXPECT_NEAR(counts[1] / double{n}, e1 / sum, 1e-4);
  EXPECT_NEAR(counts[3] / double{n}, e3 / sum, 1e-4);
  EXPECT_NEAR(counts[0] / double{n}, e0 / sum, 1e-4);
  EXPECT_EQ(counts[2] + counts[4], 0);
  EXPECT_EQ(SampleToken(logits, 5, {.temperature = 0}, 0.99), 1);
  EXPECT_EQ(SampleToken(logits, 5, {.temperature = 1, .top_k = 1}, 0.99), 1);
}

TEST(GptGenerateTest, MissingOrMisshapenWeightsAreErrors) {
  std::map<std::string, Tensor> weights = PerturbedWeights(kSmall);
  weights.erase("transformer.h.1.mlp.c_fc.bias");
  EXPECT_THAT(std::string(GptGenerator::Create(kSmall, weights).status().message()),
              ::testing::HasSubstr("the checkpoint has no 'transformer.h.1.mlp.c_fc.bias' ([64])"));
  weights = PerturbedWeights(kSmall);
  weights["transformer.wpe.weight"] = Tensor(DType::kF32, {16, 16});
  EXPECT_THAT(std::string(GptGenerator::Create(kSmall, weights).status().message()),
              ::testing::HasSubstr("the checkpoint's 'transformer.wpe.weight' is f32[16, 16], the model's f32[8, 16]"));
  auto generator = GptGenerator::Create(kSmall, PerturbedWeights(kSmall));
  ASSERT_TRUE(generator.ok());
  EXPECT_THAT(std::string((*generator)->Push(11).status().message()),
              ::testing::HasSubstr("token 11 is outside the vocabulary [0, 11)"));
}

TEST(GptTest, ConfigRecordRoundTrips) {
  const auto back = ParseGptConfigRecord(GptConfigRecord(kSmall));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(GptConfigRecord(*back), GptConfigRecord(kSmall));
  EXPECT_THAT(std::string(ParseGptConfigRecord("vocab_size=65,n_layer=x").status().message()),
              ::testing::HasSubstr("block_size is missing or not an integer"));
}

}  // namespace
}  // namespace dlf::models
