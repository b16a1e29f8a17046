// Element-wise math and activations: forward against std:: reference formulas, gradients
// against finite differences.
#include <cmath>
#include <functional>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ops/ops.h"
#include "tests/testing/grad_check.h"

namespace dlf {
namespace {

using ::dlf::testing::ExpectGradientsMatch;
using ::dlf::testing::ExpectTensorNear;
using ::dlf::testing::RunForward;
using ::dlf::testing::SpacedTensor;

struct Case {
  const char* name;
  std::function<Value(Graph&, Value)> op;
  std::function<double(double)> reference;
  bool positive_inputs = false;  // Log, Sqrt, Pow
  // Scales the inputs, so that branches far from 0 run too (HardSwish beyond +-3, Softplus's
  // linear part above 20).
  float spread = 1.0f;
};

class MathTest : public ::testing::TestWithParam<Case> {};

TEST_P(MathTest, ForwardMatchesReferenceAndGradients) {
  const Case& c = GetParam();
  // Spaced values in [-1.8, 1.8] times the spread, none near 0 or the kinks of Clip (0.5, 1.5)
  // and HardSwish (+-3).
  Tensor x = SpacedTensor({4, 6}, 7, 0.15f);
  for (int64_t i = 0; i < x.num_elements(); ++i) {
    float& v = x.f32()[i];
    v *= c.spread;
    if (c.positive_inputs) v = std::fabs(v) + 0.2f;
    for (float kink : {-3.0f, 3.0f, 0.5f, 1.5f}) {
      if (std::fabs(v - kink) < 0.02f) v += 0.05f;
    }
  }
  auto build = [&c](Graph& g, const std::vector<Value>& in) { return c.op(g, in[0]); };
  const Tensor y = RunForward(build, {&x});
  Tensor ref(DType::kF32, x.shape());
  for (int64_t i = 0; i < x.num_elements(); ++i) ref.f32()[i] = static_cast<float>(c.reference(x.f32()[i]));
  ExpectTensorNear(y, ref, 2e-5f);
  ExpectGradientsMatch(build, {&x});
}

double Sigmoid(double x) { return 1 / (1 + std::exp(-x)); }

INSTANTIATE_TEST_SUITE_P(
    Ops, MathTest,
    ::testing::Values(
        Case{"Exp", ops::Exp, [](double x) { return std::exp(x); }},
        Case{"Log", ops::Log, [](double x) { return std::log(x); }, true},
        Case{"Sqrt", ops::Sqrt, [](double x) { return std::sqrt(x); }, true},
        Case{"Neg", ops::Neg, [](double x) { return -x; }},
        Case{"Abs", ops::Abs, [](double x) { return std::fabs(x); }},
        Case{"Square", ops::Square, [](double x) { return x * x; }},
        Case{"Pow", [](Graph& g, Value x) { return ops::Pow(g, x, 2.5); },
             [](double x) { return std::pow(x, 2.5); }, true},
        Case{"Clip", [](Graph& g, Value x) { return ops::Clip(g, x, 0.5, 1.5); },
             [](double x) { return std::min(std::max(x, 0.5), 1.5); }},
        Case{"LeakyRelu", [](Graph& g, Value x) { return ops::LeakyRelu(g, x, 0.1); },
             [](double x) { return x > 0 ? x : 0.1 * x; }},
        Case{"Elu", [](Graph& g, Value x) { return ops::Elu(g, x, 1.3); },
             [](double x) { return x > 0 ? x : 1.3 * (std::exp(x) - 1); }},
        Case{"Erf", ops::Erf, [](double x) { return std::erf(x); }},
        Case{"Gelu", [](Graph& g, Value x) { return ops::Gelu(g, x); },
             [](double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); }},
        Case{"GeluTanh", [](Graph& g, Value x) { return ops::Gelu(g, x, true); },
             [](double x) {
               return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
             }},
        Case{"Silu", ops::Silu, [](double x) { return x * Sigmoid(x); }},
        Case{"Softplus", ops::Softplus, [](double x) { return std::log1p(std::exp(x)); }},
        Case{"SoftplusWide", ops::Softplus, [](double x) { return std::log1p(std::exp(x)); }, false, 14.0f},
        Case{"HardSigmoid", [](Graph& g, Value x) { return ops::HardSigmoid(g, x); },
             [](double x) { return std::min(std::max(x / 6 + 0.5, 0.0), 1.0); }, false, 2.0f},
        Case{"HardSigmoidOnnx", [](Graph& g, Value x) { return ops::HardSigmoid(g, x, 0.4, -0.1); },
             [](double x) { return std::min(std::max(0.4 * x - 0.1, 0.0), 1.0); }},
        Case{"HardSwish", ops::HardSwish,
             [](double x) { return x * std::min(std::max(x + 3, 0.0), 6.0) / 6; }},
        Case{"HardSwishWide", ops::HardSwish,
             [](double x) { return x * std::min(std::max(x + 3, 0.0), 6.0) / 6; }, false, 3.0f}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(MathTest, ClipNeedsLoBelowHi) {
  Graph g;
  ops::Clip(g, g.Input("x", DType::kF32, {2}), 1.0, 0.0);
  EXPECT_THAT(std::string(g.status().message()), ::testing::HasSubstr("Clip: lo 1 must be <= hi 0"));
}

}  // namespace
}  // namespace dlf
