#include <cmath>

#include "graph/autodiff.h"
#include "graph/executor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ops/ops.h"
#include "tests/testing/grad_check.h"
#include "tests/testing/bf16.h"

namespace dlf {
namespace {

using ::dlf::testing::ExpectGradientsMatch;
using ::dlf::testing::ExpectTensorNear;
using ::dlf::testing::RandomTensor;
using ::dlf::testing::RunForward;

TEST(MatMulTest, ForwardMatchesReferenceLoopForEveryTranspose) {
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      const int64_t m = 3, k = 5, n = 4;
      Tensor a = RandomTensor(ta ? Shape{k, m} : Shape{m, k}, 1);
      Tensor b = RandomTensor(tb ? Shape{n, k} : Shape{k, n}, 2);
      Tensor y = RunForward([=](Graph& g, const std::vector<Value>& in) {
        return ops::MatMul(g, in[0], in[1], ta, tb);
      }, {&a, &b});
      Tensor ref(DType::kF32, {m, n});
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
          double s = 0;
          for (int64_t p = 0; p < k; ++p) {
            s += a.f32()[ta ? p * m + i : i * k + p] * b.f32()[tb ? j * k + p : p * n + j];
          }
          ref.f32()[i * n + j] = static_cast<float>(s);
        }
      ExpectTensorNear(y, ref, 1e-5f);
    }
  }
}

Tensor ReferenceLinear(const Tensor& x, const Tensor& w, const Tensor* b) {
  const int64_t n = x.dim(0), in = x.dim(1), out = w.dim(0);
  Tensor y(DType::kF32, {n, out});
  for (int64_t i = 0; i < n; ++i)
    for (int64_t o = 0; o < out; ++o) {
      double s = b ? b->f32()[o] : 0.0;
      for (int64_t p = 0; p < in; ++p) s += x.f32()[i * in + p] * w.f32()[o * in + p];
      y.f32()[i * out + o] = static_cast<float>(s);
    }
  return y;
}

TEST(LinearTest, ForwardMatchesReferenceLoop) {
  Tensor x = RandomTensor({5, 7}, 3), w = RandomTensor({4, 7}, 4), b = RandomTensor({4}, 5);
  Tensor y = RunForward([](Graph& g, const std::vector<Value>& in) {
    return ops::Linear(g, in[0], in[1], in[2]);
  }, {&x, &w, &b});
  ExpectTensorNear(y, ReferenceLinear(x, w, &b), 1e-5f);
  Tensor y2 = RunForward([](Graph& g, const std::vector<Value>& in) {
    return ops::Linear(g, in[0], in[1]);
  }, {&x, &w});
  ExpectTensorNear(y2, ReferenceLinear(x, w, nullptr), 1e-5f);
}

TEST(LinearTest, GradientsMatchFiniteDifferences) {
  Tensor x = RandomTensor({3, 6}, 6), w = RandomTensor({5, 6}, 7), b = RandomTensor({5}, 8);
  ExpectGradientsMatch([](Graph& g, const std::vector<Value>& in) {
    return ops::Linear(g, in[0], in[1], in[2]);
  }, {&x, &w, &b});
  ExpectGradientsMatch([](Graph& g, const std::vector<Value>& in) {
    return ops::Linear(g, in[0], in[1]);
  }, {&x, &w});
}

// x [b, t, in]: each of the b * t rows as a [rows, in] Linear's, and finite-difference gradients.
TEST(LinearTest, LeadingAxesActAsRows) {
  Tensor x = RandomTensor({2, 3, 6}, 9), w = RandomTensor({4, 6}, 10), b = RandomTensor({4}, 11);
  const auto build = [](Graph& g, const std::vector<Value>& in) { return ops::Linear(g, in[0], in[1], in[2]); };
  const Tensor y = RunForward(build, {&x, &w, &b});
  ASSERT_EQ(y.shape(), Shape({2, 3, 4}));
  Tensor rows = Tensor::F32({6, 6}, absl::MakeConstSpan(x.f32(), x.num_elements()));
  const Tensor ref = ReferenceLinear(rows, w, &b);
  for (int64_t i = 0; i < ref.num_elements(); ++i) EXPECT_NEAR(y.f32()[i], ref.f32()[i], 1e-5) << i;
  ExpectGradientsMatch(build, {&x, &w, &b});
}

// bf16 compute against the exact f32 result (see conv_test's bf16 test), AlexNet-like widths:
// measured 2.5e-3 of each tensor's largest value (bf16's relative spacing is 2^-8 = 3.9e-3);
// the bound, 6e-3, is 2.4x that (it was 2e-2).
TEST(LinearTest, Bf16MatchesF32WithinBf16Precision) {
  DLF_SKIP_WITHOUT_BF16();
  Tensor x = RandomTensor({16, 300}, 9), w = RandomTensor({70, 300}, 10), b = RandomTensor({70}, 11);
  auto build = [](Graph& g, const std::vector<Value>& in) { return ops::Linear(g, in[0], in[1], in[2]); };
  const auto expected = testing::RunForwardAndBackward(build, {&x, &w, &b}, {});
  const auto actual = testing::RunForwardAndBackward(build, {&x, &w, &b}, {.bf16 = true});
  EXPECT_GT(testing::ExpectTensorsNearScaled(actual, expected, 6e-3), 1e-5);
}

// Under bf16 a parameter reaches Linear and its backward through the executor's bf16 copy,
// refreshed every run: after the weights change, the next run sees the new ones.
TEST(LinearTest, Bf16WeightCopyFollowsTheParameter) {
  DLF_SKIP_WITHOUT_BF16();
  Graph g(1);
  Value x = g.Input("x", DType::kF32, {4, 64});
  Value w = g.Parameter("w", {8, 64}, Initializer::Zeros());
  Value y = ops::Linear(g, x, w);
  auto dx = Gradients(g, ops::Sum(g, y), {x});
  ASSERT_TRUE(dx.ok());
  auto exec = Executor::Compile(g, {y, (*dx)[0]}, {.bf16 = true});
  ASSERT_TRUE(exec.ok()) << exec.status();
  Tensor input = RandomTensor({4, 64}, 12);
  for (float value : {0.5f, -2.0f}) {
    g.parameter_value(w).Fill(value);
    ASSERT_TRUE((*exec)->Run({{x, &input}}).ok());
    for (int64_t r = 0; r < 4; ++r) {
      double sum = 0;
      for (int64_t c = 0; c < 64; ++c) sum += input.f32()[r * 64 + c];
      EXPECT_NEAR((*exec)->fetch(0).f32()[r * 8], value * sum, 2e-2 * 64 * std::abs(value));
    }
    EXPECT_EQ((*exec)->fetch(1).f32()[0], 8 * value);  // dx = sum over outputs of w (exact in bf16)
  }
  // x and dy are converted to bf16 as their kernels stage them; w comes from the copy.
  EXPECT_THAT((*exec)->ProfileReport(),
              ::testing::HasSubstr("2 layout/precision reorders per run + 1 bf16 weight copies"));
}

// With fixed_parameters (inference with loaded weights) the bf16 copy, and the weights packed
// into the matmul's layout (f32 and bf16), are made once and again only when the caller says
// the parameters changed.
class LinearFixedTest : public ::testing::TestWithParam<bool> {};

TEST_P(LinearFixedTest, FixedParametersRefreshTheirCopiesWhenTold) {
  if (GetParam()) {
    DLF_SKIP_WITHOUT_BF16();
  }
  Graph g(1);
  Value x = g.Input("x", DType::kF32, {2, 16});
  Value w = g.Parameter("w", {4, 16}, Initializer::Zeros());
  Value y = ops::Linear(g, x, w);
  auto exec = Executor::Compile(g, {y}, {.training = false, .bf16 = GetParam(), .fixed_parameters = true});
  ASSERT_TRUE(exec.ok()) << exec.status();
  Tensor input(DType::kF32, {2, 16});
  input.Fill(1.0f);
  g.parameter_value(w).Fill(0.5f);
  ASSERT_TRUE((*exec)->Run({{x, &input}}).ok());
  EXPECT_EQ((*exec)->fetch(0).f32()[0], 8.0f);
  g.parameter_value(w).Fill(-1.0f);
  ASSERT_TRUE((*exec)->Run({{x, &input}}).ok());
  EXPECT_EQ((*exec)->fetch(0).f32()[0], 8.0f);  // not told: the copies made at the first run
  (*exec)->ParametersChanged();
  ASSERT_TRUE((*exec)->Run({{x, &input}}).ok());
  EXPECT_EQ((*exec)->fetch(0).f32()[0], -16.0f);
  EXPECT_EQ((*exec)->stats().reorders_per_run, GetParam() ? 1 : 0);  // x to bf16; w packed once
}

INSTANTIATE_TEST_SUITE_P(Precisions, LinearFixedTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "bf16" : "f32"; });

TEST(LinearTest, FeatureMismatchIsABuildError) {
  Graph g;
  Value x = g.Input("x", DType::kF32, {2, 6});
  Value w = g.Parameter("fc.weight", {4, 5}, Initializer::Zeros());
  ops::Linear(g, x, w);
  EXPECT_NE(std::string(g.status().message()).find(
                "x has 6 features but weight expects 5 (weight is [out, in])"),
            std::string::npos)
      << g.status();
}

}  // namespace
}  // namespace dlf
