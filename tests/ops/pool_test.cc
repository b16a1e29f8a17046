#include <algorithm>
#include <limits>

#include "gmock/gmock.h"
#include "graph/autodiff.h"
#include "graph/executor.h"
#include "gtest/gtest.h"
#include "ops/ops.h"
#include "tests/testing/grad_check.h"

namespace dlf {
namespace {

using ::dlf::testing::CompileRunFetch;
using ::dlf::testing::ExpectGradientsMatch;
using ::dlf::testing::ExpectTensorNear;
using ::dlf::testing::RandomTensor;
using ::dlf::testing::RunForward;
using ::dlf::testing::SpacedTensor;

struct PoolCase {
  Shape x;
  ops::Pool2DOptions o;
  Shape expected_y;
};

// Plain reference pooling. Average divides by the in-bounds window size (padding excluded).
Tensor ReferencePool(const Tensor& x, const ops::Pool2DOptions& o, const Shape& y_shape, bool max) {
  Tensor y(DType::kF32, y_shape);
  const int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3);
  const int64_t OH = y_shape[2], OW = y_shape[3];
  for (int64_t nc = 0; nc < N * C; ++nc)
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) {
        double best = -std::numeric_limits<double>::infinity(), sum = 0;
        int count = 0;
        for (int64_t kh = 0; kh < o.kernel[0]; ++kh)
          for (int64_t kw = 0; kw < o.kernel[1]; ++kw) {
            const int64_t ih = oh * o.stride[0] - o.padding[0] + kh;
            const int64_t iw = ow * o.stride[1] - o.padding[1] + kw;
            if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
            const float v = x.f32()[(nc * H + ih) * W + iw];
            best = std::max<double>(best, v);
            sum += v;
            ++count;
          }
        y.f32()[(nc * OH + oh) * OW + ow] = static_cast<float>(max ? best : sum / count);
      }
  return y;
}

class PoolTest : public ::testing::TestWithParam<PoolCase> {};

testing::BuildFn PoolBuilder(const ops::Pool2DOptions& o, bool max) {
  return [o, max](Graph& g, const std::vector<Value>& in) {
    return max ? ops::MaxPool2D(g, in[0], o) : ops::AvgPool2D(g, in[0], o);
  };
}

TEST_P(PoolTest, ForwardMatchesReferenceLoop) {
  const PoolCase& c = GetParam();
  Tensor x = SpacedTensor(c.x, 1);
  for (bool max : {true, false}) {
    SCOPED_TRACE(max ? "max" : "avg");
    Tensor y = RunForward(PoolBuilder(c.o, max), {&x});
    EXPECT_EQ(y.shape(), c.expected_y);
    ExpectTensorNear(y, ReferencePool(x, c.o, y.shape(), max), 1e-5f);
  }
}

TEST_P(PoolTest, GradientsMatchFiniteDifferences) {
  const PoolCase& c = GetParam();
  Tensor x = SpacedTensor(c.x, 2);  // distinct values: the max of each window is unambiguous
  for (bool max : {true, false}) {
    SCOPED_TRACE(max ? "max" : "avg");
    ExpectGradientsMatch(PoolBuilder(c.o, max), {&x});
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, PoolTest,
    ::testing::Values(
        PoolCase{{2, 3, 8, 8}, {{2, 2}, {2, 2}, {0, 0}, false}, {2, 3, 4, 4}},
        PoolCase{{2, 2, 9, 9}, {{3, 3}, {2, 2}, {0, 0}, false}, {2, 2, 4, 4}},   // AlexNet 3/2
        PoolCase{{1, 2, 8, 8}, {{3, 3}, {2, 2}, {0, 0}, true}, {1, 2, 4, 4}},    // ceil mode
        PoolCase{{1, 2, 7, 5}, {{3, 2}, {2, 1}, {1, 0}, false}, {1, 2, 4, 4}},   // non-square
        PoolCase{{2, 2, 1, 1}, {{3, 3}, {2, 2}, {1, 1}, false}, {2, 2, 1, 1}})); // 1x1 map

// Max pooling's gradient on ties goes whole to the window's first maximum in row-major order,
// as PyTorch's max_pool2d gives it; overlapping windows add up. Inputs with many equal values
// (all equal, and values 0, 1, 2), windows 2/2 and 3/2, against a reference loop.
TEST_P(PoolTest, MaxGradientOnTiesGoesToTheFirstMaximum) {
  const PoolCase& c = GetParam();
  Tensor x(DType::kF32, c.x);
  for (const bool all_equal : {true, false}) {
    SCOPED_TRACE(all_equal ? "all equal" : "values 0, 1, 2");
    for (int64_t i = 0; i < x.num_elements(); ++i) x.f32()[i] = all_equal ? 1.0f : static_cast<float>((i * 7 / 3) % 3);
    Graph g;
    const Value xv = g.Input("x", DType::kF32, c.x);
    auto grads = Gradients(g, ops::Sum(g, ops::MaxPool2D(g, xv, c.o)), {xv});
    ASSERT_TRUE(grads.ok()) << grads.status();
    const std::vector<Tensor> dx = CompileRunFetch(g, {(*grads)[0]}, {}, {{xv, &x}});
    ASSERT_EQ(dx.size(), 1u);
    Tensor ref(DType::kF32, c.x);
    std::fill(ref.f32(), ref.f32() + ref.num_elements(), 0.0f);
    const int64_t H = c.x[2], W = c.x[3];
    for (int64_t nc = 0; nc < c.x[0] * c.x[1]; ++nc)
      for (int64_t oh = 0; oh < c.expected_y[2]; ++oh)
        for (int64_t ow = 0; ow < c.expected_y[3]; ++ow) {
          int64_t first = -1;
          for (int64_t kh = 0; kh < c.o.kernel[0]; ++kh)
            for (int64_t kw = 0; kw < c.o.kernel[1]; ++kw) {
              const int64_t ih = oh * c.o.stride[0] - c.o.padding[0] + kh;
              const int64_t iw = ow * c.o.stride[1] - c.o.padding[1] + kw;
              if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
              const int64_t at = (nc * H + ih) * W + iw;
              if (first < 0 || x.f32()[at] > x.f32()[first]) first = at;
            }
          ref.f32()[first] += 1.0f;
        }
    ExpectTensorNear(dx[0], ref, 0.0f);
  }
}

// The executor runs pooling + ReLU as one oneDNN kernel (a ReLU post-op): the same output and
// input gradient as the unfused plan (inputs of both signs, overlapping padded windows), one
// kernel fewer per pooling.
TEST(PoolFusionTest, ReluPostOpGivesTheUnfusedResults) {
  Graph g(1);
  Value x = g.Input("x", DType::kF32, {2, 20, 9, 9});
  const ops::Pool2DOptions o = {{3, 3}, {2, 2}, {1, 1}, false};
  Value y = ops::Relu(g, ops::MaxPool2D(g, x, o));
  Value z = ops::Relu(g, ops::AvgPool2D(g, x, o));
  auto grads = Gradients(g, ops::Add(g, ops::Sum(g, ops::Mul(g, y, y)), ops::Sum(g, ops::Mul(g, z, z))), {x});
  ASSERT_TRUE(grads.ok()) << grads.status();
  const Tensor input = RandomTensor({2, 20, 9, 9}, 5);
  auto run = [&](bool fuse) {
    auto exec = Executor::Compile(g, {y, z, (*grads)[0]}, {.fuse = fuse});
    EXPECT_TRUE(exec.ok()) << exec.status();
    EXPECT_TRUE((*exec)->Run({{x, &input}}).ok());
    std::vector<Tensor> out;
    for (int i = 0; i < (*exec)->num_fetches(); ++i) out.push_back((*exec)->fetch(i).Clone());
    return std::make_pair(std::move(out), (*exec)->stats().num_kernels);
  };
  const auto [fused, fused_kernels] = run(true);
  const auto [plain, plain_kernels] = run(false);
  EXPECT_EQ(fused_kernels, plain_kernels - 2);
  for (size_t i = 0; i < plain.size(); ++i) ExpectTensorNear(fused[i], plain[i], 1e-6f);
}

TEST(PoolErrorsTest, KernelLargerThanPaddedInputIsABuildError) {
  Graph g;
  Value x = g.Input("x", DType::kF32, {1, 1, 2, 2});
  ops::MaxPool2D(g, x, {{3, 3}, {2, 2}, {0, 0}, false});
  EXPECT_THAT(std::string(g.status().message()),
              ::testing::HasSubstr("kernel 3 is larger than the padded input 2 + 2*0 = 2"));
}

// AdaptiveAvgPool2D against a loop over PyTorch's window rule (start floor(i * in / out), end
// ceil((i + 1) * in / out), in doubles here), and finite differences: windows that overlap
// (7 -> 3), divide evenly (8 -> 4), repeat inputs (5 -> 7, an upsampling) and cover all (-> 1).
struct AdaptiveCase {
  Shape x;
  int64_t oh, ow;
};

class AdaptivePoolTest : public ::testing::TestWithParam<AdaptiveCase> {};

TEST_P(AdaptivePoolTest, ForwardMatchesPyTorchsWindowsAndGradients) {
  const AdaptiveCase& c = GetParam();
  const Tensor x = RandomTensor(c.x, 51);
  auto build = [&c](Graph& g, const std::vector<Value>& in) { return ops::AdaptiveAvgPool2D(g, in[0], {c.oh, c.ow}); };
  const Tensor y = RunForward(build, {&x});
  ASSERT_EQ(y.shape(), (Shape{c.x[0], c.x[1], c.oh, c.ow}));
  const int64_t H = c.x[2], W = c.x[3];
  Tensor expected(DType::kF32, y.shape());
  for (int64_t p = 0; p < c.x[0] * c.x[1]; ++p)
    for (int64_t i = 0; i < c.oh; ++i)
      for (int64_t j = 0; j < c.ow; ++j) {
        const auto h0 = static_cast<int64_t>(std::floor(static_cast<double>(i * H) / c.oh));
        const auto h1 = static_cast<int64_t>(std::ceil(static_cast<double>((i + 1) * H) / c.oh));
        const auto w0 = static_cast<int64_t>(std::floor(static_cast<double>(j * W) / c.ow));
        const auto w1 = static_cast<int64_t>(std::ceil(static_cast<double>((j + 1) * W) / c.ow));
        double sum = 0;
        for (int64_t h = h0; h < h1; ++h)
          for (int64_t w = w0; w < w1; ++w) sum += x.f32()[(p * H + h) * W + w];
        expected.f32()[(p * c.oh + i) * c.ow + j] = static_cast<float>(sum / ((h1 - h0) * (w1 - w0)));
      }
  ExpectTensorNear(y, expected, 1e-5f);
  ExpectGradientsMatch(build, {&x});
}

INSTANTIATE_TEST_SUITE_P(Sizes, AdaptivePoolTest,
                         ::testing::Values(AdaptiveCase{{2, 3, 7, 5}, 3, 2}, AdaptiveCase{{1, 2, 8, 8}, 4, 4},
                                           AdaptiveCase{{1, 2, 5, 5}, 7, 7}, AdaptiveCase{{2, 2, 6, 4}, 1, 1}));

TEST(AdaptivePoolTest, AnEmptyOutputIsABuildError) {
  Graph g;
  ops::AdaptiveAvgPool2D(g, g.Input("x", DType::kF32, {1, 2, 4, 4}), {0, 2});
  EXPECT_THAT(std::string(g.status().message()), ::testing::HasSubstr("output_size must be positive, found 0x2"));
}

}  // namespace
}  // namespace dlf
