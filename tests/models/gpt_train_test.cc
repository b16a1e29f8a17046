// nanoGPT's training step (models/gpt_train.h) against nanoGPT's own module in PyTorch
// (tools/gpt_check.py): ten AdamW steps with clipping from the same weights on the same batches
// give the same losses, within PyTorch's own float32-vs-float64 drift.
#include "models/gpt_train.h"

#include <cmath>
#include <cstdio>

#include "data/safetensors.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/bf16.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"

namespace dlf::models {
namespace {

using ::dlf::testing::BinaryPath;
using ::dlf::testing::ProcessResult;
using ::dlf::testing::PythonPath;
using ::dlf::testing::RunProcess;

constexpr GptConfig kConfig = {.vocab_size = 13, .block_size = 8, .n_layer = 2, .n_head = 2, .n_embd = 16,
                               .dropout = 0.0, .bias = true};
constexpr int64_t kSteps = 10, kBatch = 4;

// A "text" with structure to learn (each token mostly follows from the one before), and windows
// of block_size + 1 tokens at pseudo-random offsets: ids are a window's first block_size tokens,
// targets its last block_size.
void FillBatches(Tensor& ids, Tensor& targets) {
  const int64_t t = kConfig.block_size;
  std::vector<int32_t> text(500);
  for (size_t i = 0; i < text.size(); ++i) text[i] = static_cast<int32_t>((i * 5 + i / 7) % kConfig.vocab_size);
  uint64_t state = 12345;
  for (int64_t w = 0; w < kSteps * kBatch; ++w) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    const int64_t start = static_cast<int64_t>((state >> 33) % (text.size() - t - 1));
    for (int64_t j = 0; j < t; ++j) {
      ids.i32()[w * t + j] = text[start + j];
      targets.i32()[w * t + j] = text[start + j + 1];
    }
  }
}

// The losses of kSteps steps at learning rate lr from the weights `options` initialize.
std::vector<double> TrainLosses(const GptTrainOptions& options, const Tensor& ids, const Tensor& targets, double lr) {
  auto step = GptTrainStep::Create(kConfig, options);
  EXPECT_TRUE(step.ok()) << step.status();
  if (!step.ok()) return {};
  const int64_t n = kBatch * kConfig.block_size;
  std::vector<double> losses;
  for (int64_t k = 0; k < kSteps; ++k) {
    Tensor x(DType::kI32, {kBatch, kConfig.block_size}), y(DType::kI32, {kBatch, kConfig.block_size});
    std::copy_n(ids.i32() + k * n, n, x.i32());
    std::copy_n(targets.i32() + k * n, n, y.i32());
    auto loss = (*step)->Step(x, y, lr);
    EXPECT_TRUE(loss.ok()) << loss.status();
    losses.push_back(loss.ok() ? *loss : NAN);
  }
  return losses;
}

TEST(GptTrainTest, TenStepsEqualNanoGptsModuleInPyTorch) {
  const GptTrainOptions options = {.batch = kBatch, .beta2 = 0.99, .weight_decay = 0.1, .clip_norm = 1.0};
  data::TensorFile file;
  {
    auto initial = GptTrainStep::Create(kConfig, options);  // the same seed: the same weights
    ASSERT_TRUE(initial.ok()) << initial.status();
    Graph& g = (*initial)->graph();
    for (Value v : g.persistent_values()) file.tensors[g.name(v)] = g.parameter_value(v).Clone();
    file.tensors[kGptTiedHead] = file.tensors[kGptTokenEmbedding].Clone();
  }
  const int64_t t = kConfig.block_size;
  Tensor ids(DType::kI32, {kSteps, kBatch, t}), targets(DType::kI32, {kSteps, kBatch, t});
  FillBatches(ids, targets);
  const std::vector<double> trained = TrainLosses(options, ids, targets, 1e-2);
  ASSERT_EQ(trained.size(), kSteps);
  Tensor losses(DType::kF32, {kSteps});
  for (int64_t k = 0; k < kSteps; ++k) losses.f32()[k] = static_cast<float>(trained[k]);
  // The run learns: a test of equal losses that stay at log(vocab) would check little.
  EXPECT_LT(losses.f32()[kSteps - 1], losses.f32()[0] - 0.3);

  file.tensors["check/train_ids"] = std::move(ids);
  file.tensors["check/train_targets"] = std::move(targets);
  file.tensors["check/train_losses"] = std::move(losses);
  const std::string path = ::dlf::testing::TempDir("gpt_train") + "/gpt.safetensors";
  ASSERT_TRUE(data::WriteSafetensors(path, file).ok());
  const ProcessResult r = RunProcess(PythonPath(), {BinaryPath("tools/gpt_check.py"), "--n_head=2", "--lr=1e-2",
                                                    "--beta2=0.99", "--weight_decay=0.1", "--clip_norm=1", path});
  std::printf("%s", r.output.c_str());
  EXPECT_EQ(r.exit_code(), 0) << r.output;
  EXPECT_THAT(r.output, ::testing::HasSubstr("training losses agree"));
}

// bf16 training (bf16 operands in the matrix products, f32 weights, optimizer and reductions)
// follows the f32 run: each step's loss within 5e-3 of it (measured on Zen 4, AVX512-BF16: at
// most 4.4e-4 over the ten steps, which learn 0.41), and not equal to it (bf16 really ran).
TEST(GptTrainTest, Bf16FollowsF32) {
  DLF_SKIP_WITHOUT_BF16();
  const int64_t t = kConfig.block_size;
  Tensor ids(DType::kI32, {kSteps, kBatch, t}), targets(DType::kI32, {kSteps, kBatch, t});
  FillBatches(ids, targets);
  const std::vector<double> f32 = TrainLosses({.batch = kBatch}, ids, targets, 1e-2);
  const std::vector<double> bf16 = TrainLosses({.batch = kBatch, .bf16 = true}, ids, targets, 1e-2);
  ASSERT_EQ(f32.size(), kSteps);
  ASSERT_EQ(bf16.size(), kSteps);
  double largest = 0;
  for (int64_t k = 0; k < kSteps; ++k) {
    std::printf("step %ld: f32 %.6f bf16 %.6f\n", k + 1, f32[k], bf16[k]);
    EXPECT_NEAR(bf16[k], f32[k], 5e-3) << "step " << k + 1;
    largest = std::max(largest, std::abs(bf16[k] - f32[k]));
  }
  EXPECT_GT(largest, 0);
  EXPECT_LT(f32.back(), f32.front() - 0.3);
}

}  // namespace
}  // namespace dlf::models
