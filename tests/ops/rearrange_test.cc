// Reductions over axes, Transpose, Slice, Pad, Concat, Split, GlobalAvgPool2D, LogSoftmax and
// batched MatMul: forward against reference loops, gradients against finite differences.
#include <cmath>

#include "gmock/gmock.h"
#include "graph/autodiff.h"
#include "graph/executor.h"
#include "gtest/gtest.h"
#include "ops/ops.h"
#include "tests/testing/grad_check.h"

namespace dlf {
namespace {

using ::dlf::testing::ExpectGradientsMatch;
using ::dlf::testing::ExpectTensorNear;
using ::dlf::testing::RandomTensor;
using ::dlf::testing::RunForward;
using ::dlf::testing::SpacedTensor;

using Build = std::function<Value(Graph&, const std::vector<Value>&)>;

TEST(ReduceAxesTest, SumMeanMaxOverAxesWithAndWithoutKeepdims) {
  Tensor x = SpacedTensor({2, 3, 4}, 5, 0.05f);  // distinct: Max has no ties
  const float* v = x.f32();
  for (bool keep : {false, true}) {
    const Build sum = [keep](Graph& g, const std::vector<Value>& in) { return ops::ReduceSum(g, in[0], {0, 2}, keep); };
    const Build mean = [keep](Graph& g, const std::vector<Value>& in) { return ops::ReduceMean(g, in[0], {-1}, keep); };
    const Build max = [keep](Graph& g, const std::vector<Value>& in) { return ops::ReduceMax(g, in[0], {1}, keep); };
    const Tensor s = RunForward(sum, {&x}), m = RunForward(mean, {&x}), mx = RunForward(max, {&x});
    EXPECT_EQ(s.shape(), keep ? Shape({1, 3, 1}) : Shape({3}));
    EXPECT_EQ(m.shape(), keep ? Shape({2, 3, 1}) : Shape({2, 3}));
    EXPECT_EQ(mx.shape(), keep ? Shape({2, 1, 4}) : Shape({2, 4}));
    for (int c = 0; c < 3; ++c) {
      double ref = 0;
      for (int n = 0; n < 2; ++n)
        for (int w = 0; w < 4; ++w) ref += v[n * 12 + c * 4 + w];
      EXPECT_NEAR(s.f32()[c], ref, 1e-5);
    }
    for (int n = 0; n < 2; ++n)
      for (int c = 0; c < 3; ++c) {
        double ref = 0;
        for (int w = 0; w < 4; ++w) ref += v[n * 12 + c * 4 + w];
        EXPECT_NEAR(m.f32()[n * 3 + c], ref / 4, 1e-6);
      }
    for (int n = 0; n < 2; ++n)
      for (int w = 0; w < 4; ++w) {
        float ref = v[n * 12 + w];
        for (int c = 1; c < 3; ++c) ref = std::max(ref, v[n * 12 + c * 4 + w]);
        EXPECT_EQ(mx.f32()[n * 4 + w], ref);
      }
    ExpectGradientsMatch(sum, {&x});
    ExpectGradientsMatch(mean, {&x});
    ExpectGradientsMatch(max, {&x});
  }
}

TEST(ReduceAxesTest, MaxSharesTheGradientAmongTies) {
  Tensor x = Tensor::F32({1, 4}, {2, 5, 5, 1});
  Graph g;
  Value in = g.Input("x", DType::kF32, {1, 4});
  Value y = ops::Sum(g, ops::ReduceMax(g, in, {1}));
  auto grads = Gradients(g, y, {in});
  ASSERT_TRUE(grads.ok());
  auto exec = Executor::Compile(g, {(*grads)[0]});
  ASSERT_TRUE(exec.ok()) << exec.status();
  ASSERT_TRUE((*exec)->Run({{in, &x}}).ok());
  const float* d = (*exec)->fetch(0).f32();
  EXPECT_EQ(d[0], 0.0f);
  EXPECT_EQ(d[1], 0.5f);
  EXPECT_EQ(d[2], 0.5f);
  EXPECT_EQ(d[3], 0.0f);
}

TEST(GlobalAvgPoolTest, MeansEveryChannelMap) {
  Tensor x = RandomTensor({2, 3, 4, 5}, 6);
  const Build pool = [](Graph& g, const std::vector<Value>& in) { return ops::GlobalAvgPool2D(g, in[0]); };
  const Tensor y = RunForward(pool, {&x});
  ASSERT_EQ(y.shape(), (Shape{2, 3}));
  Tensor ref(DType::kF32, {2, 3});
  for (int nc = 0; nc < 6; ++nc) {
    double sum = 0;
    for (int i = 0; i < 20; ++i) sum += x.f32()[nc * 20 + i];
    ref.f32()[nc] = static_cast<float>(sum / 20);
  }
  ExpectTensorNear(y, ref, 1e-6f);
  ExpectGradientsMatch(pool, {&x});
}

TEST(RearrangeTest, TransposeMovesAxes) {
  Tensor x = RandomTensor({2, 3, 4}, 7);
  const Build t = [](Graph& g, const std::vector<Value>& in) { return ops::Transpose(g, in[0], {2, 0, 1}); };
  const Tensor y = RunForward(t, {&x});
  ASSERT_EQ(y.shape(), (Shape{4, 2, 3}));
  for (int a = 0; a < 2; ++a)
    for (int b = 0; b < 3; ++b)
      for (int c = 0; c < 4; ++c) ASSERT_EQ(y.f32()[(c * 2 + a) * 3 + b], x.f32()[(a * 3 + b) * 4 + c]);
  ExpectGradientsMatch(t, {&x});
}

// Every rank the kernel takes (oneDNN's reorder; the loop for a scalar and an empty tensor),
// against a reference loop over the output's indices.
TEST(RearrangeTest, TransposeOfAnyRankMatchesAReferenceLoop) {
  struct Case {
    Shape shape;
    std::vector<int64_t> perm;
  };
  for (const Case& c : std::vector<Case>{{{}, {}},
                                         {{5}, {0}},
                                         {{2, 3, 4, 5}, {0, 2, 1, 3}},  // a GPT's heads
                                         {{2, 3, 4, 5}, {3, 1, 0, 2}},
                                         {{2, 1, 3, 2, 2, 3}, {5, 4, 3, 2, 1, 0}},
                                         {{2, 0, 3}, {2, 0, 1}}}) {
    Tensor x = RandomTensor(c.shape, 11);
    const std::vector<int64_t> perm = c.perm;
    const Build t = [perm](Graph& g, const std::vector<Value>& in) { return ops::Transpose(g, in[0], perm); };
    const Tensor y = RunForward(t, {&x});
    Shape out;
    for (int64_t p : perm) out.push_back(c.shape[p]);
    ASSERT_EQ(y.shape(), out) << ShapeString(c.shape);
    const int rank = static_cast<int>(out.size());
    for (int64_t i = 0; i < y.num_elements(); ++i) {
      std::vector<int64_t> at(rank);  // i's index in the output, then the input's offset
      for (int64_t d = rank - 1, rest = i; d >= 0; --d) {
        at[d] = rest % out[d];
        rest /= out[d];
      }
      int64_t offset = 0;
      for (int d = 0; d < rank; ++d) {
        int64_t stride = 1;
        for (int e = static_cast<int>(perm[d]) + 1; e < rank; ++e) stride *= c.shape[e];
        offset += at[d] * stride;
      }
      ASSERT_EQ(y.f32()[i], x.f32()[offset]) << ShapeString(c.shape) << " element " << i;
    }
  }
}

TEST(RearrangeTest, SliceAndPadAreEachOthersInverse) {
  Tensor x = RandomTensor({3, 4, 5}, 8);
  const Build slice = [](Graph& g, const std::vector<Value>& in) { return ops::Slice(g, in[0], {1, 0, 2}, {2, 3, 2}); };
  const Build pad = [](Graph& g, const std::vector<Value>& in) { return ops::Pad(g, in[0], {0, 1, 2}, {1, 0, 1}, -1.5); };
  const Tensor s = RunForward(slice, {&x}), p = RunForward(pad, {&x});
  ASSERT_EQ(s.shape(), (Shape{2, 3, 2}));
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 2; ++k) {
        EXPECT_EQ(s.f32()[(i * 3 + j) * 2 + k], x.f32()[((1 + i) * 4 + j) * 5 + 2 + k]) << i << j << k;
      }
  // Padded before by (0, 1, 2) and after by (1, 0, 1): [3, 4, 5] -> [4, 5, 8], -1.5 outside x.
  ASSERT_EQ(p.shape(), (Shape{4, 5, 8}));
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 5; ++j)
      for (int k = 0; k < 8; ++k) {
        const int xi = i, xj = j - 1, xk = k - 2;
        const bool inside = xi < 3 && xj >= 0 && xk >= 0 && xk < 5;
        EXPECT_EQ(p.f32()[(i * 5 + j) * 8 + k], inside ? x.f32()[(xi * 4 + xj) * 5 + xk] : -1.5f) << i << j << k;
      }
  ExpectGradientsMatch(slice, {&x});
  ExpectGradientsMatch(pad, {&x});
  Graph g;
  ops::Slice(g, g.Input("x", DType::kF32, {3, 4}), {2, 0}, {2, 4});
  EXPECT_THAT(std::string(g.status().message()), ::testing::HasSubstr("axis 0: begin 2 size 2 leaves the input's 3"));
}

TEST(RearrangeTest, ConcatAndSplitAlongAnAxis) {
  Tensor a = RandomTensor({2, 3, 2}, 9), b = RandomTensor({2, 1, 2}, 10);
  const Build concat = [](Graph& g, const std::vector<Value>& in) { return ops::Concat(g, {in[0], in[1]}, 1); };
  const Tensor y = RunForward(concat, {&a, &b});
  ASSERT_EQ(y.shape(), (Shape{2, 4, 2}));
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 4; ++j)
      for (int k = 0; k < 2; ++k) {
        const float expected = j < 3 ? a.f32()[(i * 3 + j) * 2 + k] : b.f32()[i * 2 + k];
        EXPECT_EQ(y.f32()[(i * 4 + j) * 2 + k], expected) << i << j << k;
      }
  ExpectGradientsMatch(concat, {&a, &b});
  Tensor x = RandomTensor({2, 5}, 11);
  // The second part alone reaches the loss: the first part's gradient is zeros.
  const Build second = [](Graph& g, const std::vector<Value>& in) { return ops::Split(g, in[0], -1, {2, 3})[1]; };
  const Tensor s = RunForward(second, {&x});
  ASSERT_EQ(s.shape(), (Shape{2, 3}));
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j) EXPECT_EQ(s.f32()[i * 3 + j], x.f32()[i * 5 + 2 + j]) << i << j;
  ExpectGradientsMatch(second, {&x});
  const Build both = [](Graph& g, const std::vector<Value>& in) {
    std::vector<Value> parts = ops::Split(g, in[0], 1, {2, 3});
    return ops::Concat(g, {parts[1], parts[0]}, 1);
  };
  ExpectGradientsMatch(both, {&x});
  Graph g;
  ops::Concat(g, {g.Input("a", DType::kF32, {2, 3}), g.Input("b", DType::kF32, {3, 3})}, 1);
  EXPECT_THAT(std::string(g.status().message()), ::testing::HasSubstr("inputs may differ only along axis 1"));
}

TEST(LogSoftmaxTest, MatchesReferenceAndGradients) {
  Tensor x = RandomTensor({3, 5}, 12, -3.0f, 3.0f);
  const Build build = [](Graph& g, const std::vector<Value>& in) { return ops::LogSoftmax(g, in[0]); };
  const Tensor y = RunForward(build, {&x});
  Tensor ref(DType::kF32, {3, 5});
  for (int i = 0; i < 3; ++i) {
    double s = 0;
    for (int j = 0; j < 5; ++j) s += std::exp(x.f32()[i * 5 + j]);
    for (int j = 0; j < 5; ++j) ref.f32()[i * 5 + j] = static_cast<float>(x.f32()[i * 5 + j] - std::log(s));
  }
  ExpectTensorNear(y, ref, 1e-5f);
  ExpectGradientsMatch(build, {&x});
}

TEST(BatchMatMulTest, EveryTransposeMatchesReferenceAndGradients) {
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      SCOPED_TRACE(std::to_string(ta) + std::to_string(tb));
      Tensor a = RandomTensor(ta ? Shape{2, 4, 3} : Shape{2, 3, 4}, 13);
      Tensor b = RandomTensor(tb ? Shape{2, 5, 4} : Shape{2, 4, 5}, 14);
      const Build mm = [ta, tb](Graph& g, const std::vector<Value>& in) { return ops::BatchMatMul(g, in[0], in[1], ta, tb); };
      const Tensor y = RunForward(mm, {&a, &b});
      ASSERT_EQ(y.shape(), (Shape{2, 3, 5}));
      for (int n = 0; n < 2; ++n)
        for (int i = 0; i < 3; ++i)
          for (int j = 0; j < 5; ++j) {
            double ref = 0;
            for (int k = 0; k < 4; ++k) {
              const float av = ta ? a.f32()[(n * 4 + k) * 3 + i] : a.f32()[(n * 3 + i) * 4 + k];
              const float bv = tb ? b.f32()[(n * 5 + j) * 4 + k] : b.f32()[(n * 4 + k) * 5 + j];
              ref += av * bv;
            }
            ASSERT_NEAR(y.f32()[(n * 3 + i) * 5 + j], ref, 1e-5);
          }
      ExpectGradientsMatch(mm, {&a, &b});
    }
}

}  // namespace
}  // namespace dlf
