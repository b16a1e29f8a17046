// BatchNorm2d: training-mode forward against a reference loop, running statistics after k
// steps against a reference, inference with the running statistics, and finite-difference
// gradients of x, weight and bias in training mode.
#include <cmath>

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
using ::dlf::testing::ExpectSameValues;
using ::dlf::testing::RandomTensor;

constexpr int64_t N = 3, C = 2, H = 4, W = 5;

struct Stats {
  std::vector<double> mean, var;  // var: biased (divides by the count)
};

Stats BatchStats(const Tensor& x) {
  Stats s{std::vector<double>(C, 0), std::vector<double>(C, 0)};
  const double count = N * H * W;
  for (int64_t c = 0; c < C; ++c) {
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < H * W; ++i) s.mean[c] += x.f32()[(n * C + c) * H * W + i];
    s.mean[c] /= count;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < H * W; ++i) {
        const double d = x.f32()[(n * C + c) * H * W + i] - s.mean[c];
        s.var[c] += d * d;
      }
    s.var[c] /= count;
  }
  return s;
}

TEST(BatchNormTest, TrainingNormalizesWithBatchStatisticsAndUpdatesRunningOnes) {
  Graph g;
  Value x = g.Input("x", DType::kF32, {N, C, H, W});
  Value y = ops::BatchNorm2d(g, x, "bn");
  ASSERT_TRUE(g.status().ok()) << g.status();
  Tensor& weight = g.parameter_value(*g.FindParameter("bn.weight"));
  Tensor& bias = g.parameter_value(*g.FindParameter("bn.bias"));
  weight.f32()[0] = 1.5f, weight.f32()[1] = -0.5f, bias.f32()[0] = 0.25f, bias.f32()[1] = 2.0f;
  EXPECT_EQ(g.buffers().size(), 3u);
  EXPECT_EQ(g.parameters().size(), 2u);
  auto exec = Executor::Compile(g, {y}, {/*training=*/true});
  ASSERT_TRUE(exec.ok()) << exec.status();

  std::vector<double> running_mean(C, 0.0), running_var(C, 1.0);
  for (int step = 0; step < 3; ++step) {
    const Tensor in = RandomTensor({N, C, H, W}, 10 + step, -2.0f, 3.0f);
    ASSERT_TRUE((*exec)->Run({{x, &in}}).ok());
    const Stats s = BatchStats(in);
    const double unbias = (N * H * W) / (N * H * W - 1.0);
    for (int64_t c = 0; c < C; ++c) {
      running_mean[c] = 0.9 * running_mean[c] + 0.1 * s.mean[c];
      running_var[c] = 0.9 * running_var[c] + 0.1 * s.var[c] * unbias;
      for (int64_t n = 0; n < N; ++n)
        for (int64_t i = 0; i < H * W; ++i) {
          const int64_t at = (n * C + c) * H * W + i;
          const double ref = (in.f32()[at] - s.mean[c]) / std::sqrt(s.var[c] + 1e-5) *
                                 weight.f32()[c] + bias.f32()[c];
          ASSERT_NEAR((*exec)->fetch(0).f32()[at], ref, 1e-4) << step << " " << at;
        }
    }
  }
  for (int64_t c = 0; c < C; ++c) {
    EXPECT_NEAR(g.parameter_value(*g.FindPersistent("bn.running_mean")).f32()[c], running_mean[c], 1e-5);
    EXPECT_NEAR(g.parameter_value(*g.FindPersistent("bn.running_var")).f32()[c], running_var[c], 1e-5);
  }
  EXPECT_EQ(g.parameter_value(*g.FindPersistent("bn.num_batches_tracked")).i64()[0], 3);
}

TEST(BatchNormTest, InferenceUsesTheRunningStatisticsAndLeavesThem) {
  Graph g;
  Value x = g.Input("x", DType::kF32, {N, C, H, W});
  Value y = ops::BatchNorm2d(g, x, "bn");
  Tensor& mean = g.parameter_value(*g.FindPersistent("bn.running_mean"));
  Tensor& var = g.parameter_value(*g.FindPersistent("bn.running_var"));
  mean.f32()[0] = 0.5f, mean.f32()[1] = -1.0f, var.f32()[0] = 4.0f, var.f32()[1] = 0.25f;
  auto exec = Executor::Compile(g, {y}, {/*training=*/false});
  ASSERT_TRUE(exec.ok()) << exec.status();
  const Tensor in = RandomTensor({N, C, H, W}, 3);
  ASSERT_TRUE((*exec)->Run({{x, &in}}).ok());
  for (int64_t i = 0; i < in.num_elements(); ++i) {
    const int64_t c = (i / (H * W)) % C;
    const double ref = (in.f32()[i] - mean.f32()[c]) / std::sqrt(var.f32()[c] + 1e-5);
    ASSERT_NEAR((*exec)->fetch(0).f32()[i], ref, 1e-5) << i;
  }
  EXPECT_EQ(mean.f32()[0], 0.5f);
  EXPECT_EQ(g.parameter_value(*g.FindPersistent("bn.num_batches_tracked")).i64()[0], 0);
}

TEST(BatchNormTest, TrainingGradientsMatchFiniteDifferences) {
  Tensor x = RandomTensor({N, C, H, W}, 4, -2.0f, 2.0f);
  Tensor weight = Tensor::F32({C}, {1.3f, -0.7f}), bias = Tensor::F32({C}, {0.2f, -0.4f});
  ExpectGradientsMatch([](Graph& g, const std::vector<Value>& in) {
    Value mean = g.Buffer("mean", DType::kF32, {C}), var = g.Buffer("var", DType::kF32, {C}, 1.0f);
    Value count = g.Buffer("count", DType::kI64, {});
    return g.Op("BatchNorm", {in[0], in[1], in[2], mean, var, count})[0];
  }, {&x, &weight, &bias}, {.eps = 1e-2, .rtol = 3e-2, .atol = 3e-3});
}

// 16 channels: the kernels run on oneDNN's channel-blocked layout (nChw16c).
TEST(BatchNormTest, BlockedLayoutMatchesReferenceAndGradients) {
  constexpr int64_t kC = 16;
  Tensor x = RandomTensor({2, kC, 3, 3}, 5, -2.0f, 2.0f);
  Tensor weight = RandomTensor({kC}, 6, 0.5f, 1.5f), bias = RandomTensor({kC}, 7);
  auto build = [](Graph& g, const std::vector<Value>& in) {
    Value mean = g.Buffer("mean", DType::kF32, {kC}), var = g.Buffer("var", DType::kF32, {kC}, 1.0f);
    Value count = g.Buffer("count", DType::kI64, {});
    return g.Op("BatchNorm", {in[0], in[1], in[2], mean, var, count})[0];
  };
  const Tensor y = ::dlf::testing::RunForward(build, {&x, &weight, &bias});
  for (int64_t c = 0; c < kC; ++c) {
    double mean = 0, var = 0;
    for (int64_t n = 0; n < 2; ++n)
      for (int64_t i = 0; i < 9; ++i) mean += x.f32()[(n * kC + c) * 9 + i] / 18;
    for (int64_t n = 0; n < 2; ++n)
      for (int64_t i = 0; i < 9; ++i) var += std::pow(x.f32()[(n * kC + c) * 9 + i] - mean, 2) / 18;
    for (int64_t n = 0; n < 2; ++n)
      for (int64_t i = 0; i < 9; ++i) {
        const int64_t at = (n * kC + c) * 9 + i;
        const double ref = (x.f32()[at] - mean) / std::sqrt(var + 1e-5) * weight.f32()[c] + bias.f32()[c];
        EXPECT_NEAR(y.f32()[at], ref, 1e-4) << "n " << n << " c " << c << " i " << i;
      }
  }
  ExpectGradientsMatch(build, {&x, &weight, &bias}, {.eps = 1e-2, .rtol = 3e-2, .atol = 3e-3});
}

// A following ReLU runs inside the batch normalization's kernel (fuse_norm_relu): the ReLU's
// output and every gradient equal the two kernels' (fuse off), in training and inference; and
// the fused pair's gradients match finite differences.
TEST(BatchNormTest, FusedReluEqualsTheSeparateKernels) {
  constexpr int64_t kC = 16;
  for (bool training : {true, false}) {
    SCOPED_TRACE(training ? "training" : "inference");
    Graph g(1);
    const Value x = g.Input("x", DType::kF32, {2, kC, 3, 3});
    const Value y = ops::Relu(g, ops::BatchNorm2d(g, x, "bn", {}));
    const Value loss = ops::Sum(g, ops::Mul(g, y, y));
    auto grads = Gradients(g, loss, {x, *g.FindParameter("bn.weight"), *g.FindParameter("bn.bias")});
    ASSERT_TRUE(grads.ok()) << grads.status();
    std::vector<Value> fetches = {y};
    if (training) fetches.insert(fetches.end(), grads->begin(), grads->end());
    const Tensor xv = RandomTensor({2, kC, 3, 3}, 5, -2.0f, 2.0f);
    std::string profile;
    const std::vector<Tensor> separate = CompileRunFetch(g, fetches, {.training = training, .fuse = false}, {{x, &xv}});
    const std::vector<Tensor> fused = CompileRunFetch(g, fetches, {.training = training, .fuse = true}, {{x, &xv}}, &profile);
    EXPECT_THAT(profile, ::testing::HasSubstr("BatchNorm+Relu [fuse"));
    ExpectSameValues(fused, separate);
  }
  Tensor x = RandomTensor({2, kC, 3, 3}, 5, -2.0f, 2.0f);
  Tensor weight = RandomTensor({kC}, 6, 0.5f, 1.5f), bias = RandomTensor({kC}, 7);
  auto build = [](Graph& g, const std::vector<Value>& in) {
    Value mean = g.Buffer("mean", DType::kF32, {kC}), var = g.Buffer("var", DType::kF32, {kC}, 1.0f);
    Value count = g.Buffer("count", DType::kI64, {});
    return ops::Relu(g, g.Op("BatchNorm", {in[0], in[1], in[2], mean, var, count})[0]);
  };
  // A smaller step than the plain layer's: a step across the ReLU's kink is not a derivative.
  ExpectGradientsMatch(build, {&x, &weight, &bias}, {.eps = 1e-3, .rtol = 3e-2, .atol = 3e-3});
}

// Inference plans fold a BatchNorm into the convolution before it: the same outputs as the
// unfolded plan (rounding aside), the folded weights computed only when the parameters change
// (fixed parameters), and training plans keep the BatchNorm.
TEST(BatchNormFoldTest, InferenceFoldsIntoTheConvolutionAndFollowsParameterChanges) {
  Graph g(1);
  const Value x = g.Input("x", DType::kF32, {2, 3, 6, 6});
  const Value w = g.Parameter("w", {16, 3, 3, 3}, Initializer::Uniform(0.5));
  const Value b = g.Parameter("b", {16}, Initializer::Uniform(0.5));
  const Value y = ops::Relu(g, ops::BatchNorm2d(g, ops::Conv2D(g, x, w, b, {{1, 1}, {1, 1}}), "bn", {}));
  for (const char* name : {"bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"}) {
    Tensor& t = g.parameter_value(*g.FindPersistent(name));
    t = RandomTensor(t.shape(), static_cast<uint64_t>(t.num_elements() + name[3]), 0.2f, 1.5f);
  }
  const Tensor xv = RandomTensor({2, 3, 6, 6}, 4);
  auto folded = Executor::Compile(g, {y}, {.training = false, .fixed_parameters = true, .profile = true});
  auto plain = Executor::Compile(g, {y}, {.training = false, .rewrite = false});
  ASSERT_TRUE(folded.ok() && plain.ok());
  const auto expect_same = [&] {
    ASSERT_TRUE((*folded)->Run({{x, &xv}}).ok());
    ASSERT_TRUE((*plain)->Run({{x, &xv}}).ok());
    ::dlf::testing::ExpectTensorNear((*folded)->fetch(0), (*plain)->fetch(0), 1e-5f);
  };
  expect_same();
  EXPECT_THAT((*folded)->ProfileReport(), ::testing::HasSubstr("FoldBatchNorm [rewrite,hoist]"));
  EXPECT_THAT((*folded)->ProfileReport(), ::testing::Not(::testing::HasSubstr("  BatchNorm")));
  // New statistics: used once the caller says the parameters changed.
  Tensor& mean = g.parameter_value(*g.FindPersistent("bn.running_mean"));
  for (int64_t i = 0; i < mean.num_elements(); ++i) mean.f32()[i] += 0.5f;
  (*folded)->ParametersChanged();
  expect_same();
  auto training = Executor::Compile(g, {y}, {.training = true, .profile = true});
  ASSERT_TRUE(training.ok());
  ASSERT_TRUE((*training)->Run({{x, &xv}}).ok());
  EXPECT_THAT((*training)->ProfileReport(), ::testing::Not(::testing::HasSubstr("FoldBatchNorm")));
}

// A layer in inference mode inside a training step (--freeze_bn): it normalizes with the
// running statistics, leaves them alone, and its gradients treat them as constants.
Value FrozenBatchNorm(Graph& g, const std::vector<Value>& in, int64_t channels) {
  Value mean = g.Buffer("mean", DType::kF32, {channels}, 0.3f);
  Value var = g.Buffer("var", DType::kF32, {channels}, 2.5f);
  Value count = g.Buffer("count", DType::kI64, {});
  return g.Op("BatchNorm", {in[0], in[1], in[2], mean, var, count}, {{kInferenceModeAttr, true}})[0];
}

TEST(BatchNormTest, InferenceModeInATrainingStepUsesAndKeepsTheRunningStatistics) {
  for (int64_t channels : {C, int64_t{16}}) {  // plain and channel-blocked layouts
    Tensor x = RandomTensor({N, channels, H, W}, 8, -2.0f, 2.0f);
    Tensor weight = RandomTensor({channels}, 9, 0.5f, 1.5f), bias = RandomTensor({channels}, 10);
    Graph g;
    Value xv = g.Input("x", DType::kF32, x.shape());
    Value wv = g.Input("w", DType::kF32, weight.shape()), bv = g.Input("b", DType::kF32, bias.shape());
    Value y = FrozenBatchNorm(g, {xv, wv, bv}, channels);
    auto exec = Executor::Compile(g, {y}, {/*training=*/true});
    ASSERT_TRUE(exec.ok()) << exec.status();
    ASSERT_TRUE((*exec)->Run({{xv, &x}, {wv, &weight}, {bv, &bias}}).ok());
    for (int64_t i = 0; i < x.num_elements(); ++i) {
      const int64_t c = (i / (H * W)) % channels;
      const double ref = (x.f32()[i] - 0.3) / std::sqrt(2.5 + 1e-5) * weight.f32()[c] + bias.f32()[c];
      ASSERT_NEAR((*exec)->fetch(0).f32()[i], ref, 1e-5) << channels << " " << i;
    }
    EXPECT_EQ(g.parameter_value(*g.FindPersistent("mean")).f32()[0], 0.3f);
    EXPECT_EQ(g.parameter_value(*g.FindPersistent("count")).i64()[0], 0);
    ExpectGradientsMatch([channels](Graph& g, const std::vector<Value>& in) {
      return FrozenBatchNorm(g, in, channels);
    }, {&x, &weight, &bias}, {.eps = 1e-2, .rtol = 2e-2, .atol = 2e-3});
  }
}

TEST(BatchNormTest, StatisticsMustBeBuffers) {
  Graph g;
  Value x = g.Input("x", DType::kF32, {N, C, H, W});
  Value v = g.Input("v", DType::kF32, {C});
  Value count = g.Buffer("count", DType::kI64, {});
  Value y = g.Op("BatchNorm", {x, v, v, v, v, count})[0];
  ASSERT_TRUE(g.status().ok()) << g.status();
  auto exec = Executor::Compile(g, {y});
  EXPECT_THAT(std::string(exec.status().message()), ::testing::HasSubstr("which must be a Buffer"));
}

}  // namespace
}  // namespace dlf
