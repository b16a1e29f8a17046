// Element-wise ops, reductions, reshapes and dropout.
#include <cmath>
#include <functional>

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

struct UnaryCase {
  const char* name;
  std::function<Value(Graph&, Value)> op;
  std::function<float(float)> reference;
};

class UnaryTest : public ::testing::TestWithParam<UnaryCase> {};

TEST_P(UnaryTest, ForwardMatchesReferenceAndGradientsMatchFiniteDifferences) {
  const UnaryCase& c = GetParam();
  Tensor x = SpacedTensor({3, 5}, 1, 0.13f);  // no element near ReLU's kink
  auto build = [&c](Graph& g, const std::vector<Value>& in) { return c.op(g, in[0]); };
  Tensor y = RunForward(build, {&x});
  Tensor ref(DType::kF32, x.shape());
  for (int64_t i = 0; i < x.num_elements(); ++i) ref.f32()[i] = c.reference(x.f32()[i]);
  ExpectTensorNear(y, ref, 1e-6f);
  ExpectGradientsMatch(build, {&x});
}

INSTANTIATE_TEST_SUITE_P(
    Ops, UnaryTest,
    ::testing::Values(
        UnaryCase{"Relu", ops::Relu, [](float x) { return x > 0 ? x : 0.0f; }},
        UnaryCase{"Sigmoid", ops::Sigmoid, [](float x) { return 1.0f / (1.0f + std::exp(-x)); }},
        UnaryCase{"Tanh", ops::Tanh, [](float x) { return std::tanh(x); }},
        UnaryCase{"Scale", [](Graph& g, Value x) { return ops::Scale(g, x, -2.5); },
                  [](float x) { return -2.5f * x; }}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(BinaryTest, AddMulAddNMatchReferenceAndGradients) {
  Tensor a = RandomTensor({2, 3, 4}, 1), b = RandomTensor({2, 3, 4}, 2), c = RandomTensor({2, 3, 4}, 3);
  auto add = [](Graph& g, const std::vector<Value>& in) { return ops::Add(g, in[0], in[1]); };
  auto mul = [](Graph& g, const std::vector<Value>& in) { return ops::Mul(g, in[0], in[1]); };
  auto addn = [](Graph& g, const std::vector<Value>& in) { return ops::AddN(g, in); };
  Tensor ya = RunForward(add, {&a, &b}), ym = RunForward(mul, {&a, &b}),
         yn = RunForward(addn, {&a, &b, &c});
  for (int64_t i = 0; i < a.num_elements(); ++i) {
    EXPECT_FLOAT_EQ(ya.f32()[i], a.f32()[i] + b.f32()[i]);
    EXPECT_FLOAT_EQ(ym.f32()[i], a.f32()[i] * b.f32()[i]);
    EXPECT_NEAR(yn.f32()[i], a.f32()[i] + b.f32()[i] + c.f32()[i], 1e-6);
  }
  ExpectGradientsMatch(add, {&a, &b});
  ExpectGradientsMatch(mul, {&a, &b});
  ExpectGradientsMatch(addn, {&a, &b, &c});
}

TEST(ReduceTest, SumAndMeanMatchReferenceAndGradients) {
  Tensor x = RandomTensor({4, 5}, 4);
  double s = 0;
  for (int64_t i = 0; i < 20; ++i) s += x.f32()[i];
  auto sum = [](Graph& g, const std::vector<Value>& in) { return ops::Sum(g, in[0]); };
  auto mean = [](Graph& g, const std::vector<Value>& in) { return ops::Mean(g, in[0]); };
  EXPECT_NEAR(RunForward(sum, {&x}).f32()[0], s, 1e-5);
  EXPECT_NEAR(RunForward(mean, {&x}).f32()[0], s / 20, 1e-6);
  ExpectGradientsMatch(sum, {&x});
  ExpectGradientsMatch(mean, {&x});
}

TEST(ReshapeTest, KeepsElementsAndInfersOneDimension) {
  Tensor x = RandomTensor({2, 3, 4}, 5);
  auto flat = [](Graph& g, const std::vector<Value>& in) { return ops::Flatten(g, in[0]); };
  auto reshape = [](Graph& g, const std::vector<Value>& in) {
    return ops::Reshape(g, in[0], {4, -1});
  };
  Tensor y = RunForward(flat, {&x});
  EXPECT_EQ(y.shape(), (Shape{2, 12}));
  EXPECT_EQ(RunForward(reshape, {&x}).shape(), (Shape{4, 6}));
  for (int64_t i = 0; i < 24; ++i) EXPECT_EQ(y.f32()[i], x.f32()[i]);
  ExpectGradientsMatch(flat, {&x});
  ExpectGradientsMatch(reshape, {&x});
  Graph g;
  ops::Reshape(g, g.Input("x", DType::kF32, {2, 3}), {4, -1});
  EXPECT_NE(std::string(g.status().message()).find("cannot reshape [2, 3] (6 elements) to [4, -1]"),
            std::string::npos) << g.status();
  Graph huge;  // a product of dimensions past int64 (an imported file's) is an error, not overflow
  ops::Reshape(huge, huge.Input("x", DType::kF32, {2, 3}), {int64_t{1} << 40, int64_t{1} << 40});
  EXPECT_NE(std::string(huge.status().message()).find("has too many elements"), std::string::npos) << huge.status();
}

TEST(DropoutTest, ScalesKeptElementsAndIsReproducible) {
  Tensor x = RandomTensor({100, 50}, 6);
  auto build = [](Graph& g, const std::vector<Value>& in) { return ops::Dropout(g, in[0], 0.3, 11); };
  Tensor y1 = RunForward(build, {&x}), y2 = RunForward(build, {&x});
  int64_t dropped = 0;
  for (int64_t i = 0; i < x.num_elements(); ++i) {
    EXPECT_EQ(y1.f32()[i], y2.f32()[i]);  // same seed, same step
    if (y1.f32()[i] == 0.0f) {
      ++dropped;
    } else {
      EXPECT_FLOAT_EQ(y1.f32()[i], x.f32()[i] / 0.7f);
    }
  }
  EXPECT_NEAR(dropped / 5000.0, 0.3, 0.03);
  Tensor inference = RunForward(build, {&x}, /*training=*/false);
  for (int64_t i = 0; i < x.num_elements(); ++i) EXPECT_EQ(inference.f32()[i], x.f32()[i]);
}

TEST(DropoutTest, MasksDifferBetweenSteps) {
  Graph g;
  Value x = g.Input("x", DType::kF32, {1000});
  Value y = ops::Dropout(g, x, 0.5, 1);
  auto exec = Executor::Compile(g, {y});
  ASSERT_TRUE(exec.ok());
  Tensor ones(DType::kF32, {1000});
  ones.Fill(1.0f);
  ASSERT_TRUE((*exec)->Run({{x, &ones}}).ok());
  Tensor first = (*exec)->fetch(0).Clone();
  ASSERT_TRUE((*exec)->Run({{x, &ones}}).ok());
  int differ = 0;
  for (int i = 0; i < 1000; ++i) differ += first.f32()[i] != (*exec)->fetch(0).f32()[i];
  EXPECT_GT(differ, 300);
}

// A data-parallel rank runs a slice of the batch with sample_offset set to the slice's first
// sample: its mask must be that slice of the whole batch's mask.
TEST(DropoutTest, SliceOfBatchDrawsTheWholeBatchsMask) {
  auto mask_of = [](int64_t batch, int64_t offset) {
    Graph g;
    Value x = g.Input("x", DType::kF32, {batch, 37});
    Value y = ops::Dropout(g, x, 0.5, 9);
    auto exec = Executor::Compile(g, {y});
    EXPECT_TRUE(exec.ok());
    Tensor ones(DType::kF32, {batch, 37});
    ones.Fill(1.0f);
    (*exec)->set_step(5);
    (*exec)->set_sample_offset(offset);
    EXPECT_TRUE((*exec)->Run({{x, &ones}}).ok());
    return (*exec)->fetch(0).Clone();
  };
  const Tensor whole = mask_of(8, 0);
  for (int64_t offset : {0, 2, 6}) {
    const Tensor slice = mask_of(2, offset);
    for (int64_t i = 0; i < 2 * 37; ++i) {
      ASSERT_EQ(slice.f32()[i], whole.f32()[offset * 37 + i]) << "offset " << offset << " element " << i;
    }
  }
}

// DropPath keeps or zeroes each sample whole (kept ones scaled by 1/(1-rate)), one draw per
// sample: about `rate` of 400 samples dropped; a rank's slice of the batch draws that slice of
// the whole batch's samples; the gradient is the mask; identity in inference.
TEST(DropPathTest, DropsWholeSamplesReproduciblyAndPerSample) {
  auto run = [](int64_t batch, int64_t offset, bool training) {
    Graph g;
    Value x = g.Input("x", DType::kF32, {batch, 3, 2, 2});
    Value y = ops::DropPath(g, x, 0.25, 4);
    auto dx = Gradients(g, ops::Sum(g, y), {x});
    EXPECT_TRUE(dx.ok());
    auto exec = Executor::Compile(g, {y, (*dx)[0]}, {.training = training});
    EXPECT_TRUE(exec.ok()) << exec.status();
    const Tensor input = RandomTensor({batch, 3, 2, 2}, 8);
    (*exec)->set_step(3);
    (*exec)->set_sample_offset(offset);
    EXPECT_TRUE((*exec)->Run({{x, &input}}).ok());
    return std::make_tuple(input.Clone(), (*exec)->fetch(0).Clone(), (*exec)->fetch(1).Clone());
  };
  const auto [x, y, dx] = run(400, 0, true);
  int dropped = 0;
  for (int64_t s = 0; s < 400; ++s) {
    const bool kept = dx.f32()[s * 12] != 0.0f;
    dropped += !kept;
    for (int64_t i = s * 12; i < (s + 1) * 12; ++i) {
      ASSERT_EQ(dx.f32()[i], kept ? 1.0f / 0.75f : 0.0f) << "sample " << s;
      ASSERT_FLOAT_EQ(y.f32()[i], kept ? x.f32()[i] / 0.75f : 0.0f) << "sample " << s;
    }
  }
  EXPECT_NEAR(dropped / 400.0, 0.25, 0.06);
  const auto [x2, slice, slice_dx] = run(4, 10, true);
  for (int64_t i = 0; i < 4 * 12; ++i) ASSERT_EQ(slice_dx.f32()[i], dx.f32()[10 * 12 + i]) << i;
  const auto [x3, inference, inference_dx] = run(4, 0, false);
  for (int64_t i = 0; i < 4 * 12; ++i) ASSERT_EQ(inference.f32()[i], x3.f32()[i]);
}

// Dropout, ReLU and ReLU's gradient write over an input nothing reads afterwards: the same
// results and gradients in less memory; an input that is fetched keeps its own buffer.
TEST(InPlaceTest, ElementWiseOpsReuseDeadInputs) {
  Graph g(1);
  Value x = g.Input("x", DType::kF32, {16, 64});
  Value w = g.Parameter("w", {64, 64}, Initializer::Uniform(0.2));
  Value dropped = ops::Dropout(g, ops::Linear(g, x, w), 0.3, 5);
  Value y = ops::Relu(g, dropped);
  auto dw = Gradients(g, ops::Sum(g, y), {w});
  ASSERT_TRUE(dw.ok());
  Tensor input = RandomTensor({16, 64}, 31);
  auto run = [&](std::vector<Value> fetches, bool in_place) {
    auto exec = Executor::Compile(g, fetches, {.in_place = in_place});
    EXPECT_TRUE(exec.ok()) << exec.status();
    EXPECT_TRUE((*exec)->Run({{x, &input}}).ok());
    std::vector<Tensor> out;
    for (int i = 0; i < (*exec)->num_fetches(); ++i) out.push_back((*exec)->fetch(i).Clone());
    return std::make_pair(std::move(out), (*exec)->stats().arena_bytes);
  };
  const auto [shared, shared_bytes] = run({y, (*dw)[0]}, true);
  const auto [separate, separate_bytes] = run({y, (*dw)[0]}, false);
  for (size_t i = 0; i < shared.size(); ++i) ExpectTensorNear(shared[i], separate[i], 0.0f);
  // The forward chain Linear -> Dropout -> ReLU in one buffer (plus the mask) instead of three.
  // (Whether a whole plan shrinks depends on where its peak is: AlexNet cifar's training step
  // went from 104.9 to 87.6 MB, a tiny plan can even grow by the allocator's fragmentation.)
  EXPECT_EQ(run({y}, true).second, 2 * 16 * 64 * 4);
  EXPECT_EQ(run({y}, false).second, 3 * 16 * 64 * 4);
  // Fetched, `dropped` must survive the ReLU after it.
  const auto [fetched, fetched_bytes] = run({y, (*dw)[0], dropped}, true);
  const auto [reference, reference_bytes] = run({y, (*dw)[0], dropped}, false);
  for (size_t i = 0; i < fetched.size(); ++i) ExpectTensorNear(fetched[i], reference[i], 0.0f);
}

TEST(DropoutTest, GradientsMatchFiniteDifferences) {
  Tensor x = RandomTensor({4, 6}, 7);
  ExpectGradientsMatch([](Graph& g, const std::vector<Value>& in) {
    return ops::Dropout(g, in[0], 0.5, 3);
  }, {&x});
}

}  // namespace
}  // namespace dlf
