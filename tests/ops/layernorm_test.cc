// LayerNorm: the forward and its statistics against a reference loop (one and two normalized
// axes, leading axes of any rank), finite-difference gradients of x, weight and bias, the
// builder's parameters (affine, bias) and errors, and LayerNorm2d over an NCHW tensor's channels.
#include <cmath>

#include "gmock/gmock.h"
#include "graph/executor.h"
#include "gtest/gtest.h"
#include "ops/ops.h"
#include "tests/testing/grad_check.h"

namespace dlf {
namespace {

using ::dlf::testing::ExpectGradientsMatch;
using ::dlf::testing::RandomTensor;

// y, mean and var of each of x's rows of `width` elements, in double.
struct Reference {
  std::vector<double> y, mean, var;
};

Reference LayerNormReference(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
  const int64_t width = weight.num_elements(), rows = x.num_elements() / width;
  Reference r{std::vector<double>(x.num_elements()), std::vector<double>(rows), std::vector<double>(rows)};
  for (int64_t i = 0; i < rows; ++i) {
    const float* row = x.f32() + i * width;
    for (int64_t j = 0; j < width; ++j) r.mean[i] += row[j] / static_cast<double>(width);
    for (int64_t j = 0; j < width; ++j) r.var[i] += std::pow(row[j] - r.mean[i], 2) / width;
    for (int64_t j = 0; j < width; ++j) {
      r.y[i * width + j] = (row[j] - r.mean[i]) / std::sqrt(r.var[i] + eps) * weight.f32()[j] + bias.f32()[j];
    }
  }
  return r;
}

struct Case {
  Shape x;
  int64_t normalized_rank;
};

class LayerNormTest : public ::testing::TestWithParam<Case> {};

TEST_P(LayerNormTest, ForwardAndStatisticsMatchReferenceInTrainingAndInference) {
  const Case c = GetParam();
  const Shape row(c.x.end() - c.normalized_rank, c.x.end());
  const Tensor x = RandomTensor(c.x, 1, -2.0f, 3.0f);
  const Tensor weight = RandomTensor(row, 2, 0.5f, 1.5f), bias = RandomTensor(row, 3);
  const Reference ref = LayerNormReference(x, weight, bias, 1e-3);
  for (bool training : {true, false}) {
    SCOPED_TRACE(training ? "training" : "inference");
    Graph g;
    const Value xv = g.Input("x", DType::kF32, c.x), wv = g.Input("w", DType::kF32, row),
                bv = g.Input("b", DType::kF32, row);
    const std::vector<Value> out =
        g.Op("LayerNorm", {xv, wv, bv}, {{"eps", 1e-3}, {"normalized_rank", c.normalized_rank}});
    ASSERT_TRUE(g.status().ok()) << g.status();
    EXPECT_EQ(g.shape(out[1]), Shape(c.x.begin(), c.x.end() - c.normalized_rank));
    const std::vector<Tensor> got = ::dlf::testing::CompileRunFetch(
        g, out, {.training = training}, {{xv, &x}, {wv, &weight}, {bv, &bias}});
    ASSERT_EQ(got.size(), 3u);
    for (int64_t i = 0; i < x.num_elements(); ++i) ASSERT_NEAR(got[0].f32()[i], ref.y[i], 1e-5) << i;
    for (size_t i = 0; i < ref.mean.size(); ++i) {
      EXPECT_NEAR(got[1].f32()[i], ref.mean[i], 1e-6) << i;
      EXPECT_NEAR(got[2].f32()[i], ref.var[i], 1e-5) << i;
    }
  }
}

TEST_P(LayerNormTest, GradientsMatchFiniteDifferences) {
  const Case c = GetParam();
  const Shape row(c.x.end() - c.normalized_rank, c.x.end());
  Tensor x = RandomTensor(c.x, 4, -2.0f, 2.0f);
  Tensor weight = RandomTensor(row, 5, 0.5f, 1.5f), bias = RandomTensor(row, 6);
  const int64_t rank = c.normalized_rank;
  ExpectGradientsMatch([rank](Graph& g, const std::vector<Value>& in) {
    return g.Op("LayerNorm", {in[0], in[1], in[2]}, {{"eps", 1e-5}, {"normalized_rank", rank}})[0];
  }, {&x, &weight, &bias}, {.eps = 1e-2, .rtol = 3e-2, .atol = 3e-3});
}

INSTANTIATE_TEST_SUITE_P(Shapes, LayerNormTest,
                         ::testing::Values(Case{{7, 12}, 1},         // [rows, features]
                                           Case{{2, 3, 20}, 1},      // a GPT's [B, T, C]
                                           Case{{2, 3, 4, 5}, 2},    // two normalized axes
                                           Case{{1, 2, 2, 64}, 1},   // ConvNeXt's [N, H, W, C]
                                           Case{{9}, 1}));           // one row, no leading axes

TEST(LayerNormBuilderTest, ParametersFollowAffineAndBias) {
  Graph g;
  const Value x = g.Input("x", DType::kF32, {2, 5, 8});
  ops::LayerNorm(g, x, "ln");
  ops::LayerNorm(g, x, "nobias", {.bias = false});
  ops::LayerNorm(g, x, "plain", {.affine = false});
  ops::LayerNorm(g, x, "two", {.normalized_rank = 2});
  ASSERT_TRUE(g.status().ok()) << g.status();
  EXPECT_EQ(g.shape(*g.FindParameter("ln.weight")), Shape({8}));
  EXPECT_TRUE(g.FindParameter("ln.bias").ok());
  EXPECT_TRUE(g.FindParameter("nobias.weight").ok());
  EXPECT_FALSE(g.FindParameter("nobias.bias").ok());
  EXPECT_FALSE(g.FindParameter("plain.weight").ok());
  EXPECT_EQ(g.shape(*g.FindParameter("two.weight")), Shape({5, 8}));
}

TEST(LayerNormBuilderTest, BadShapesAreErrorsNamingThem) {
  {
    Graph g;
    const Value x = g.Input("x", DType::kF32, {2, 5});
    ops::LayerNorm(g, x, "ln", {.normalized_rank = 3});
    EXPECT_THAT(g.status().message(), ::testing::HasSubstr("at least 3 axes, found [2, 5]"));
  }
  {
    Graph g;
    const Value x = g.Input("x", DType::kF32, {2, 5}), w = g.Input("w", DType::kF32, {4}),
                b = g.Input("b", DType::kF32, {5});
    g.Op("LayerNorm", {x, w, b});
    EXPECT_THAT(g.status().message(), ::testing::HasSubstr("weight must be [5] (x's last 1 axes), found [4]"));
  }
  {
    Graph g;
    const Value x = g.Input("x", DType::kF32, {2, 5, 3});
    ops::LayerNorm2d(g, x, "ln");
    EXPECT_THAT(g.status().message(), ::testing::HasSubstr("must be [n, c, h, w], found [2, 5, 3]"));
  }
}

// ConvNeXt's LayerNorm2d: each position's channels normalized, against the reference on the
// [n, h, w, c] transpose; and its gradients.
TEST(LayerNorm2dTest, NormalizesEachPositionsChannels) {
  constexpr int64_t N = 2, C = 6, H = 3, W = 4;
  Tensor x = RandomTensor({N, C, H, W}, 7, -2.0f, 2.0f);
  Tensor nhwc(DType::kF32, {N, H, W, C});
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t i = 0; i < H * W; ++i) nhwc.f32()[(n * H * W + i) * C + c] = x.f32()[(n * C + c) * H * W + i];
  const Tensor ones = Tensor::F32({C}, std::vector<float>(C, 1.0f)), zeros(DType::kF32, {C});
  const Reference ref = LayerNormReference(nhwc, ones, zeros, 1e-6);
  auto build = [](Graph& g, const std::vector<Value>& in) {
    return ops::LayerNorm2d(g, in[0], "norm", {.eps = 1e-6});
  };
  const Tensor y = ::dlf::testing::RunForward(build, {&x});
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t i = 0; i < H * W; ++i) {
        ASSERT_NEAR(y.f32()[(n * C + c) * H * W + i], ref.y[(n * H * W + i) * C + c], 1e-5) << n << " " << c << " " << i;
      }
  ExpectGradientsMatch(build, {&x}, {.eps = 1e-2, .rtol = 3e-2, .atol = 3e-3});
}

}  // namespace
}  // namespace dlf
