// ONNX export of every registered model, checked by ONNX itself and by ONNX Runtime: the
// checker and strict shape inference (Debian's python3-onnx) accept each file, and ONNX
// Runtime (its Python API, tools/onnx_run.py) gives the logits dlf's evaluator gives on real
// Fashion-MNIST images to 1e-4 relative (max |diff| / max |logit|). BatchNorm's running
// statistics are set away from their initial 0 and 1 so that they matter.
#include <map>
#include <string>

#include "gmock/gmock.h"
#include "graph/random.h"
#include "gtest/gtest.h"
#include "graph/executor.h"
#include "models/gpt.h"
#include "models/onnx/export.h"
#include "models/registry.h"
#include "models/training/datasets.h"
#include "models/training/evaluator.h"
#include "ops/ops.h"
#include "tests/models/onnx/onnx_testing.h"
#include "tests/testing/model_weights.h"
#include "tests/testing/temp_dir.h"

namespace dlf::onnx_export {
namespace {

using ::dlf::testing::ProcessResult;
using ::dlf::testing::RunProcess;
using ::testing::HasSubstr;

constexpr int64_t kImages = 16;

// Running means in [-0.2, 0.2], variances in [0.5, 1.5].
void SetRunningStatistics(Graph& g) {
  uint64_t state = 11;
  for (Value b : g.buffers()) {
    Tensor& t = g.parameter_value(b);
    if (t.dtype() != DType::kF32) continue;
    const bool var = g.name(b).find("running_var") != std::string::npos;
    for (int64_t i = 0; i < t.num_elements(); ++i) {
      const float u = static_cast<float>(SplitMix64(state++) >> 40) / static_cast<float>(1 << 24);
      t.f32()[i] = var ? 0.5f + u : 0.4f * u - 0.2f;
    }
  }
}

TEST(OnnxExportTest, EveryRegisteredModelRunsInOnnxRuntimeWithDlfsLogits) {
  const std::string dir = ::dlf::testing::TempDir("onnx_export");
  std::vector<std::pair<const models::ModelSpec*, bool>> cases;  // (model, AlexNet's --lrn)
  for (const models::ModelSpec* spec : models::RegisteredModels()) {
    // The GPT (token ids in) has its own case: ExportWritesTheCheckpointAsOnnx in tools_test.
    if (spec->task == models::TaskKind::kClassification) cases.push_back({spec, false});
  }
  cases.push_back({*models::FindModel("alexnet-seed"), true});
  for (const auto& [spec, lrn] : cases) {
    SCOPED_TRACE(spec->name + (lrn ? " --lrn" : ""));
    const Shape& s = spec->input_shape;
    Graph g(5);
    const Value images = g.Input("images", DType::kF32, {1, s[0], s[1], s[2]});
    models::ModelOptions options;
    options.extra.lrn = lrn;
    const Value logits = spec->build(g, images, options);
    ASSERT_TRUE(g.status().ok()) << g.status();
    SetRunningStatistics(g);
    ::dlf::testing::SetZeroParameters(g);
    absl::StatusOr<onnx::ModelProto> model = ExportModel(g, images, logits, {.graph_name = spec->name,
                                                                             .metadata = {{"model", spec->name}}});
    ASSERT_TRUE(model.ok()) << model.status();
    const std::string file = dir + "/" + spec->name + (lrn ? "-lrn" : "") + ".onnx";
    ASSERT_TRUE(WriteModel(*model, file).ok());

    const ProcessResult check = ::dlf::testing::CheckWithOnnx(file);
    EXPECT_EQ(check.exit_code(), 0) << check.output;
    EXPECT_THAT(check.output, HasSubstr("checker and shape inference ok; opset 13; output logits ['batch', 10]"));

    absl::StatusOr<data::Dataset> test = training::LoadSplit("fashion_mnist", "/usr/share/datasets/fashion-mnist", false, s);
    ASSERT_TRUE(test.ok()) << test.status();
    const data::Dataset few = data::Slice(*test, 0, kImages);
    const data::Normalization norm{spec->mean, spec->std};
    training::Evaluator evaluator(spec->build, options, s, kImages, norm);
    evaluator.CopyWeightsFrom(g);
    absl::StatusOr<Tensor> expected = evaluator.Logits(few);
    ASSERT_TRUE(expected.ok()) << expected.status();
    const ProcessResult run = ::dlf::testing::CompareInOnnxRuntime(
        file, ::dlf::testing::NormalizedImages(few, norm), *expected, dir);
    EXPECT_EQ(run.exit_code(), 0) << run.output;
    EXPECT_THAT(run.output, HasSubstr("match: 160 outputs [16,10]"));
    if (lrn) EXPECT_THAT(check.output, HasSubstr(" LRN "));
    std::printf("%s%s: %s", spec->name.c_str(), lrn ? " --lrn" : "", run.output.c_str());
  }
}

// nanoGPT's GPT, ids i32 [batch, t] -> logits [batch, t, vocab]: the embeddings as Gather, the
// causal mask a constant, the tied head a Gemm by the token table. Exported from a graph of one
// sequence, run on three: the batch axis is free.
TEST(OnnxExportTest, GptRunsInOnnxRuntimeWithDlfsLogits) {
  const std::string dir = ::dlf::testing::TempDir("onnx_export_gpt");
  const models::GptConfig c = {.vocab_size = 11, .block_size = 8, .n_layer = 2, .n_head = 2, .n_embd = 16,
                               .dropout = 0.1, .bias = true};
  Graph g(3);
  const Value ids = g.Input("ids", DType::kI32, {1, c.block_size});
  const Value logits = models::Gpt(g, ids, c);
  ASSERT_TRUE(g.status().ok()) << g.status();
  ::dlf::testing::PerturbParameters(g);  // biases and LayerNorm away from 0 and 1, so they matter
  absl::StatusOr<onnx::ModelProto> model = ExportModel(g, ids, logits, {.graph_name = "gpt", .input_name = "ids"});
  ASSERT_TRUE(model.ok()) << model.status();
  const std::string file = dir + "/gpt.onnx";
  ASSERT_TRUE(WriteModel(*model, file).ok());
  const ProcessResult check = ::dlf::testing::CheckWithOnnx(file);
  EXPECT_EQ(check.exit_code(), 0) << check.output;
  EXPECT_THAT(check.output, HasSubstr("output logits ['batch', 8, 11]"));
  EXPECT_THAT(check.output, HasSubstr(" Gather "));

  Graph three(3);
  const Value ids3 = three.Input("ids", DType::kI32, {3, c.block_size});
  const Value logits3 = models::Gpt(three, ids3, c);
  std::map<std::string, const Tensor*> weights;
  for (Value p : g.persistent_values()) weights[g.name(p)] = &g.parameter_value(p);
  for (Value p : three.persistent_values()) three.parameter_value(p) = weights.at(three.name(p))->Clone();
  auto exec = Executor::Compile(three, {logits3}, {.training = false, .fast_math = false});
  ASSERT_TRUE(exec.ok()) << exec.status();
  Tensor x(DType::kI32, {3, c.block_size});
  for (int64_t i = 0; i < x.num_elements(); ++i) x.i32()[i] = static_cast<int32_t>((i * 7 + 2) % c.vocab_size);
  ASSERT_TRUE((*exec)->Run({{ids3, &x}}).ok());
  const ProcessResult run = ::dlf::testing::CompareInOnnxRuntime(file, x, (*exec)->fetch(0), dir);
  EXPECT_EQ(run.exit_code(), 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("match: 264 outputs [3,8,11]"));
  std::printf("gpt: %s", run.output.c_str());
}

// The ops no registered model uses: AveragePool (padded, ceil mode, padding excluded; max
// pooling alike), Concat, MatMul and Softmax.
Value OtherOps(Graph& g, Value images) {
  Value w = g.Parameter("conv.weight", {4, 1, 3, 3}, Initializer::HeNormal());
  Value x = ops::Relu(g, ops::Conv2D(g, images, w, Value{}, {{1, 1}, {1, 1}}));
  const ops::Pool2DOptions pool{.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .ceil_mode = true};
  Value avg = ops::AvgPool2D(g, x, pool);
  Value max = ops::MaxPool2D(g, x, pool);
  Value both = ops::Flatten(g, ops::Concat(g, {avg, max}, 1));
  Value proj = g.Parameter("proj", {g.shape(both)[1], 10}, Initializer::XavierUniform());
  return ops::Softmax(g, ops::MatMul(g, both, proj));
}

// The ops of modern blocks export writes: ConvTranspose (stride 2, output_padding, bias),
// Clip, HardSigmoid, Sigmoid, Tanh, Erf, Softplus, Exp, Log, Sqrt, Abs, Neg, Sub, Mul, Div,
// Max, Transpose, Scale (a Mul by a constant), adaptive pooling to a divisor (AveragePool) and
// to 1x1 (GlobalAveragePool), DropPath (the identity in inference).
Value ModernOps(Graph& g, Value images) {
  Value h = ops::Conv2D(g, images, g.Parameter("conv.weight", {4, 1, 3, 3}, Initializer::HeNormal()), Value{},
                        {{1, 1}, {1, 1}});
  h = ops::AdaptiveAvgPool2D(g, ops::Clip(g, h, 0.0, 6.0), {14, 14});
  ops::ConvTranspose2DOptions up;
  up.stride = {2, 2};
  up.padding = {1, 1};
  up.output_padding = {1, 1};
  Value u = ops::ConvTranspose2D(g, h, g.Parameter("up.weight", {4, 2, 3, 3}, Initializer::HeNormal()),
                                 g.Parameter("up.bias", {2}, Initializer::Uniform(0.5)), up);
  Tensor one(DType::kF32, {1});
  one.f32()[0] = 1.0f;
  const Value c = g.Constant(std::move(one));
  u = ops::Sub(g, ops::Mul(g, u, ops::HardSigmoid(g, u)), ops::Scale(g, ops::Sigmoid(g, u), 0.5));
  u = ops::Div(g, u, ops::Add(g, ops::Exp(g, ops::Neg(g, ops::Abs(g, u))), c));
  u = ops::Add(g, ops::Maximum(g, u, ops::Tanh(g, u)), ops::Erf(g, u));
  u = ops::Add(g, ops::Log(g, ops::Add(g, ops::Softplus(g, u), c)), ops::Sqrt(g, ops::Add(g, ops::Abs(g, u), c)));
  u = ops::DropPath(g, u, 0.2, 3);
  Value pooled = ops::Transpose(g, ops::AdaptiveAvgPool2D(g, u, {1, 1}), {0, 2, 3, 1});
  return ops::Linear(g, ops::Flatten(g, pooled), g.Parameter("fc.weight", {10, 2}, Initializer::XavierUniform()));
}

struct OpsCase {
  const char* name;
  Value (*build)(Graph&, Value);
  const char* ops;  // the ONNX checker's list of the file's op types
};

class OnnxExportOpsTest : public ::testing::TestWithParam<OpsCase> {};

TEST_P(OnnxExportOpsTest, RunInOnnxRuntimeAsInDlf) {
  const OpsCase& c = GetParam();
  const std::string dir = ::dlf::testing::TempDir(std::string("onnx_export_") + c.name);
  Graph g(7);
  const Value images = g.Input("images", DType::kF32, {1, 1, 28, 28});
  const Value out = c.build(g, images);
  ASSERT_TRUE(g.status().ok()) << g.status();
  absl::StatusOr<onnx::ModelProto> model = ExportModel(g, images, out, {});
  ASSERT_TRUE(model.ok()) << model.status();
  const std::string file = dir + "/ops.onnx";
  ASSERT_TRUE(WriteModel(*model, file).ok());
  const ProcessResult check = ::dlf::testing::CheckWithOnnx(file);
  EXPECT_EQ(check.exit_code(), 0) << check.output;
  EXPECT_THAT(check.output, HasSubstr(c.ops));

  absl::StatusOr<data::Dataset> test = training::LoadSplit("fashion_mnist", "/usr/share/datasets/fashion-mnist", false, {1, 28, 28});
  ASSERT_TRUE(test.ok()) << test.status();
  const data::Normalization norm{{0.29f}, {0.35f}};
  const Tensor input = ::dlf::testing::NormalizedImages(data::Slice(*test, 0, kImages), norm);
  Graph batch(7);  // the same parameters (same seed and order) for 16 images
  const Value batch_images = batch.Input("images", DType::kF32, {kImages, 1, 28, 28});
  const Value batch_out = c.build(batch, batch_images);
  auto exec = Executor::Compile(batch, {batch_out}, {.training = false});
  ASSERT_TRUE(exec.ok()) << exec.status();
  ASSERT_TRUE((*exec)->Run({{batch_images, &input}}).ok());
  const ProcessResult run = ::dlf::testing::CompareInOnnxRuntime(file, input, (*exec)->fetch(0), dir);
  EXPECT_EQ(run.exit_code(), 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("match: 160 outputs [16,10]"));
}

INSTANTIATE_TEST_SUITE_P(
    Graphs, OnnxExportOpsTest,
    ::testing::Values(OpsCase{"other", OtherOps, "ops AveragePool Concat Conv Flatten MatMul MaxPool Relu Softmax"},
                      OpsCase{"modern", ModernOps,
                              "ops Abs Add AveragePool Clip Conv ConvTranspose Div Erf Exp Flatten Gemm "
                              "GlobalAveragePool HardSigmoid Log Max Mul Neg Reshape Sigmoid Softplus Sqrt Sub "
                              "Tanh Transpose"}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace dlf::onnx_export
