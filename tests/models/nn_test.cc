// The layer helpers of models/nn.h: PyTorch's names, shapes and default initialization, and an
// invalid or mis-shaped input that gives one clear error instead of a crash.
#include "models/nn.h"

#include <cmath>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dlf::nn {
namespace {

using ::testing::HasSubstr;

float MaxAbs(const Tensor& t) {
  float m = 0;
  for (int64_t i = 0; i < t.num_elements(); ++i) m = std::max(m, std::abs(t.f32()[i]));
  return m;
}

TEST(NnTest, Conv2dAndLinearHavePyTorchsNamesShapesAndDefaultBounds) {
  Graph g(1);
  Value x = g.Input("x", DType::kF32, {2, 8, 10, 10});
  Value y = Conv2d(g, "block.conv", x, 16, 3, {.stride = 2, .padding = 1});
  Value z = Linear(g, "head", ops::Flatten(g, y), 5);
  ASSERT_TRUE(g.status().ok()) << g.status();
  EXPECT_EQ(g.shape(y), (Shape{2, 16, 5, 5}));
  EXPECT_EQ(g.shape(z), (Shape{2, 5}));
  const Tensor& w = g.parameter_value(*g.FindParameter("block.conv.weight"));
  const Tensor& b = g.parameter_value(*g.FindParameter("block.conv.bias"));
  EXPECT_EQ(w.shape(), (Shape{16, 8, 3, 3}));
  // nn.Conv2d's defaults: weight and bias in U(+-1/sqrt(fan_in)), fan_in = 8 * 3 * 3.
  const float bound = 1.0f / std::sqrt(72.0f);
  EXPECT_LE(MaxAbs(w), bound);
  EXPECT_GT(MaxAbs(w), 0.9f * bound);
  EXPECT_LE(MaxAbs(b), bound);
  EXPECT_EQ(g.parameter_value(*g.FindParameter("head.weight")).shape(), (Shape{5, 400}));
  EXPECT_LE(MaxAbs(g.parameter_value(*g.FindParameter("head.bias"))), 1.0f / 20.0f);
}

// nn.ConvTranspose2d: weight [in, out / groups, k, k], fan_in = weight.size(1) * k * k.
TEST(NnTest, ConvTranspose2dHasPyTorchsNamesShapesAndDefaultBounds) {
  Graph g(1);
  Value x = g.Input("x", DType::kF32, {2, 8, 5, 5});
  ConvTranspose2dOptions o;
  o.stride = 2;
  o.padding = 1;
  o.output_padding = 1;
  o.groups = 2;
  Value y = ConvTranspose2d(g, "up", x, 6, 3, o);
  ASSERT_TRUE(g.status().ok()) << g.status();
  EXPECT_EQ(g.shape(y), (Shape{2, 6, 10, 10}));  // (5 - 1) * 2 - 2 + 3 + 1
  const Tensor& w = g.parameter_value(*g.FindParameter("up.weight"));
  EXPECT_EQ(w.shape(), (Shape{8, 3, 3, 3}));
  const float bound = 1.0f / std::sqrt(27.0f);
  EXPECT_LE(MaxAbs(w), bound);
  EXPECT_GT(MaxAbs(w), 0.9f * bound);
  EXPECT_LE(MaxAbs(g.parameter_value(*g.FindParameter("up.bias"))), bound);
  EXPECT_EQ(g.parameter_value(*g.FindParameter("up.bias")).shape(), (Shape{6}));
}

TEST(NnTest, OptionsChooseTheInitializationAndLeaveOutTheBias) {
  Graph g(1);
  Value x = g.Input("x", DType::kF32, {2, 4, 6, 6});
  Conv2d(g, "c", x, 4, 1, {.bias = false, .weight_init = Initializer::Constant(0.5f)});
  Value f = ops::Flatten(g, x);
  Linear(g, "l", f, 3, {.bias_init = Initializer::Constant(2.0f)});
  ASSERT_TRUE(g.status().ok()) << g.status();
  EXPECT_FALSE(g.FindParameter("c.bias").ok());
  EXPECT_EQ(g.parameter_value(*g.FindParameter("c.weight")).f32()[0], 0.5f);
  EXPECT_EQ(g.parameter_value(*g.FindParameter("l.bias")).f32()[2], 2.0f);
}

TEST(NnTest, AMisShapedInputIsOneErrorAndLaterLayersPassTheInvalidValueOn) {
  Graph g(1);
  Value x = g.Input("x", DType::kF32, {2, 4});
  Value y = Conv2d(g, "conv1", x, 8, 3);  // needs [n, c, h, w]
  EXPECT_FALSE(y.valid());
  Value z = Linear(g, "fc", BatchNorm2d(g, "bn1", Conv2d(g, "conv2", y, 8, 3)), 10);
  EXPECT_FALSE(z.valid());
  EXPECT_THAT(std::string(g.status().message()),
              HasSubstr("Conv2d 'conv1': input 'x' must be [n, c, h, w], found [2, 4]"));
  EXPECT_EQ(g.dim(z, 1), 0);  // safe accessors on an invalid value
  EXPECT_TRUE(g.shape(z).empty());
}

}  // namespace
}  // namespace dlf::nn
