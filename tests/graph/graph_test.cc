#include "graph/graph.h"

#include <cmath>

#include "gmock/gmock.h"
#include "graph/dump.h"
#include "gtest/gtest.h"
#include "ops/ops.h"

namespace dlf {
namespace {

using ::testing::HasSubstr;

TEST(TensorTest, StorageIsAlignedZeroedAndMoveable) {
  Tensor t(DType::kF32, {3, 5});
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw()) % Tensor::kAlignment, 0u);
  EXPECT_EQ(t.num_elements(), 15);
  EXPECT_EQ(t.num_bytes(), 60u);
  for (int i = 0; i < 15; ++i) EXPECT_EQ(t.f32()[i], 0.0f);
  void* data = t.raw();
  Tensor moved = std::move(t);
  EXPECT_EQ(moved.raw(), data);  // a move does not copy
  Tensor copy = moved.Clone();
  EXPECT_NE(copy.raw(), data);
  EXPECT_EQ(ShapeString(copy.shape()), "[3, 5]");
}

TEST(GraphTest, ShapesAreInferredWhenNodesAreAdded) {
  Graph g;
  Value x = g.Input("x", DType::kF32, {8, 3, 32, 32});
  Value w = g.Parameter("conv.weight", {16, 3, 5, 5}, Initializer::HeUniform());
  Value y = ops::Conv2D(g, x, w, Value{}, {{1, 1}, {2, 2}});
  ASSERT_TRUE(g.status().ok()) << g.status();
  EXPECT_EQ(g.shape(y), (Shape{8, 16, 32, 32}));
}

TEST(GraphTest, ShapeErrorNamesNodeOpAndShapes) {
  Graph g;
  Value a = g.Input("a", DType::kF32, {2, 3});
  Value b = g.Input("b", DType::kF32, {3, 2});
  auto bad = g.AddOp("Add", {a, b}, {}, "sum");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(std::string(bad.status().message()),
            "node 'sum' (Add) with inputs 'a' f32[2, 3], 'b' f32[3, 2]: shapes [2, 3] and [3, 2] "
            "do not broadcast (axis 0: 2 vs 3)");
}

TEST(GraphTest, FirstErrorIsRecordedAndLaterOpsPropagateIt) {
  Graph g;
  Value a = g.Input("a", DType::kF32, {2, 3});
  Value b = g.Input("b", DType::kF32, {4});
  Value bad = ops::Add(g, a, b);
  Value later = ops::Relu(g, bad);
  EXPECT_FALSE(bad.valid());
  EXPECT_FALSE(later.valid());
  EXPECT_THAT(std::string(g.status().message()), HasSubstr("(Add)"));
}

TEST(GraphTest, UnknownOpAndDuplicateNamesAreErrors) {
  Graph g;
  Value a = g.Input("a", DType::kF32, {2});
  EXPECT_THAT(std::string(g.AddOp("NoSuchOp", {a}).status().message()),
              HasSubstr("no op named 'NoSuchOp'"));
  g.Input("a", DType::kF32, {2});
  EXPECT_THAT(std::string(g.status().message()), HasSubstr("a node named 'a' already exists"));
}

TEST(GraphTest, WrongInputCountIsAnError) {
  Graph g;
  Value a = g.Input("a", DType::kF32, {2});
  EXPECT_THAT(std::string(g.AddOp("Add", {a}).status().message()),
              HasSubstr("expected 2 inputs, got 1"));
}

double Stddev(const Tensor& t) {
  double s = 0, s2 = 0;
  for (int64_t i = 0; i < t.num_elements(); ++i) {
    s += t.f32()[i];
    s2 += t.f32()[i] * t.f32()[i];
  }
  const double n = static_cast<double>(t.num_elements());
  return std::sqrt(s2 / n - (s / n) * (s / n));
}

TEST(GraphTest, SetAttrChangesAnAttributeOnlyWhenTheOutputsStayTheSame) {
  Graph g;
  Value x = g.Input("x", DType::kF32, {2, 3, 8, 8});
  Value w = g.Parameter("w", {4, 3, 3, 3}, Initializer::HeUniform());
  Value y = ops::Conv2D(g, x, w, Value{}, {{1, 1}, {1, 1}});
  ASSERT_TRUE(g.status().ok()) << g.status();
  const int node = g.producer(y).id;
  EXPECT_TRUE(g.SetAttr(node, kInferenceModeAttr, true).ok());
  EXPECT_TRUE(g.node(node).attrs.GetOr<bool>(kInferenceModeAttr, false));
  const absl::Status s = g.SetAttr(node, "stride", std::vector<int64_t>{2, 2});
  EXPECT_THAT(std::string(s.message()), HasSubstr("its outputs would change"));
  EXPECT_EQ(g.node(node).attrs.GetOr<std::vector<int64_t>>("stride", {}), (std::vector<int64_t>{1, 1}));
  EXPECT_FALSE(g.SetAttr(x.id, "a", true).ok());  // an input, not an op
}

// The standard deviation of 18,432 samples has a relative standard error of ~1/sqrt(2n) = 0.52%
// (normal) and less (uniform): 2.5% is under 5 of them, while fan_in against fan_avg or a
// wrong gain is 20% or more away.
constexpr double kStddevTolerance = 0.025;

TEST(InitializerTest, ScalesFollowFanInAndFanOut) {
  // Conv weight [64, 32, 3, 3]: fan_in = 288, fan_out = 576.
  Tensor t(DType::kF32, {64, 32, 3, 3});
  InitializeTensor(Initializer::HeNormal(), 1, t);
  EXPECT_NEAR(Stddev(t), std::sqrt(2.0 / 288), kStddevTolerance * std::sqrt(2.0 / 288));
  InitializeTensor(Initializer::XavierNormal(), 1, t);
  EXPECT_NEAR(Stddev(t), std::sqrt(2.0 / 864), kStddevTolerance * std::sqrt(2.0 / 864));
  InitializeTensor(Initializer::HeUniform(), 1, t);
  const double bound = std::sqrt(6.0 / 288);
  for (int64_t i = 0; i < t.num_elements(); ++i) EXPECT_LE(std::abs(t.f32()[i]), bound);
  EXPECT_NEAR(Stddev(t), std::sqrt(2.0 / 288), kStddevTolerance * std::sqrt(2.0 / 288));
  InitializeTensor(Initializer::XavierUniform(), 1, t);
  EXPECT_NEAR(Stddev(t), std::sqrt(2.0 / 864), kStddevTolerance * std::sqrt(2.0 / 864));
  InitializeTensor(Initializer::Constant(0.5f), 1, t);
  EXPECT_EQ(t.f32()[17], 0.5f);
}

TEST(InitializerTest, PyTorchDefaultsAndKaimingFanOut) {
  Tensor t(DType::kF32, {64, 32, 3, 3});  // fan_in 288, fan_out 576
  // nn.Conv2d's default: kaiming_uniform_(a=sqrt(5)) = U(+-1/sqrt(fan_in)).
  InitializeTensor(Initializer::TorchDefault(), 2, t);
  const double bound = 1.0 / std::sqrt(288.0);
  double largest = 0;
  for (int64_t i = 0; i < t.num_elements(); ++i) largest = std::max<double>(largest, std::abs(t.f32()[i]));
  EXPECT_LE(largest, bound);
  EXPECT_GT(largest, 0.99 * bound);
  EXPECT_NEAR(Stddev(t), bound / std::sqrt(3.0), kStddevTolerance * bound / std::sqrt(3.0));
  // torchvision's ResNet convs: kaiming_normal_(mode="fan_out"), std sqrt(2 / fan_out).
  InitializeTensor(Initializer::HeNormalFanOut(), 3, t);
  EXPECT_NEAR(Stddev(t), std::sqrt(2.0 / 576), kStddevTolerance * std::sqrt(2.0 / 576));
  Tensor bias(DType::kF32, {1000});
  InitializeTensor(Initializer::Uniform(0.25f), 4, bias);
  for (int64_t i = 0; i < bias.num_elements(); ++i) EXPECT_LE(std::abs(bias.f32()[i]), 0.25f);
  // 1,000 uniform samples: the std's relative standard error is sqrt(0.8 / 1000) / 2 = 1.4%.
  EXPECT_NEAR(Stddev(bias), 0.25 / std::sqrt(3.0), 0.06 * 0.25 / std::sqrt(3.0));
}

TEST(InitializerTest, ParametersAreSeeded) {
  Graph g1(7), g2(7), g3(8);
  Value a = g1.Parameter("w", {10, 10}, Initializer::HeNormal());
  Value b = g2.Parameter("w", {10, 10}, Initializer::HeNormal());
  Value c = g3.Parameter("w", {10, 10}, Initializer::HeNormal());
  EXPECT_EQ(g1.parameter_value(a).f32()[42], g2.parameter_value(b).f32()[42]);
  EXPECT_NE(g1.parameter_value(a).f32()[42], g3.parameter_value(c).f32()[42]);
}

TEST(DumpTest, TextAndDotShowNodesAndShapes) {
  Graph g;
  Value x = g.Input("x", DType::kF32, {2, 3});
  Value w = g.Parameter("fc.weight", {4, 3}, Initializer::XavierUniform());
  ops::Relu(g, ops::Linear(g, x, w));
  const std::string text = DumpText(g);
  EXPECT_THAT(text, HasSubstr("fc.weight = Parameter() -> %1 f32[4, 3]"));
  EXPECT_THAT(text, HasSubstr("= Linear(%0 x, %1 fc.weight) -> %2 f32[2, 4]"));
  const std::string dot = DumpDot(g);
  EXPECT_THAT(dot, HasSubstr("digraph G {"));
  EXPECT_THAT(dot, HasSubstr("n0 -> n2 [label=\"f32[2, 3]\""));
}

}  // namespace
}  // namespace dlf
