#include "graph/autodiff.h"

#include "graph/executor.h"
#include "graph/op_registry.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ops/ops.h"
#include "tests/testing/grad_check.h"

namespace dlf {
namespace {

using ::dlf::testing::ExpectGradientsMatch;
using ::dlf::testing::RandomTensor;
using ::testing::HasSubstr;

TEST(AutodiffTest, ElementwiseCompositionMatchesFiniteDifferences) {
  Tensor x = RandomTensor({3, 4}, 1), y = RandomTensor({3, 4}, 2);
  ExpectGradientsMatch(
      [](Graph& g, const std::vector<Value>& in) {
        return ops::Add(g, ops::Tanh(g, ops::Mul(g, in[0], in[1])), ops::Sigmoid(g, in[0]));
      },
      {&x, &y});
}

TEST(AutodiffTest, MatMulWithEveryTransposeMatchesFiniteDifferences) {
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      SCOPED_TRACE(::testing::Message() << "transpose_a=" << ta << " transpose_b=" << tb);
      Tensor a = RandomTensor(ta ? Shape{5, 3} : Shape{3, 5}, 3);
      Tensor b = RandomTensor(tb ? Shape{4, 5} : Shape{5, 4}, 4);
      ExpectGradientsMatch(
          [=](Graph& g, const std::vector<Value>& in) { return ops::MatMul(g, in[0], in[1], ta, tb); },
          {&a, &b});
    }
  }
}

TEST(AutodiffTest, ReductionOfMatMulMatchesFiniteDifferences) {
  Tensor a = RandomTensor({4, 6}, 5), b = RandomTensor({6, 3}, 6);
  ExpectGradientsMatch(
      [](Graph& g, const std::vector<Value>& in) {
        Value h = ops::Tanh(g, ops::MatMul(g, in[0], in[1]));
        return ops::Add(g, ops::Mean(g, h), ops::Sum(g, ops::Mul(g, h, h)));
      },
      {&a, &b});
}

// Runs the graph's gradient values with x fed and returns copies of them.
std::vector<Tensor> EvalGradients(Graph& g, Value x, const Tensor& x_value,
                                  const std::vector<Value>& grads) {
  auto exec = Executor::Compile(g, grads);
  EXPECT_TRUE(exec.ok()) << exec.status();
  EXPECT_TRUE((*exec)->Run({{x, &x_value}}).ok());
  std::vector<Tensor> out;
  for (int i = 0; i < (*exec)->num_fetches(); ++i) out.push_back((*exec)->fetch(i).Clone());
  return out;
}

TEST(AutodiffTest, FanOutSumsGradients) {
  Graph g;
  Value x = g.Input("x", DType::kF32, {4});
  Value y = ops::Add(g, ops::Mul(g, x, x), x);  // dy/dx = 2x + 1
  auto grads = Gradients(g, ops::Sum(g, y), {x});
  ASSERT_TRUE(grads.ok()) << grads.status();
  Tensor xv = Tensor::F32({4}, {-1.5f, 0.0f, 0.5f, 3.0f});
  Tensor dx = std::move(EvalGradients(g, x, xv, *grads)[0]);
  for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(dx.f32()[i], 2 * xv.f32()[i] + 1);
}

TEST(AutodiffTest, ParameterOffTheLossPathHasNoGradient) {
  Graph g;
  Value x = g.Input("x", DType::kF32, {2, 3});
  Value w = g.Parameter("w", {3, 2}, Initializer::HeUniform());
  Value unused = g.Parameter("unused", {2, 2}, Initializer::Zeros());
  ops::Tanh(g, unused);  // a branch that does not reach the loss
  Value loss = ops::Sum(g, ops::MatMul(g, x, w));
  auto grads = Gradients(g, loss, {w, unused});
  ASSERT_TRUE(grads.ok()) << grads.status();
  EXPECT_TRUE((*grads)[0].valid());
  EXPECT_FALSE((*grads)[1].valid());
}

TEST(AutodiffTest, StopGradientCutsThePath) {
  Graph g;
  Value x = g.Input("x", DType::kF32, {3});
  Value loss = ops::Sum(g, ops::Mul(g, x, ops::StopGradient(g, x)));  // d/dx = x, not 2x
  auto grads = Gradients(g, loss, {x});
  ASSERT_TRUE(grads.ok()) << grads.status();
  Tensor xv = Tensor::F32({3}, {1.0f, -2.0f, 4.0f});
  Tensor dx = std::move(EvalGradients(g, x, xv, *grads)[0]);
  for (int i = 0; i < 3; ++i) EXPECT_FLOAT_EQ(dx.f32()[i], xv.f32()[i]);
}

TEST(AutodiffTest, OnlyStopGradientPathGivesNoGradient) {
  Graph g;
  Value x = g.Input("x", DType::kF32, {3});
  auto grads = Gradients(g, ops::Sum(g, ops::StopGradient(g, x)), {x});
  ASSERT_TRUE(grads.ok()) << grads.status();
  EXPECT_FALSE((*grads)[0].valid());
}

TEST(AutodiffTest, GivenOutputGradientForNonScalarOutput) {
  Graph g;
  Value x = g.Input("x", DType::kF32, {3});
  Value y = ops::Mul(g, x, x);
  Value dy = g.Constant(Tensor::F32({3}, {1.0f, 10.0f, 100.0f}), "dy");
  auto grads = Gradients(g, y, {x}, dy);
  ASSERT_TRUE(grads.ok()) << grads.status();
  Tensor xv = Tensor::F32({3}, {1.0f, 2.0f, 3.0f});
  Tensor dx = std::move(EvalGradients(g, x, xv, *grads)[0]);
  EXPECT_FLOAT_EQ(dx.f32()[0], 2.0f);
  EXPECT_FLOAT_EQ(dx.f32()[1], 40.0f);
  EXPECT_FLOAT_EQ(dx.f32()[2], 600.0f);
}

TEST(AutodiffTest, NonScalarLossWithoutOutputGradientIsAnError) {
  Graph g;
  Value x = g.Input("x", DType::kF32, {3});
  auto grads = Gradients(g, ops::Mul(g, x, x), {x});
  ASSERT_FALSE(grads.ok());
  EXPECT_THAT(std::string(grads.status().message()), HasSubstr("needs an explicit loss_grad"));
}

// An op with a kernel but no gradient rule, registered only in this test.
[[maybe_unused]] const bool kNoGradOp = RegisterOpOrDie(
    {"TestNoGradient", 1,
     [](const ShapeContext& c) -> absl::StatusOr<std::vector<ValueInfo>> {
       return std::vector<ValueInfo>{c.inputs[0]};
     },
     [](const KernelContext&) -> absl::StatusOr<std::unique_ptr<Kernel>> {
       return std::make_unique<FunctionKernel>([](RunContext&) { return absl::OkStatus(); });
     },
     nullptr});

TEST(AutodiffTest, MissingGradientRuleOnNeededPathIsAnError) {
  Graph g;
  Value x = g.Input("x", DType::kF32, {3});
  Value y = g.Op1("TestNoGradient", {x}, {}, "blocker");
  auto grads = Gradients(g, ops::Sum(g, y), {x});
  ASSERT_FALSE(grads.ok());
  EXPECT_THAT(std::string(grads.status().message()),
              HasSubstr("op 'TestNoGradient' (node 'blocker') has no gradient rule"));
}

TEST(AutodiffTest, MissingGradientRuleOffThePathIsFine) {
  Graph g;
  Value x = g.Input("x", DType::kF32, {3});
  Value c = g.Input("c", DType::kF32, {3});
  Value y = ops::Mul(g, x, g.Op1("TestNoGradient", {c}));  // the rule-less op only feeds c's side
  auto grads = Gradients(g, ops::Sum(g, y), {x});
  EXPECT_TRUE(grads.ok()) << grads.status();
}

}  // namespace
}  // namespace dlf
