#include <cmath>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "graph/executor.h"
#include "graph/status_macros.h"
#include "gtest/gtest.h"
#include "ops/ops.h"
#include "tests/testing/grad_check.h"

namespace dlf {
namespace {

using ::dlf::testing::ExpectGradientsMatch;
using ::dlf::testing::ExpectTensorNear;
using ::dlf::testing::RandomTensor;
using ::dlf::testing::RunForward;

TEST(SoftmaxTest, ForwardMatchesReferenceAndGradients) {
  Tensor x = RandomTensor({3, 5}, 1, -3.0f, 3.0f);
  auto build = [](Graph& g, const std::vector<Value>& in) { return ops::Softmax(g, in[0]); };
  Tensor y = RunForward(build, {&x});
  Tensor ref(DType::kF32, {3, 5});
  for (int i = 0; i < 3; ++i) {
    double s = 0;
    for (int j = 0; j < 5; ++j) s += std::exp(x.f32()[i * 5 + j]);
    for (int j = 0; j < 5; ++j) ref.f32()[i * 5 + j] = static_cast<float>(std::exp(x.f32()[i * 5 + j]) / s);
  }
  ExpectTensorNear(y, ref, 1e-6f);
  ExpectGradientsMatch(build, {&x});
}

// [2, 3, 4] over each axis (the last, a middle one, the first, and -2 for the middle): against
// a reference loop over that axis, and the gradients; log-softmax alike.
TEST(SoftmaxTest, AnyAxisOfAnyRankMatchesReferenceAndGradients) {
  const Shape shape = {2, 3, 4};
  Tensor x = RandomTensor(shape, 3, -3.0f, 3.0f);
  for (int64_t axis : {2, 1, 0, -2}) {
    for (bool log : {false, true}) {
      SCOPED_TRACE(absl::StrCat("axis ", axis, log ? " log-softmax" : " softmax"));
      auto build = [axis, log](Graph& g, const std::vector<Value>& in) {
        return log ? ops::LogSoftmax(g, in[0], axis) : ops::Softmax(g, in[0], axis);
      };
      const Tensor y = RunForward(build, {&x});
      const int64_t a = axis < 0 ? axis + 3 : axis;
      const int64_t stride = a == 2 ? 1 : a == 1 ? 4 : 12;  // row-major strides of [2, 3, 4]
      for (int64_t i = 0; i < x.num_elements(); ++i) {
        const int64_t first = i - (i / stride % shape[a]) * stride;  // element 0 along the axis
        double s = 0;
        for (int64_t j = 0; j < shape[a]; ++j) s += std::exp(x.f32()[first + j * stride]);
        const double ref = log ? x.f32()[i] - std::log(s) : std::exp(x.f32()[i]) / s;
        ASSERT_NEAR(y.f32()[i], ref, 1e-6) << i;
      }
      ExpectGradientsMatch(build, {&x});
    }
  }
  Graph g;
  ops::Softmax(g, g.Input("x", DType::kF32, shape), 3);
  EXPECT_THAT(g.status().message(), ::testing::HasSubstr("axis 3 is out of range for [2, 3, 4]"));
}

// Runs the mean softmax cross-entropy of `logits` against `labels`.
absl::StatusOr<float> CrossEntropy(const Tensor& logits, const Tensor& labels,
                                   double label_smoothing = 0.0) {
  Graph g;
  Value l = g.Input("logits", DType::kF32, logits.shape());
  Value y = g.Input("labels", DType::kI32, labels.shape());
  DLF_ASSIGN_OR_RETURN(auto exec,
                       Executor::Compile(g, {ops::SoftmaxCrossEntropy(g, l, y, label_smoothing)}));
  DLF_RETURN_IF_ERROR(exec->Run({{l, &logits}, {y, &labels}}));
  return exec->fetch(0).f32()[0];
}

TEST(CrossEntropyTest, MatchesReferenceAndGradients) {
  Tensor x = RandomTensor({4, 3}, 2, -2.0f, 2.0f);
  Tensor labels = Tensor::I32({4}, {0, 2, 1, 2});
  double ref = 0;
  for (int i = 0; i < 4; ++i) {
    double s = 0;
    for (int j = 0; j < 3; ++j) s += std::exp(x.f32()[i * 3 + j]);
    ref += std::log(s) - x.f32()[i * 3 + labels.i32()[i]];
  }
  EXPECT_NEAR(*CrossEntropy(x, labels), ref / 4, 1e-6);
  ExpectGradientsMatch([](Graph& g, const std::vector<Value>& in) {
    return ops::SoftmaxCrossEntropy(g, in[0], in[1]);
  }, {&x, &labels});
}

TEST(CrossEntropyTest, LabelSmoothingMatchesReferenceAndGradients) {
  Tensor x = RandomTensor({5, 4}, 3, -2.0f, 2.0f);
  Tensor labels = Tensor::I32({5}, {0, 3, 1, 2, 3});
  for (double e : {0.1, 0.45}) {
    // The target q = (1 - e) onehot + e / C, loss = -sum_j q_j log softmax(x)_j (PyTorch's).
    double ref = 0;
    for (int i = 0; i < 5; ++i) {
      double s = 0;
      for (int j = 0; j < 4; ++j) s += std::exp(x.f32()[i * 4 + j]);
      for (int j = 0; j < 4; ++j) {
        const double q = (j == labels.i32()[i] ? 1 - e : 0.0) + e / 4;
        ref -= q * (x.f32()[i * 4 + j] - std::log(s));
      }
    }
    EXPECT_NEAR(*CrossEntropy(x, labels, e), ref / 5, 1e-6) << e;
    ExpectGradientsMatch([e](Graph& g, const std::vector<Value>& in) {
      return ops::SoftmaxCrossEntropy(g, in[0], in[1], e);
    }, {&x, &labels});
  }
  Graph g;
  ops::SoftmaxCrossEntropy(g, g.Input("l", DType::kF32, {2, 3}), g.Input("y", DType::kI32, {2}), 1.0);
  EXPECT_THAT(std::string(g.status().message()),
              ::testing::HasSubstr("label_smoothing must be in [0, 1), found 1"));
}

// A language model's loss: logits [b, t, vocab] against targets [b, t], the mean over all b * t
// tokens (PyTorch's F.cross_entropy(logits.view(-1, V), targets.view(-1))), with and without
// label smoothing; gradients by finite differences.
TEST(CrossEntropyTest, SequenceLogitsTakeTheMeanOverEveryToken) {
  const int64_t b = 2, t = 3, v = 5;
  Tensor x = RandomTensor({b, t, v}, 11, -2.0f, 2.0f);
  Tensor labels = Tensor::I32({b, t}, {4, 0, 2, 1, 1, 3});
  for (double e : {0.0, 0.1}) {
    double ref = 0;
    for (int64_t r = 0; r < b * t; ++r) {
      const float* row = x.f32() + r * v;
      double s = 0;
      for (int64_t j = 0; j < v; ++j) s += std::exp(row[j]);
      for (int64_t j = 0; j < v; ++j) {
        const double q = (j == labels.i32()[r] ? 1 - e : 0.0) + e / v;
        ref -= q * (row[j] - std::log(s));
      }
    }
    EXPECT_NEAR(*CrossEntropy(x, labels, e), ref / (b * t), 1e-6) << e;
    ExpectGradientsMatch([e](Graph& g, const std::vector<Value>& in) {
      return ops::SoftmaxCrossEntropy(g, in[0], in[1], e);
    }, {&x, &labels});
  }
  Graph g;
  ops::SoftmaxCrossEntropy(g, g.Input("logits", DType::kF32, {b, t, v}), g.Input("labels", DType::kI32, {b, t + 1}));
  EXPECT_THAT(std::string(g.status().message()),
              ::testing::HasSubstr("labels must be [2, 3] to match the logits [2, 3, 5], found [2, 4]"));
}

TEST(SoftTargetCrossEntropyTest, MatchesReferenceAndGradients) {
  Tensor x = RandomTensor({4, 5}, 7, -2.0f, 2.0f);
  Tensor q = RandomTensor({4, 5}, 8, 0.0f, 1.0f);
  for (int i = 0; i < 4; ++i) {  // rows summing to 1, as mixed one-hots do
    float s = 0;
    for (int j = 0; j < 5; ++j) s += q.f32()[i * 5 + j];
    for (int j = 0; j < 5; ++j) q.f32()[i * 5 + j] /= s;
  }
  for (double e : {0.0, 0.2}) {
    double ref = 0;
    for (int i = 0; i < 4; ++i) {
      double s = 0;
      for (int j = 0; j < 5; ++j) s += std::exp(x.f32()[i * 5 + j]);
      for (int j = 0; j < 5; ++j) ref -= ((1 - e) * q.f32()[i * 5 + j] + e / 5) * (x.f32()[i * 5 + j] - std::log(s));
    }
    auto build = [e](Graph& g, const std::vector<Value>& in) { return ops::SoftTargetCrossEntropy(g, in[0], in[1], e); };
    Tensor loss = RunForward(build, {&x, &q});
    EXPECT_NEAR(loss.f32()[0], ref / 4, 1e-6) << e;
    ExpectGradientsMatch(build, {&x, &q});  // d/dlogits and d/dtargets by finite differences
  }
  // One-hot targets give the hard-label loss.
  Tensor labels = Tensor::I32({4}, {1, 0, 4, 2});
  Tensor onehot(DType::kF32, {4, 5});
  for (int i = 0; i < 20; ++i) onehot.f32()[i] = (i % 5 == labels.i32()[i / 5]) ? 1.0f : 0.0f;
  auto soft = [](Graph& g, const std::vector<Value>& in) { return ops::SoftTargetCrossEntropy(g, in[0], in[1]); };
  EXPECT_NEAR(RunForward(soft, {&x, &onehot}).f32()[0], *CrossEntropy(x, labels), 1e-6);
}

TEST(CrossEntropyTest, StaysFiniteForHugeLogits) {
  Tensor x = Tensor::F32({2, 3}, {1e4f, -1e4f, 0.0f, -1e4f, 1e4f, 1e4f});
  Tensor labels = Tensor::I32({2}, {1, 0});  // both labels have logit -1e4 far below the max
  absl::StatusOr<float> loss = CrossEntropy(x, labels);
  ASSERT_TRUE(loss.ok());
  EXPECT_TRUE(std::isfinite(*loss));
  // Row 0: 2e4; row 1: 2e4 + log(2). f32's spacing at 2e4 is 2^-9: a few of it, not log(2)/2.
  EXPECT_NEAR(*loss, (2e4 + (2e4 + std::log(2.0))) / 2, 8e-3);
}

TEST(CrossEntropyTest, LabelOutOfRangeIsAnError) {
  Tensor x(DType::kF32, {2, 3});
  EXPECT_THAT(std::string(CrossEntropy(x, Tensor::I32({2}, {0, 3})).status().message()),
              ::testing::HasSubstr("label 3 at row 1 is outside [0, 3)"));
  EXPECT_THAT(std::string(CrossEntropy(x, Tensor::I32({2}, {-1, 0})).status().message()),
              ::testing::HasSubstr("label -1 at row 0"));
}

TEST(CrossEntropyTest, LabelShapeMismatchIsABuildError) {
  Graph g;
  ops::SoftmaxCrossEntropy(g, g.Input("logits", DType::kF32, {4, 3}),
                           g.Input("labels", DType::kI32, {5}));
  EXPECT_THAT(std::string(g.status().message()),
              ::testing::HasSubstr("labels must be [4] to match the logits, found [5]"));
}

TEST(ArgmaxTest, ArgmaxAndCountCorrect) {
  Graph g;
  Value l = g.Input("logits", DType::kF32, {3, 4});
  Value y = g.Input("labels", DType::kI32, {3});
  auto exec = Executor::Compile(g, {ops::Argmax(g, l), ops::CountCorrect(g, l, y)});
  ASSERT_TRUE(exec.ok());
  Tensor logits = Tensor::F32({3, 4}, {0, 5, 1, 2, 9, 0, 0, 0, 1, 1, 3, 2});
  Tensor labels = Tensor::I32({3}, {1, 2, 2});
  ASSERT_TRUE((*exec)->Run({{l, &logits}, {y, &labels}}).ok());
  EXPECT_EQ((*exec)->fetch(0).i32()[0], 1);
  EXPECT_EQ((*exec)->fetch(0).i32()[1], 0);
  EXPECT_EQ((*exec)->fetch(0).i32()[2], 2);
  EXPECT_EQ((*exec)->fetch(1).f32()[0], 2.0f);
}

}  // namespace
}  // namespace dlf
