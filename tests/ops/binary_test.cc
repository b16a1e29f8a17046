// Broadcasting binary ops: forward against a reference loop over NumPy's rule, gradients
// against finite differences, for several shape pairs (scalars and size-1 axes included).
#include <cmath>
#include <functional>

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
using ::dlf::testing::RunForward;
using ::dlf::testing::SpacedTensor;

// The element of `t` that NumPy broadcasting reads for output multi-index `idx`.
const float& At(const Tensor& t, const Shape& out, const std::vector<int64_t>& idx) {
  int64_t off = 0, stride = 1;
  const int lead = static_cast<int>(out.size() - t.shape().size());
  for (int d = static_cast<int>(t.shape().size()) - 1; d >= 0; --d) {
    const int64_t i = t.shape()[d] == 1 ? 0 : idx[d + lead];
    off += i * stride;
    stride *= t.shape()[d];
  }
  return t.f32()[off];
}

struct BinaryOp {
  const char* name;
  std::function<Value(Graph&, Value, Value)> op;
  std::function<float(float, float)> reference;
};

const BinaryOp kOps[] = {
    {"Add", ops::Add, [](float a, float b) { return a + b; }},
    {"Sub", ops::Sub, [](float a, float b) { return a - b; }},
    {"Mul", ops::Mul, [](float a, float b) { return a * b; }},
    {"Div", ops::Div, [](float a, float b) { return a / b; }},
    {"Maximum", ops::Maximum, [](float a, float b) { return a >= b ? a : b; }},
    {"Minimum", ops::Minimum, [](float a, float b) { return a <= b ? a : b; }},
};

const std::pair<Shape, Shape> kShapes[] = {
    {{2, 3, 4}, {2, 3, 4}}, {{2, 3, 4}, {4}},    {{2, 3, 4}, {3, 1}}, {{2, 1, 4}, {1, 3, 1}},
    {{2, 3, 4}, {}},        {{}, {2, 3}},        {{5, 1}, {1, 6}},    {{1}, {3, 2}},
};

TEST(BroadcastTest, EveryOpAndShapePairMatchesReferenceAndGradients) {
  for (const BinaryOp& op : kOps) {
    for (const auto& [sa, sb] : kShapes) {
      SCOPED_TRACE(std::string(op.name) + " " + ShapeString(sa) + " " + ShapeString(sb));
      // Distinct values away from each other (Maximum/Minimum kinks) and from 0 (Div).
      Tensor a = SpacedTensor(sa, 1, 0.11f), b = SpacedTensor(sb, 2, 0.07f);
      for (int64_t i = 0; i < b.num_elements(); ++i) b.f32()[i] += b.f32()[i] >= 0 ? 0.5f : -0.5f;
      auto build = [&op](Graph& g, const std::vector<Value>& in) { return op.op(g, in[0], in[1]); };
      const Shape out = RunForward(build, {&a, &b}).shape();
      std::vector<int64_t> idx(out.size(), 0);
      // Keep every compared pair 0.03 apart, so Maximum/Minimum are differentiable there.
      for (bool moved = true; moved;) {
        moved = false;
        for (int64_t flat = 0; flat < NumElements(out); ++flat) {
          int64_t rest = flat;
          for (int d = static_cast<int>(out.size()) - 1; d >= 0; --d) {
            idx[d] = rest % out[d];
            rest /= out[d];
          }
          if (std::fabs(At(a, out, idx) - At(b, out, idx)) < 0.03f) {
            const_cast<float&>(At(b, out, idx)) += 0.05f;
            moved = true;
          }
        }
      }
      const Tensor y = RunForward(build, {&a, &b});
      for (int64_t flat = 0; flat < y.num_elements(); ++flat) {
        int64_t rest = flat;
        for (int d = static_cast<int>(out.size()) - 1; d >= 0; --d) {
          idx[d] = rest % out[d];
          rest /= out[d];
        }
        ASSERT_FLOAT_EQ(y.f32()[flat], op.reference(At(a, out, idx), At(b, out, idx))) << flat;
      }
      ExpectGradientsMatch(build, {&a, &b});
    }
  }
}

TEST(BroadcastTest, BroadcastToAndSumToShape) {
  Tensor x = RandomTensor({3, 1}, 3);
  auto to = [](Graph& g, const std::vector<Value>& in) { return ops::BroadcastTo(g, in[0], {2, 3, 4}); };
  const Tensor y = RunForward(to, {&x});
  ASSERT_EQ(y.shape(), (Shape{2, 3, 4}));
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t w = 0; w < 4; ++w) EXPECT_EQ(y.f32()[(n * 3 + c) * 4 + w], x.f32()[c]) << n << c << w;
  ExpectGradientsMatch(to, {&x});
  Tensor big = RandomTensor({2, 3, 4}, 4);
  const Tensor s = RunForward([](Graph& g, const std::vector<Value>& in) {
    return ops::SumToShape(g, in[0], {3, 1});
  }, {&big});
  ASSERT_EQ(s.shape(), (Shape{3, 1}));
  for (int64_t c = 0; c < 3; ++c) {
    double ref = 0;
    for (int64_t n = 0; n < 2; ++n)
      for (int64_t w = 0; w < 4; ++w) ref += big.f32()[(n * 3 + c) * 4 + w];
    EXPECT_NEAR(s.f32()[c], ref, 1e-5) << c;
  }
}

// On ties the whole gradient goes to the first input (ops.h), none to the second: PyTorch's
// torch.maximum splits it in halves, so the rule is dlf's own and stated, and this holds it.
TEST(BroadcastTest, MaximumAndMinimumGiveTiesGradientToTheFirstInput) {
  for (const bool max : {true, false}) {
    SCOPED_TRACE(max ? "Maximum" : "Minimum");
    Graph g;
    const Value a = g.Input("a", DType::kF32, {6}), b = g.Input("b", DType::kF32, {6});
    const Value loss = ops::Sum(g, max ? ops::Maximum(g, a, b) : ops::Minimum(g, a, b));
    auto grads = Gradients(g, loss, {a, b});
    ASSERT_TRUE(grads.ok()) << grads.status();
    const Tensor av = Tensor::F32({6}, {1, 2, -3, 4, 0, 5}), bv = Tensor::F32({6}, {1, 3, -3, 2, 0, 5.5f});
    const std::vector<Tensor> out = CompileRunFetch(g, {(*grads)[0], (*grads)[1]}, {}, {{a, &av}, {b, &bv}});
    ASSERT_EQ(out.size(), 2u);
    for (int i = 0; i < 6; ++i) {
      const float x = av.f32()[i], y = bv.f32()[i];
      const bool to_a = max ? x >= y : x <= y;
      EXPECT_EQ(out[0].f32()[i], to_a ? 1.0f : 0.0f) << i;
      EXPECT_EQ(out[1].f32()[i], to_a ? 0.0f : 1.0f) << i;
    }
  }
}

TEST(BroadcastTest, IncompatibleShapesFailAtBuildTime) {
  Graph g;
  ops::Add(g, g.Input("a", DType::kF32, {2, 3}), g.Input("b", DType::kF32, {4}));
  EXPECT_THAT(std::string(g.status().message()),
              ::testing::HasSubstr("shapes [2, 3] and [4] do not broadcast (axis 1: 3 vs 4)"));
}

// A ReLU after Add (a residual block's) runs inside the Add kernel: on plain tensors (the loop)
// and on blocked ones between convolutions (oneDNN's binary add with a ReLU post-op), the
// ReLU's output and the gradients equal the two kernels' (fuse off) exactly.
TEST(AddTest, FusedReluEqualsTheSeparateKernels) {
  for (bool blocked : {false, true}) {
    SCOPED_TRACE(blocked ? "blocked" : "plain");
    Graph g(1);
    const Value x = g.Input("x", DType::kF32, {2, 16, 5, 5});
    Value a = x, b = ops::Scale(g, x, -0.7);
    std::vector<Value> wrt = {x};
    if (blocked) {
      const Value w1 = g.Parameter("w1", {16, 16, 3, 3}, Initializer::Uniform(0.3));
      const Value w2 = g.Parameter("w2", {16, 16, 3, 3}, Initializer::Uniform(0.3));
      a = ops::Conv2D(g, x, w1, Value{}, {{1, 1}, {1, 1}});
      b = ops::Conv2D(g, x, w2, Value{}, {{1, 1}, {1, 1}});
      wrt = {w1, w2};
    }
    Value y = ops::Relu(g, ops::Add(g, a, b));
    if (blocked) {
      const Value w3 = g.Parameter("w3", {8, 16, 3, 3}, Initializer::Uniform(0.3));
      y = ops::Conv2D(g, y, w3, Value{}, {{1, 1}, {1, 1}});
    }
    const Value loss = ops::Sum(g, ops::Mul(g, y, y));
    auto grads = Gradients(g, loss, wrt);
    ASSERT_TRUE(grads.ok()) << grads.status();
    std::vector<Value> fetches = {y};
    fetches.insert(fetches.end(), grads->begin(), grads->end());
    const Tensor xv = RandomTensor({2, 16, 5, 5}, 9);
    std::string profile;
    const std::vector<Tensor> separate = CompileRunFetch(g, fetches, {.fuse = false}, {{x, &xv}});
    const std::vector<Tensor> fused = CompileRunFetch(g, fetches, {.fuse = true}, {{x, &xv}}, &profile);
    EXPECT_THAT(profile, ::testing::HasSubstr(blocked ? "Add+Relu [fuse,layout]" : "Add+Relu [fuse]"));
    ExpectSameValues(fused, separate);
  }
}

}  // namespace
}  // namespace dlf
