// ScaledDotProductAttention: fused and composed, against a reference loop (causal or not, T != S,
// leading [B, H] axes), finite-difference gradients of q, k and v, the two equal on sizes where
// the fused kernel works in several chunks of slices, dropout only in training, shape errors.
#include <cmath>
#include <string>
#include <tuple>
#include <vector>

#include "gmock/gmock.h"
#include "graph/executor.h"
#include "gtest/gtest.h"
#include "ops/ops.h"
#include "tests/testing/grad_check.h"

namespace dlf {
namespace {

using ::dlf::testing::ExpectGradientsMatch;
using ::dlf::testing::RandomTensor;
using ::dlf::testing::RunForward;

constexpr int64_t L = 4, T = 3, S = 5, D = 4, DV = 3;  // L = B * H = 2 * 2
const Shape kQ = {2, 2, T, D}, kK = {2, 2, S, D}, kV = {2, 2, S, DV};

ops::AttentionOptions::Kernel KernelFor(bool composed) {
  return composed ? ops::AttentionOptions::Kernel::kComposed : ops::AttentionOptions::Kernel::kFused;
}

// softmax(q k^T / sqrt(d) + mask) v for each of the L heads, in double.
std::vector<double> ReferenceAttention(const Tensor& q, const Tensor& k, const Tensor& v, bool causal) {
  std::vector<double> out(L * T * DV, 0.0);
  for (int64_t l = 0; l < L; ++l)
    for (int64_t i = 0; i < T; ++i) {
      std::vector<double> w(S, 0.0);
      double max = -1e300, sum = 0;
      const int64_t seen = causal ? std::min<int64_t>(i + 1, S) : S;  // tril(ones(T, S))
      for (int64_t j = 0; j < seen; ++j) {
        for (int64_t c = 0; c < D; ++c) w[j] += q.f32()[(l * T + i) * D + c] * k.f32()[(l * S + j) * D + c];
        w[j] /= std::sqrt(static_cast<double>(D));
        max = std::max(max, w[j]);
      }
      for (int64_t j = 0; j < seen; ++j) sum += w[j] = std::exp(w[j] - max);
      for (int64_t j = 0; j < seen; ++j)
        for (int64_t c = 0; c < DV; ++c) out[(l * T + i) * DV + c] += w[j] / sum * v.f32()[(l * S + j) * DV + c];
    }
  return out;
}

// (causal, composed)
class AttentionTest : public ::testing::TestWithParam<std::tuple<bool, bool>> {};

TEST_P(AttentionTest, MatchesReferenceAndFiniteDifferences) {
  const auto [causal, composed] = GetParam();
  Tensor q = RandomTensor(kQ, 1, -1.5f, 1.5f), k = RandomTensor(kK, 2, -1.5f, 1.5f), v = RandomTensor(kV, 3);
  auto build = [causal = causal, composed = composed](Graph& g, const std::vector<Value>& in) {
    return ops::ScaledDotProductAttention(g, in[0], in[1], in[2], {.causal = causal, .kernel = KernelFor(composed)});
  };
  const Tensor y = RunForward(build, {&q, &k, &v});
  ASSERT_EQ(y.shape(), Shape({2, 2, T, DV}));
  const std::vector<double> ref = ReferenceAttention(q, k, v, causal);
  for (size_t i = 0; i < ref.size(); ++i) ASSERT_NEAR(y.f32()[i], ref[i], 1e-5) << i;
  ExpectGradientsMatch(build, {&q, &k, &v});
}

INSTANTIATE_TEST_SUITE_P(Masks, AttentionTest, ::testing::Combine(::testing::Bool(), ::testing::Bool()),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param) ? "causal" : "full") +
                                  (std::get<1>(info.param) ? "_composed" : "_fused");
                         });

// At T = S = 300 a slice's scores take 360 KB: the fused kernel works on chunks of 2 slices and
// a last one of 1 (L = 5). Its output and its gradients equal the composed ops' to f32 rounding.
TEST(FusedAttentionTest, EqualsTheComposedOpsOverSeveralChunks) {
  for (const bool causal : {false, true}) {
    const Shape qs = {5, 300, 16}, ks = {5, 300, 16}, vs = {5, 300, 8};
    Tensor q = RandomTensor(qs, 11, -2.0f, 2.0f), k = RandomTensor(ks, 12, -2.0f, 2.0f), v = RandomTensor(vs, 13);
    const auto run = [&](bool composed) {
      return ::dlf::testing::RunForwardAndBackward(
          [&](Graph& g, const std::vector<Value>& in) {
            return ops::ScaledDotProductAttention(g, in[0], in[1], in[2], {.causal = causal, .kernel = KernelFor(composed)});
          },
          {&q, &k, &v}, {.training = true});
    };
    const std::vector<Tensor> fused = run(false), composed = run(true);
    ASSERT_EQ(fused.size(), 4u);
    for (size_t i = 0; i < fused.size(); ++i) {
      EXPECT_LT(::dlf::testing::RelativeError(fused[i], composed[i]), 1e-5) << "causal " << causal << ", tensor " << i;
    }
  }
}

// The fused graph keeps no [*, T, S] value: its largest is an input's or output's size.
TEST(FusedAttentionTest, KeepsNoScoresBetweenForwardAndBackward) {
  for (const bool composed : {false, true}) {
    Graph g;
    const Value q = g.Input("q", DType::kF32, {2, 64, 8}), k = g.Input("k", DType::kF32, {2, 64, 8}),
                v = g.Input("v", DType::kF32, {2, 64, 8});
    ops::ScaledDotProductAttention(g, q, k, v, {.causal = true, .kernel = KernelFor(composed)});
    int64_t largest = 0;
    for (int id = 0; id < g.num_nodes(); ++id) {
      for (Value out : g.node(id).outputs) largest = std::max(largest, NumElements(g.shape(out)));
    }
    EXPECT_EQ(largest, composed ? 2 * 64 * 64 : 2 * 64 * 8) << "composed " << composed;
  }
}

// An additive mask [T, S]: the causal mask fed as a tensor gives the causal result; finite values
// shift the scores (reference loop), with finite-difference gradients of q, k, v and the mask.
TEST(AttentionTest, AdditiveMaskIsAddedToTheScores) {
  Tensor q = RandomTensor(kQ, 4, -1.5f, 1.5f), k = RandomTensor(kK, 5, -1.5f, 1.5f), v = RandomTensor(kV, 6);
  auto masked = [](Graph& g, const std::vector<Value>& in) {
    return ops::ScaledDotProductAttention(g, in[0], in[1], in[2], {.mask = in[3]});
  };
  Tensor causal(DType::kF32, {T, S});
  for (int64_t i = 0; i < T; ++i)
    for (int64_t j = i + 1; j < S; ++j) causal.f32()[i * S + j] = -INFINITY;
  const Tensor y = RunForward(masked, {&q, &k, &v, &causal});
  const std::vector<double> ref = ReferenceAttention(q, k, v, true);
  for (size_t i = 0; i < ref.size(); ++i) ASSERT_NEAR(y.f32()[i], ref[i], 1e-5) << i;

  Tensor bias = RandomTensor({T, S}, 7, -1.0f, 1.0f);
  const Tensor z = RunForward(masked, {&q, &k, &v, &bias});
  for (int64_t l = 0; l < L; ++l)
    for (int64_t i = 0; i < T; ++i) {
      std::vector<double> w(S);
      double sum = 0;
      for (int64_t j = 0; j < S; ++j) {
        double dot = 0;
        for (int64_t c = 0; c < D; ++c) dot += q.f32()[(l * T + i) * D + c] * k.f32()[(l * S + j) * D + c];
        sum += w[j] = std::exp(dot / std::sqrt(static_cast<double>(D)) + bias.f32()[i * S + j]);
      }
      for (int64_t c = 0; c < DV; ++c) {
        double out = 0;
        for (int64_t j = 0; j < S; ++j) out += w[j] / sum * v.f32()[(l * S + j) * DV + c];
        ASSERT_NEAR(z.f32()[(l * T + i) * DV + c], out, 1e-5);
      }
    }
  ExpectGradientsMatch(masked, {&q, &k, &v, &bias});

  Graph g;
  ops::ScaledDotProductAttention(g, g.Input("q", DType::kF32, kQ), g.Input("k", DType::kF32, kK),
                                 g.Input("v", DType::kF32, kV), {.mask = g.Input("m", DType::kF32, {S, T})});
  EXPECT_THAT(std::string(g.status().message()), ::testing::HasSubstr("the mask must be [3, 5] (T, S), found [5, 3]"));
}

// Dropout on the weights: inference is the reference; training drops some (another output).
TEST(AttentionDropoutTest, OnlyInTraining) {
  Tensor q = RandomTensor(kQ, 4), k = RandomTensor(kK, 5), v = RandomTensor(kV, 6);
  auto build = [](Graph& g, const std::vector<Value>& in) {
    return ops::ScaledDotProductAttention(g, in[0], in[1], in[2], {.dropout = 0.5, .seed = 3});
  };
  const Tensor inference = RunForward(build, {&q, &k, &v}, /*training=*/false);
  const Tensor training = RunForward(build, {&q, &k, &v}, /*training=*/true);
  const std::vector<double> ref = ReferenceAttention(q, k, v, false);
  double changed = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    ASSERT_NEAR(inference.f32()[i], ref[i], 1e-5) << i;
    changed = std::max(changed, std::abs(training.f32()[i] - ref[i]));
  }
  EXPECT_GT(changed, 1e-2);
}

// The automatic choice: fused from more than 128 x 128 scores per slice without a mask; the fused
// kernel asked for with a mask is an error.
TEST(FusedAttentionTest, ChosenForLongContextsWithoutAMask) {
  const auto fused = [](int64_t t, double dropout) {
    Graph g;
    const Value q = g.Input("q", DType::kF32, {2, t, 8});
    ops::ScaledDotProductAttention(g, q, q, q, {.causal = true, .dropout = dropout});
    for (int id = 0; id < g.num_nodes(); ++id) {
      if (g.node(id).op == "FusedAttention") return true;
    }
    return false;
  };
  EXPECT_FALSE(fused(128, 0.0));
  EXPECT_TRUE(fused(129, 0.0));
  EXPECT_TRUE(fused(256, 0.1));
  Graph g;
  const Value q = g.Input("q", DType::kF32, {2, 4, 8});
  ops::ScaledDotProductAttention(g, q, q, q, {.mask = g.Input("m", DType::kF32, {4, 4}),
                                              .kernel = ops::AttentionOptions::Kernel::kFused});
  EXPECT_THAT(std::string(g.status().message()), ::testing::HasSubstr("the fused kernel takes no mask"));
}

// The fused kernel's dropout: with v the identity ([S, S] per slice) the output is the dropped
// weights themselves; each is 0 or the reference weight / (1 - rate), about rate of them 0, and
// inference drops none. Finite differences hold in training (the mask is a function of the step).
TEST(FusedAttentionTest, DropoutMasksTheWeightsAndItsGradientsMatch) {
  constexpr int64_t kL = 4, kT = 24, kS = 24, kD = 8;
  constexpr double kRate = 0.25;
  Tensor q = RandomTensor({kL, kT, kD}, 21, -1.5f, 1.5f), k = RandomTensor({kL, kS, kD}, 22, -1.5f, 1.5f);
  Tensor eye(DType::kF32, {kL, kS, kS});
  for (int64_t l = 0; l < kL; ++l)
    for (int64_t j = 0; j < kS; ++j) eye.f32()[(l * kS + j) * kS + j] = 1.0f;
  auto build = [](Graph& g, const std::vector<Value>& in) {
    return ops::ScaledDotProductAttention(g, in[0], in[1], in[2], {.dropout = kRate, .seed = 5,
                                                                   .kernel = ops::AttentionOptions::Kernel::kFused});
  };
  const Tensor inference = RunForward(build, {&q, &k, &eye}, /*training=*/false);
  const Tensor training = RunForward(build, {&q, &k, &eye}, /*training=*/true);
  int64_t dropped = 0;
  for (int64_t l = 0; l < kL; ++l)
    for (int64_t i = 0; i < kT; ++i) {
      std::vector<double> w(kS);
      double max = -1e300, sum = 0;
      for (int64_t j = 0; j < kS; ++j) {
        double dot = 0;
        for (int64_t c = 0; c < kD; ++c) dot += q.f32()[(l * kT + i) * kD + c] * k.f32()[(l * kS + j) * kD + c];
        max = std::max(max, w[j] = dot / std::sqrt(static_cast<double>(kD)));
      }
      for (double& x : w) sum += x = std::exp(x - max);
      for (int64_t j = 0; j < kS; ++j) {
        const int64_t at = (l * kT + i) * kS + j;
        ASSERT_NEAR(inference.f32()[at], w[j] / sum, 1e-6) << at;
        const float y = training.f32()[at];
        if (y == 0.0f) {
          ++dropped;
        } else {
          ASSERT_NEAR(y, w[j] / sum / (1 - kRate), 1e-6) << at;
        }
      }
    }
  EXPECT_NEAR(static_cast<double>(dropped) / (kL * kT * kS), kRate, 0.03);
  Tensor v = RandomTensor({kL, kS, 3}, 23);
  ExpectGradientsMatch(build, {&q, &k, &v});
}

TEST(AttentionShapeTest, MismatchesAreErrorsNamingTheShapes) {
  Graph g;
  const Value q = g.Input("q", DType::kF32, {2, 3, 4}), k = g.Input("k", DType::kF32, {2, 5, 6}),
              v = g.Input("v", DType::kF32, {2, 5, 3});
  ops::ScaledDotProductAttention(g, q, k, v);
  EXPECT_THAT(g.status().message(),
              ::testing::HasSubstr("q and k must have the same last axis (d), found q [2, 3, 4], k [2, 5, 6], v [2, 5, 3]"));
}

}  // namespace
}  // namespace dlf
