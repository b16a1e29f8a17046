// The tools' successful paths as a user runs them: evaluation needs only the test split and
// reads everything else from the checkpoint; the Fashion-MNIST fallback happens only when no
// data set was asked for.
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "data/safetensors.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"

namespace dlf::training {
namespace {

using ::dlf::testing::BinaryPath;
using ::dlf::testing::ProcessResult;
using ::dlf::testing::RunProcess;
using ::dlf::testing::TempDir;
using ::testing::HasSubstr;

// A CIFAR-10 binary file of `n` records: label k % 10, pixels a function of the label.
void WriteCifarFile(const std::string& path, int n) {
  std::string bytes;
  for (int k = 0; k < n; ++k) {
    bytes.push_back(static_cast<char>(k % 10));
    for (int i = 0; i < 3072; ++i) bytes.push_back(static_cast<char>((k % 10) * 25 + i % 7));
  }
  std::ofstream(path, std::ios::binary) << bytes;
}

TEST(ToolsTest, EvaluateNeedsOnlyTheTestSplitAndTheCheckpoint) {
  const std::string data = TempDir("tiny_cifar"), run = TempDir("tiny_cifar_run");
  WriteCifarFile(data + "/data_batch_1.bin", 64);
  WriteCifarFile(data + "/test_batch.bin", 30);
  // LeNet takes 1x28x28: CIFAR-10's 3x32x32 images are converted to gray and resized.
  const ProcessResult train = RunProcess(
      BinaryPath("models/lenet_train"),
      {"--dataset=cifar10", "--data_dir=" + data, "--epochs=1", "--batch_size=16", "--threads=1",
       "--optimizer=adam", "--lr=0.001", "--lr_schedule=cosine", "--checkpoint_dir=" + run});
  ASSERT_EQ(train.exit_code(), 0) << train.output;
  EXPECT_THAT(train.output, HasSubstr("adam, lr 0.001 cosine"));
  std::filesystem::remove(data + "/data_batch_1.bin");

  const ProcessResult eval =
      RunProcess(BinaryPath("models/evaluate"),
                 {"--checkpoint=" + run + "/best.safetensors", "--data_dir=" + data});
  ASSERT_EQ(eval.exit_code(), 0) << eval.output;
  EXPECT_THAT(eval.output, HasSubstr("lenet on CIFAR-10 test (1 file, 30 images)"));
  EXPECT_THAT(eval.output, HasSubstr("automobile"));
  EXPECT_THAT(eval.output, HasSubstr("(30 images)"));
}

TEST(ToolsTest, FallsBackToFashionMnistOnlyWhenNoDataSetWasAskedFor) {
  const std::string run = TempDir("fallback");
  const ProcessResult r = RunProcess(
      BinaryPath("models/alexnet_train"),
      {"--model=alexnet-cifar", "--max_steps=1", "--batch_size=8", "--threads=1", "--checkpoint_dir=" + run});
  ASSERT_EQ(r.exit_code(), 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("For now: a short run on Fashion-MNIST"));
  absl::StatusOr<data::TensorFile> f = data::ReadSafetensors(run + "/last.safetensors");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->metadata.at("dataset"), "fashion_mnist");
  EXPECT_EQ(f->metadata.at("model"), "alexnet-cifar");
  EXPECT_EQ(f->metadata.at("input_shape"), "[3,32,32]");
}

}  // namespace
}  // namespace dlf::training
