#include <ostream>
#include <string>

#include "gmock/gmock.h"
#include "graph/autodiff.h"
#include "graph/executor.h"
#include "gtest/gtest.h"
#include "ops/ops.h"
#include "tests/testing/grad_check.h"
#include "tests/testing/bf16.h"

namespace dlf {
namespace {

using ::dlf::testing::ExpectGradientsMatch;
using ::dlf::testing::ExpectTensorNear;
using ::dlf::testing::RandomTensor;
using ::dlf::testing::RunForward;

struct ConvCase {
  Shape x, w;
  int64_t sh, sw, ph, pw;
  bool bias;
  // Beyond a plain convolution: padding at the bottom and right (-1: as at the top and left),
  // dilation and groups.
  int64_t ph_end = -1, pw_end = -1, dh = 1, dw = 1, groups = 1;
};

void PrintTo(const ConvCase& c, std::ostream* os) {
  *os << "x " << ShapeString(c.x) << " w " << ShapeString(c.w) << " stride " << c.sh << "x" << c.sw << " pad "
      << c.ph << "," << c.pw << " end " << c.ph_end << "," << c.pw_end << " dilation " << c.dh << "x" << c.dw
      << " groups " << c.groups;
}

// Plain reference convolution (cross-correlation, zero padding), with groups and dilation:
// output channel o of group o / (O / groups) reads that group's C / groups input channels.
Tensor ReferenceConv(const Tensor& x, const Tensor& w, const Tensor* b, const ConvCase& c,
                     const Shape& y_shape) {
  Tensor y(DType::kF32, y_shape);
  const int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3);
  const int64_t O = w.dim(0), CG = w.dim(1), KH = w.dim(2), KW = w.dim(3), OH = y_shape[2], OW = y_shape[3];
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          double s = b ? b->f32()[o] : 0.0;
          const int64_t first_channel = o / (O / c.groups) * CG;
          for (int64_t cg = 0; cg < CG; ++cg)
            for (int64_t kh = 0; kh < KH; ++kh)
              for (int64_t kw = 0; kw < KW; ++kw) {
                const int64_t ih = oh * c.sh - c.ph + kh * c.dh, iw = ow * c.sw - c.pw + kw * c.dw;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                s += x.f32()[((n * C + first_channel + cg) * H + ih) * W + iw] *
                     w.f32()[((o * CG + cg) * KH + kh) * KW + kw];
              }
          y.f32()[((n * O + o) * OH + oh) * OW + ow] = static_cast<float>(s);
        }
  return y;
}

ops::Conv2DOptions Options(const ConvCase& c) {
  ops::Conv2DOptions o{{c.sh, c.sw}, {c.ph, c.pw}};
  if (c.ph_end >= 0) o.padding_end = {c.ph_end, c.pw_end};
  o.dilation = {c.dh, c.dw};
  o.groups = c.groups;
  return o;
}

// The output size a ConvCase must give: floor((in + pads - dilated kernel) / stride) + 1.
Shape ExpectedOutputShape(const ConvCase& c) {
  const int64_t ph_end = c.ph_end >= 0 ? c.ph_end : c.ph, pw_end = c.pw_end >= 0 ? c.pw_end : c.pw;
  return {c.x[0], c.w[0], (c.x[2] + c.ph + ph_end - (c.w[2] - 1) * c.dh - 1) / c.sh + 1,
          (c.x[3] + c.pw + pw_end - (c.w[3] - 1) * c.dw - 1) / c.sw + 1};
}

testing::BuildFn ConvBuilder(const ConvCase& c) {
  return [c](Graph& g, const std::vector<Value>& in) {
    return ops::Conv2D(g, in[0], in[1], c.bias ? in[2] : Value{}, Options(c));
  };
}

class ConvTest : public ::testing::TestWithParam<ConvCase> {};

TEST_P(ConvTest, ForwardMatchesReferenceLoop) {
  const ConvCase& c = GetParam();
  Tensor x = RandomTensor(c.x, 1), w = RandomTensor(c.w, 2), b = RandomTensor({c.w[0]}, 3);
  std::vector<const Tensor*> inputs = {&x, &w};
  if (c.bias) inputs.push_back(&b);
  Tensor y = RunForward(ConvBuilder(c), inputs);
  ASSERT_EQ(y.shape(), ExpectedOutputShape(c));
  ExpectTensorNear(y, ReferenceConv(x, w, c.bias ? &b : nullptr, c, y.shape()), 1e-4f);
}

TEST_P(ConvTest, GradientsMatchFiniteDifferences) {
  const ConvCase& c = GetParam();
  Tensor x = RandomTensor(c.x, 4), w = RandomTensor(c.w, 5), b = RandomTensor({c.w[0]}, 6);
  std::vector<const Tensor*> inputs = {&x, &w};
  if (c.bias) inputs.push_back(&b);
  ExpectGradientsMatch(ConvBuilder(c), inputs);
}

// bf16 compute (forward, backward data, backward weights and bias) against the exact f32
// result: within 1.5e-2 of each tensor's largest value (bf16 keeps 8 significant bits; the
// cases measured 2.3e-3 to 7.5e-3; it was 2e-2), and not equal to it (the bf16 path really ran).
TEST_P(ConvTest, Bf16MatchesF32WithinBf16Precision) {
  DLF_SKIP_WITHOUT_BF16();
  const ConvCase& c = GetParam();
  Tensor x = RandomTensor(c.x, 7), w = RandomTensor(c.w, 8), b = RandomTensor({c.w[0]}, 9);
  std::vector<const Tensor*> inputs = {&x, &w};
  if (c.bias) inputs.push_back(&b);
  ExecutorOptions f32{.fast_math = false}, bf16{.fast_math = false, .bf16 = true};
  const auto expected = testing::RunForwardAndBackward(ConvBuilder(c), inputs, f32);
  const auto actual = testing::RunForwardAndBackward(ConvBuilder(c), inputs, bf16);
  EXPECT_GT(testing::ExpectTensorsNearScaled(actual, expected, 1.5e-2), 1e-5);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, ConvTest,
    ::testing::Values(ConvCase{{2, 3, 7, 7}, {4, 3, 3, 3}, 1, 1, 1, 1, true},
                      ConvCase{{2, 2, 9, 6}, {3, 2, 3, 2}, 2, 1, 1, 0, false},   // non-square
                      ConvCase{{1, 3, 8, 8}, {2, 3, 5, 5}, 1, 1, 2, 2, true},
                      ConvCase{{2, 3, 32, 32}, {2, 3, 11, 11}, 4, 4, 2, 2, true},  // AlexNet conv1
                      // 3x3 stride 1, >= 16 input channels, output >= 4x4: runs as Winograd
                      ConvCase{{2, 16, 6, 5}, {4, 16, 3, 3}, 1, 1, 1, 1, true},
                      // the seed AlexNet's conv3: a 1x1 map, so only the kernel's centre counts
                      ConvCase{{2, 16, 1, 1}, {3, 16, 3, 3}, 1, 1, 1, 1, true},
                      // groups: 2 groups of 2 input and 3 output channels
                      ConvCase{{2, 4, 6, 6}, {6, 2, 3, 3}, 1, 1, 1, 1, true, -1, -1, 1, 1, 2},
                      // depthwise (groups = channels), stride 2, non-square map
                      ConvCase{{2, 16, 7, 6}, {16, 1, 3, 3}, 2, 2, 1, 1, false, -1, -1, 1, 1, 16},
                      // depthwise with a channel multiplier of 2 (32 outputs from 16 channels)
                      ConvCase{{1, 16, 5, 5}, {32, 1, 3, 3}, 1, 1, 1, 1, true, -1, -1, 1, 1, 16},
                      // dilation 2 (a 3x3 kernel spanning 5x5) and 3 x 1
                      ConvCase{{1, 3, 9, 8}, {2, 3, 3, 3}, 1, 1, 2, 2, true, -1, -1, 2, 2},
                      ConvCase{{2, 2, 10, 7}, {3, 2, 3, 2}, 2, 1, 3, 0, false, -1, -1, 3, 1},
                      // asymmetric padding (ONNX pads [0, 1, 1, 0]) with stride 2
                      ConvCase{{2, 3, 7, 6}, {4, 3, 3, 2}, 2, 2, 0, 1, true, 1, 0},
                      // padding='same' for an even kernel: 1 before, 2 after
                      ConvCase{{1, 2, 6, 5}, {2, 2, 4, 4}, 1, 1, 1, 1, false, 2, 2},
                      // groups, dilation and asymmetric padding together
                      ConvCase{{1, 6, 8, 7}, {6, 2, 3, 3}, 1, 2, 2, 1, true, 1, 2, 2, 1, 3}));

// The executor runs Conv2D + Relu and Linear + Relu as one oneDNN kernel (a ReLU post-op) when
// the ReLU is the only reader of the producer's output: the same output and gradients as the
// unfused plan, two kernels fewer; no fusion when the pre-activation is also fetched.
TEST(ConvFusionTest, ReluPostOpGivesTheUnfusedResults) {
  Graph g(1);
  Value x = g.Input("x", DType::kF32, {2, 3, 8, 8});
  Value w = g.Parameter("w", {4, 3, 3, 3}, Initializer::Uniform(0.5));
  Value b = g.Parameter("b", {4}, Initializer::Uniform(0.5));
  Value pre = ops::Conv2D(g, x, w, b, {{1, 1}, {1, 1}});
  Value h = ops::Relu(g, pre);
  Value fc = g.Parameter("fc", {5, 256}, Initializer::Uniform(0.1));
  Value y = ops::Relu(g, ops::Linear(g, ops::Flatten(g, h), fc));
  Value loss = ops::Sum(g, y);
  auto grads = Gradients(g, loss, {x, w, b, fc});
  ASSERT_TRUE(grads.ok()) << grads.status();
  std::vector<Value> fetches = {y};
  fetches.insert(fetches.end(), grads->begin(), grads->end());
  Tensor input = RandomTensor({2, 3, 8, 8}, 21);
  auto run = [&](const std::vector<Value>& f, bool fuse) {
    auto exec = Executor::Compile(g, f, {.fuse = fuse});
    EXPECT_TRUE(exec.ok()) << exec.status();
    EXPECT_TRUE((*exec)->Run({{x, &input}}).ok());
    std::vector<Tensor> out;
    for (int i = 0; i < (*exec)->num_fetches(); ++i) out.push_back((*exec)->fetch(i).Clone());
    return std::make_pair(std::move(out), (*exec)->stats().num_kernels);
  };
  const auto [fused, fused_kernels] = run(fetches, true);
  const auto [plain, plain_kernels] = run(fetches, false);
  EXPECT_EQ(fused_kernels, plain_kernels - 2);
  for (size_t i = 0; i < fetches.size(); ++i) ExpectTensorNear(fused[i], plain[i], 1e-6f);
  std::vector<Value> with_pre = fetches;
  with_pre.push_back(pre);  // a second reader of the conv output
  EXPECT_EQ(run(with_pre, true).second, plain_kernels - 1);  // only Linear + Relu fused
}

// ReLU6 (Clip(0, 6)) runs as a oneDNN post-op of the convolution and of the linear layer in
// inference: the same output, two kernels fewer. In training it stays a kernel of its own, as
// its gradient reads the pre-activation (torch.clamp's rule, lo <= x <= hi), which fusion would
// not keep. After a BatchNorm (whose oneDNN primitive fuses only a ReLU) it is never fused.
TEST(ConvFusionTest, ClipPostOpGivesTheUnfusedResultsInInference) {
  Graph g(1);
  Value x = g.Input("x", DType::kF32, {2, 3, 8, 8});
  Value w = g.Parameter("w", {4, 3, 3, 3}, Initializer::Uniform(2.0));
  Value h = ops::Clip(g, ops::Conv2D(g, x, w, Value{}, {{1, 1}, {1, 1}}), 0.0, 6.0);
  Value fc = g.Parameter("fc", {5, 256}, Initializer::Uniform(0.3));
  Value y = ops::Clip(g, ops::Linear(g, ops::Flatten(g, h), fc), -0.5, 0.5);
  Value bn = ops::Clip(g, ops::BatchNorm2d(g, h, "bn"), 0.0, 1.0);
  Tensor input = RandomTensor({2, 3, 8, 8}, 22);
  auto run = [&](const std::vector<Value>& fetches, ExecutorOptions options) {
    auto exec = Executor::Compile(g, fetches, options);
    EXPECT_TRUE(exec.ok()) << exec.status();
    EXPECT_TRUE((*exec)->Run({{x, &input}}).ok());
    std::vector<Tensor> out;
    for (int i = 0; i < (*exec)->num_fetches(); ++i) out.push_back((*exec)->fetch(i).Clone());
    return std::make_pair(std::move(out), (*exec)->stats().num_kernels);
  };
  const auto [fused, fused_kernels] = run({y, h}, {.training = false, .fuse = true});
  const auto [plain, plain_kernels] = run({y, h}, {.training = false, .fuse = false});
  EXPECT_EQ(fused_kernels, plain_kernels - 2);
  float hi = 0;
  for (int64_t i = 0; i < fused[1].num_elements(); ++i) hi = std::max(hi, fused[1].f32()[i]);
  EXPECT_EQ(hi, 6.0f);  // the bound was reached: the clip ran
  for (size_t i = 0; i < fused.size(); ++i) ExpectTensorNear(fused[i], plain[i], 1e-6f);
  // Forward only, in training mode: the convolution takes its Clip, the BatchNorm does not take
  // the one after it (one kernel fewer, not two).
  EXPECT_EQ(run({bn}, {.training = true, .fuse = true}).second, run({bn}, {.training = true, .fuse = false}).second - 1);
  auto grads = Gradients(g, ops::Sum(g, y), {w, fc});
  ASSERT_TRUE(grads.ok()) << grads.status();
  EXPECT_EQ(run(*grads, {.fuse = true}).second, run(*grads, {.fuse = false}).second);
}

absl::Status BuildConvStatus(Shape x, Shape w, ops::Conv2DOptions o) {
  Graph g;
  Value xv = g.Input("x", DType::kF32, x);
  Value wv = g.Parameter("w", w, Initializer::Zeros());
  ops::Conv2D(g, xv, wv, Value{}, o);
  return g.status();
}

TEST(ConvErrorsTest, BadAttributesAreBuildTimeErrors) {
  using ::testing::HasSubstr;
  EXPECT_THAT(std::string(BuildConvStatus({1, 3, 8, 8}, {2, 3, 3, 3}, {{0, 1}, {0, 0}}).message()),
              HasSubstr("height: kernel and stride must be positive"));
  EXPECT_THAT(std::string(BuildConvStatus({1, 3, 4, 4}, {2, 3, 7, 7}, {{1, 1}, {1, 1}}).message()),
              HasSubstr("height: kernel 7 is larger than the padded input 4 + 2*1 = 6"));
  EXPECT_THAT(std::string(BuildConvStatus({1, 4, 8, 8}, {2, 3, 3, 3}, {}).message()),
              HasSubstr("input has 4 channels but the weight expects 3"));
  EXPECT_TRUE(BuildConvStatus({1, 3, 8, 8}, {2, 3, 3, 3}, {}).ok());
  ops::Conv2DOptions grouped;
  grouped.groups = 3;
  EXPECT_THAT(std::string(BuildConvStatus({1, 4, 8, 8}, {6, 2, 3, 3}, grouped).message()),
              HasSubstr("groups 3 must divide the input's 4 channels and the weight's 6 outputs"));
  EXPECT_THAT(std::string(BuildConvStatus({1, 6, 8, 8}, {6, 3, 3, 3}, grouped).message()),
              HasSubstr("input has 6 channels but the weight expects 3 per group, 9 in all"));
  grouped.groups = 0;
  EXPECT_THAT(std::string(BuildConvStatus({1, 6, 8, 8}, {6, 2, 3, 3}, grouped).message()),
              HasSubstr("groups must be positive, found 0"));
  ops::Conv2DOptions dilated;
  dilated.dilation = {3, 1};
  EXPECT_THAT(std::string(BuildConvStatus({1, 3, 6, 6}, {2, 3, 3, 3}, dilated).message()),
              HasSubstr("height: kernel 3 dilated by 3 spans 7, more than the padded input 6 + 0 + 0 = 6"));
  dilated.dilation = {0, 1};
  EXPECT_THAT(std::string(BuildConvStatus({1, 3, 6, 6}, {2, 3, 3, 3}, dilated).message()),
              HasSubstr("dilation must be positive, found 0"));
  ops::Conv2DOptions padded;
  padded.padding_end = {-1, 0};
  EXPECT_THAT(std::string(BuildConvStatus({1, 3, 6, 6}, {2, 3, 3, 3}, padded).message()),
              HasSubstr("padding non-negative, found kernel 3, stride 1, padding 0 and -1"));
}

// ConvTranspose2D: x [n, in, h, w], w [in, out / groups, kh, kw].
struct ConvTransposeCase {
  Shape x, w;
  int64_t stride, pad, pad_end, dilation, groups, output_padding;
  bool bias;
};

void PrintTo(const ConvTransposeCase& c, std::ostream* os) {
  *os << "x " << ShapeString(c.x) << " w " << ShapeString(c.w) << " stride " << c.stride << " pad " << c.pad
      << "," << c.pad_end << " dilation " << c.dilation << " groups " << c.groups << " output_padding "
      << c.output_padding;
}

ops::ConvTranspose2DOptions TransposeOptions(const ConvTransposeCase& c) {
  ops::ConvTranspose2DOptions o;
  o.stride = {c.stride, c.stride};
  o.padding = {c.pad, c.pad};
  o.padding_end = {c.pad_end, c.pad_end};
  o.dilation = {c.dilation, c.dilation};
  o.groups = c.groups;
  o.output_padding = {c.output_padding, c.output_padding};
  return o;
}

// PyTorch's formula, written out: (in - 1) * stride - pads + (k - 1) * dilation + 1 + output_padding.
int64_t TransposedSize(const ConvTransposeCase& c, int64_t in, int64_t k) {
  return (in - 1) * c.stride - c.pad - c.pad_end + (k - 1) * c.dilation + 1 + c.output_padding;
}

// Each input element scatters its value times the kernel into the output: input (ih, iw)
// reaches output (ih * stride - pad + kh * dilation, ...), channel c of group c / (C / groups)
// reaching that group's outputs.
Tensor ReferenceConvTranspose(const Tensor& x, const Tensor& w, const Tensor* b, const ConvTransposeCase& c) {
  const int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3);
  const int64_t OG = w.dim(1), KH = w.dim(2), KW = w.dim(3), O = OG * c.groups;
  const int64_t OH = TransposedSize(c, H, KH), OW = TransposedSize(c, W, KW);
  std::vector<double> sum(N * O * OH * OW, 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t ci = 0; ci < C; ++ci)
      for (int64_t og = 0; og < OG; ++og) {
        const int64_t o = ci / (C / c.groups) * OG + og;
        for (int64_t ih = 0; ih < H; ++ih)
          for (int64_t iw = 0; iw < W; ++iw)
            for (int64_t kh = 0; kh < KH; ++kh)
              for (int64_t kw = 0; kw < KW; ++kw) {
                const int64_t oh = ih * c.stride - c.pad + kh * c.dilation;
                const int64_t ow = iw * c.stride - c.pad + kw * c.dilation;
                if (oh < 0 || oh >= OH || ow < 0 || ow >= OW) continue;
                sum[((n * O + o) * OH + oh) * OW + ow] += x.f32()[((n * C + ci) * H + ih) * W + iw] *
                                                          w.f32()[((ci * OG + og) * KH + kh) * KW + kw];
              }
      }
  Tensor y(DType::kF32, {N, O, OH, OW});
  for (int64_t i = 0; i < y.num_elements(); ++i) {
    y.f32()[i] = static_cast<float>(sum[i] + (b ? b->f32()[i / (OH * OW) % O] : 0.0));
  }
  return y;
}

testing::BuildFn ConvTransposeBuilder(const ConvTransposeCase& c) {
  return [c](Graph& g, const std::vector<Value>& in) {
    return ops::ConvTranspose2D(g, in[0], in[1], c.bias ? in[2] : Value{}, TransposeOptions(c));
  };
}

class ConvTransposeTest : public ::testing::TestWithParam<ConvTransposeCase> {};

TEST_P(ConvTransposeTest, ForwardMatchesReferenceLoop) {
  const ConvTransposeCase& c = GetParam();
  const int64_t out = c.w[1] * c.groups;
  Tensor x = RandomTensor(c.x, 31), w = RandomTensor(c.w, 32), b = RandomTensor({out}, 33);
  std::vector<const Tensor*> inputs = {&x, &w};
  if (c.bias) inputs.push_back(&b);
  Tensor y = RunForward(ConvTransposeBuilder(c), inputs);
  ASSERT_EQ(y.shape(), (Shape{c.x[0], out, TransposedSize(c, c.x[2], c.w[2]), TransposedSize(c, c.x[3], c.w[3])}));
  ExpectTensorNear(y, ReferenceConvTranspose(x, w, c.bias ? &b : nullptr, c), 1e-4f);
}

TEST_P(ConvTransposeTest, GradientsMatchFiniteDifferences) {
  const ConvTransposeCase& c = GetParam();
  Tensor x = RandomTensor(c.x, 34), w = RandomTensor(c.w, 35), b = RandomTensor({c.w[1] * c.groups}, 36);
  std::vector<const Tensor*> inputs = {&x, &w};
  if (c.bias) inputs.push_back(&b);
  ExpectGradientsMatch(ConvTransposeBuilder(c), inputs);
}

// As ConvTest's bf16 case: within 1.5e-2 of each tensor's largest value, and not exact.
TEST_P(ConvTransposeTest, Bf16MatchesF32WithinBf16Precision) {
  DLF_SKIP_WITHOUT_BF16();
  const ConvTransposeCase& c = GetParam();
  Tensor x = RandomTensor(c.x, 37), w = RandomTensor(c.w, 38), b = RandomTensor({c.w[1] * c.groups}, 39);
  std::vector<const Tensor*> inputs = {&x, &w};
  if (c.bias) inputs.push_back(&b);
  ExecutorOptions f32{.fast_math = false}, bf16{.fast_math = false, .bf16 = true};
  const auto expected = testing::RunForwardAndBackward(ConvTransposeBuilder(c), inputs, f32);
  const auto actual = testing::RunForwardAndBackward(ConvTransposeBuilder(c), inputs, bf16);
  EXPECT_GT(testing::ExpectTensorsNearScaled(actual, expected, 1.5e-2), 1e-5);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, ConvTransposeTest,
    ::testing::Values(ConvTransposeCase{{2, 3, 4, 5}, {3, 2, 3, 3}, 1, 0, 0, 1, 1, 0, true},
                      // stride 2, padding 1, output_padding 1: a 2x upsampling (DCGAN, U-Net)
                      ConvTransposeCase{{2, 4, 3, 4}, {4, 3, 3, 3}, 2, 1, 1, 1, 1, 1, true},
                      ConvTransposeCase{{1, 2, 5, 3}, {2, 2, 4, 4}, 2, 1, 1, 1, 1, 0, false},
                      // groups 2 and asymmetric padding
                      ConvTransposeCase{{2, 4, 4, 4}, {4, 3, 3, 2}, 2, 1, 0, 1, 2, 1, true},
                      // depthwise, dilation 2
                      ConvTransposeCase{{1, 8, 4, 5}, {8, 1, 3, 3}, 1, 1, 1, 2, 8, 0, false},
                      // stride 3 with output_padding 2
                      ConvTransposeCase{{1, 3, 3, 2}, {3, 2, 2, 3}, 3, 0, 1, 1, 1, 2, true}));

absl::Status BuildConvTransposeStatus(Shape x, Shape w, ops::ConvTranspose2DOptions o) {
  Graph g;
  Value xv = g.Input("x", DType::kF32, x);
  Value wv = g.Parameter("w", w, Initializer::Zeros());
  ops::ConvTranspose2D(g, xv, wv, Value{}, o);
  return g.status();
}

TEST(ConvTransposeErrorsTest, BadAttributesAreBuildTimeErrors) {
  using ::testing::HasSubstr;
  EXPECT_TRUE(BuildConvTransposeStatus({1, 4, 5, 5}, {4, 2, 3, 3}, {}).ok());
  EXPECT_THAT(std::string(BuildConvTransposeStatus({1, 3, 5, 5}, {4, 2, 3, 3}, {}).message()),
              HasSubstr("input has 3 channels but the weight [in, out / groups, kh, kw] is [4, 2, 3, 3]"));
  ops::ConvTranspose2DOptions o;
  o.output_padding = {1, 1};
  EXPECT_THAT(std::string(BuildConvTransposeStatus({1, 4, 5, 5}, {4, 2, 3, 3}, o).message()),
              HasSubstr("height: output_padding must be in [0, stride 1), found 1"));
  o = {};
  o.groups = 3;
  EXPECT_THAT(std::string(BuildConvTransposeStatus({1, 4, 5, 5}, {4, 2, 3, 3}, o).message()),
              HasSubstr("with groups 3, which must divide its 4"));
  o = {};
  o.padding = {3, 3};
  EXPECT_THAT(std::string(BuildConvTransposeStatus({1, 4, 1, 1}, {4, 2, 3, 3}, o).message()),
              HasSubstr("height: the padding 3 + 3 leaves no output (-3)"));
}

// ResNet-20's convolution shapes at batch 8, where oneDNN picks its full-size jit kernels (the
// small cases above can get other ones): dx and dw of loss = sum(conv(x, w) * r) against plain
// loops (dx is the transposed convolution of r; dw correlates x with r).
struct LayerCase {
  Shape x, w;
  int64_t stride, pad;
};

Tensor ReferenceWeightGradient(const Tensor& x, const Tensor& r, const LayerCase& c) {
  const int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3);
  const int64_t O = r.dim(1), OH = r.dim(2), OW = r.dim(3), KH = c.w[2], KW = c.w[3];
  Tensor dw(DType::kF32, c.w);
  for (int64_t o = 0; o < O; ++o)
    for (int64_t ci = 0; ci < C; ++ci)
      for (int64_t kh = 0; kh < KH; ++kh)
        for (int64_t kw = 0; kw < KW; ++kw) {
          double s = 0;
          for (int64_t n = 0; n < N; ++n)
            for (int64_t oh = 0; oh < OH; ++oh)
              for (int64_t ow = 0; ow < OW; ++ow) {
                const int64_t ih = oh * c.stride - c.pad + kh, iw = ow * c.stride - c.pad + kw;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                s += static_cast<double>(r.f32()[((n * O + o) * OH + oh) * OW + ow]) *
                     x.f32()[((n * C + ci) * H + ih) * W + iw];
              }
          dw.f32()[((o * C + ci) * KH + kh) * KW + kw] = static_cast<float>(s);
        }
  return dw;
}

class ConvLayerTest : public ::testing::TestWithParam<LayerCase> {};

TEST_P(ConvLayerTest, BackwardDataAndWeightsMatchReferenceLoops) {
  const LayerCase& c = GetParam();
  Graph g(1);
  const Value x = g.Input("x", DType::kF32, c.x), w = g.Input("w", DType::kF32, c.w);
  const Value y = ops::Conv2D(g, x, w, Value{}, {{c.stride, c.stride}, {c.pad, c.pad}});
  const Value r = g.Input("r", DType::kF32, g.shape(y));
  absl::StatusOr<std::vector<Value>> grads = Gradients(g, ops::Sum(g, ops::Mul(g, y, r)), {x, w});
  ASSERT_TRUE(grads.ok()) << grads.status();
  auto exec = Executor::Compile(g, *grads, {.fast_math = false});
  ASSERT_TRUE(exec.ok()) << exec.status();
  const Tensor xv = RandomTensor(c.x, 41), wv = RandomTensor(c.w, 42), rv = RandomTensor(g.shape(y), 43);
  ASSERT_TRUE((*exec)->Run({{x, &xv}, {w, &wv}, {r, &rv}}).ok());
  // The output_padding that maps y's size back to x's (x's size is one of `stride` that conv maps to y's).
  const int64_t output_padding = c.x[2] - ((g.shape(y)[2] - 1) * c.stride - 2 * c.pad + c.w[2]);
  const ConvTransposeCase adjoint{g.shape(y), c.w, c.stride, c.pad, c.pad, 1, 1, output_padding, false};
  ExpectTensorNear((*exec)->fetch(0), ReferenceConvTranspose(rv, wv, nullptr, adjoint), 1e-4f);
  ExpectTensorNear((*exec)->fetch(1), ReferenceWeightGradient(xv, rv, c), 2e-3f);
}

INSTANTIATE_TEST_SUITE_P(ResNet20, ConvLayerTest,
                         ::testing::Values(LayerCase{{8, 3, 32, 32}, {16, 3, 3, 3}, 1, 1},
                                           LayerCase{{8, 16, 32, 32}, {16, 16, 3, 3}, 1, 1},
                                           LayerCase{{8, 16, 32, 32}, {32, 16, 3, 3}, 2, 1},
                                           LayerCase{{8, 32, 16, 16}, {32, 32, 3, 3}, 1, 1},
                                           LayerCase{{8, 32, 16, 16}, {64, 32, 3, 3}, 2, 1},
                                           LayerCase{{8, 64, 8, 8}, {64, 64, 3, 3}, 1, 1},
                                           LayerCase{{8, 32, 16, 16}, {64, 32, 1, 1}, 2, 0}));

}  // namespace
}  // namespace dlf
