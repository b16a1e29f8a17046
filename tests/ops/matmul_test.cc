#include "gtest/gtest.h"
#include "ops/ops.h"
#include "tests/testing/grad_check.h"

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

// bf16 compute against the exact f32 result (see conv_test's bf16 test), AlexNet-like widths.
TEST(LinearTest, Bf16MatchesF32WithinBf16Precision) {
  Tensor x = RandomTensor({16, 300}, 9), w = RandomTensor({70, 300}, 10), b = RandomTensor({70}, 11);
  auto build = [](Graph& g, const std::vector<Value>& in) { return ops::Linear(g, in[0], in[1], in[2]); };
  const auto expected = testing::RunForwardAndBackward(build, {&x, &w, &b}, {});
  const auto actual = testing::RunForwardAndBackward(build, {&x, &w, &b}, {.bf16 = true});
  EXPECT_GT(testing::ExpectTensorsNearScaled(actual, expected, 2e-2), 1e-5);
}

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
