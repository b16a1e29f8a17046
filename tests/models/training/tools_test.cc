// The tools' successful paths as a user runs them: evaluation needs only the test split and
// reads everything else from the checkpoint; the Fashion-MNIST fallback happens only when no
// data set was asked for.
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "data/safetensors.h"
#include "stb/stb_image_write.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"

namespace dlf::training {
namespace {

using ::dlf::testing::BinaryPath;
using ::dlf::testing::ProcessResult;
using ::dlf::testing::PythonPath;
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

TEST(ToolsTest, ExportWritesAnOnnxFileThatOnnxAcceptsAndOnnxRuntimeRuns) {
  const std::string run = TempDir("export_run");
  const ProcessResult train = RunProcess(
      BinaryPath("models/lenet_train"),
      {"--dataset=synthetic", "--max_steps=2", "--batch_size=16", "--threads=1", "--checkpoint_dir=" + run});
  ASSERT_EQ(train.exit_code(), 0) << train.output;
  const ProcessResult exported = RunProcess(
      BinaryPath("models/export"), {"--checkpoint=" + run + "/last.safetensors", "--output=" + run + "/lenet.onnx"});
  ASSERT_EQ(exported.exit_code(), 0) << exported.output;
  EXPECT_THAT(exported.output, HasSubstr("lenet.onnx: lenet, ONNX opset 13, 12 nodes, 0.06 M parameters"));
  EXPECT_THAT(exported.output, HasSubstr("output 'logits' [batch, 10]: class 0, class 1"));
  const ProcessResult check = RunProcess(PythonPath(), {BinaryPath("tools/onnx_check.py"), run + "/lenet.onnx"});
  ASSERT_EQ(check.exit_code(), 0) << check.output;
  EXPECT_THAT(check.output, HasSubstr("metadata class_names dataset dlf_version eval_transform input_shape model model_options normalization_mean normalization_std"));
  std::ofstream(run + "/zeros.f32", std::ios::binary) << std::string(3 * 28 * 28 * 4, '\0');
  const ProcessResult ort = RunProcess(PythonPath(), {BinaryPath("tools/onnx_run.py"), run + "/lenet.onnx",
                                                      run + "/zeros.f32", "3,1,28,28"});
  ASSERT_EQ(ort.exit_code(), 0) << ort.output;
  EXPECT_THAT(ort.output, HasSubstr("logits [3,10]: "));
}

TEST(ToolsTest, AModelOptionTrainedWithIsRecordedSoEvaluateAndExportRebuildTheSameNetwork) {
  const std::string run = TempDir("lrn_run");
  const ProcessResult train = RunProcess(
      BinaryPath("models/train"), {"--model=alexnet-cifar", "--lrn", "--init=he", "--dataset=synthetic",
                                   "--max_steps=1", "--batch_size=8", "--threads=1", "--checkpoint_dir=" + run});
  ASSERT_EQ(train.exit_code(), 0) << train.output;
  absl::StatusOr<data::TensorFile> f = data::ReadSafetensors(run + "/last.safetensors");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->metadata.at("model_options"), R"({"init":"he","lrn":"true"})");
  const ProcessResult eval = RunProcess(BinaryPath("models/evaluate"), {"--checkpoint=" + run + "/last.safetensors"});
  EXPECT_EQ(eval.exit_code(), 0) << eval.output;
  const ProcessResult exported = RunProcess(
      BinaryPath("models/export"), {"--checkpoint=" + run + "/last.safetensors", "--output=" + run + "/lrn.onnx"});
  ASSERT_EQ(exported.exit_code(), 0) << exported.output;
  const ProcessResult check = RunProcess(PythonPath(), {BinaryPath("tools/onnx_check.py"), run + "/lrn.onnx"});
  EXPECT_THAT(check.output, HasSubstr(" LRN "));
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

// A checkpoint whose metadata disagrees with its tensors (a class count against the output
// layer's rows, an input shape against the first Linear layer's columns) is refused by every
// tool that reads it, naming what the metadata says and what the tensor is.
TEST(ToolsTest, MetadataThatDisagreesWithTheTensorsIsRefusedByEveryTool) {
  const std::string run = TempDir("inconsistent_run");
  const ProcessResult train = RunProcess(BinaryPath("models/train"), {"--model=lenet", "--dataset=synthetic",
                                                                      "--max_steps=1", "--batch_size=8",
                                                                      "--threads=1", "--checkpoint_dir=" + run});
  ASSERT_EQ(train.exit_code(), 0) << train.output;
  absl::StatusOr<data::TensorFile> file = data::ReadSafetensors(run + "/last.safetensors");
  ASSERT_TRUE(file.ok()) << file.status();
  std::vector<unsigned char> pixels(28 * 28, 100);
  const std::string image = run + "/x.png";
  ASSERT_TRUE(stbi_write_png(image.c_str(), 28, 28, 1, pixels.data(), 0));
  const struct {
    const char* key;
    const char* value;
    const char* metadata;  // what the error says of the metadata
    const char* tensor;    // and of the tensor
  } cases[] = {
      {"class_names", R"(["a","b","c","d","e","f","g"])", "(its metadata: lenet, 7 classes, input [1, 28, 28])",
       "parameter 'fc3.weight' is f32[10, 84], the model expects f32[7, 84]"},
      {"input_shape", "[1,32,32]", "(its metadata: lenet, 10 classes, input [1, 32, 32])",
       "parameter 'fc1.weight' is f32[120, 400], the model expects f32[120, 576]"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.key);
    data::TensorFile changed;
    for (const auto& [name, t] : file->tensors) changed.tensors[name] = t.Clone();
    changed.metadata = file->metadata;
    changed.metadata[c.key] = c.value;
    const std::string path = run + "/" + c.key + ".safetensors";
    ASSERT_TRUE(data::WriteSafetensors(path, changed).ok());
    const std::pair<const char*, std::vector<std::string>> tools[] = {
        {"models/evaluate", {"--checkpoint=" + path, "--dataset=synthetic"}},
        {"models/predict", {"--checkpoint=" + path, image}},
        {"models/export", {"--checkpoint=" + path, "--output=" + run + "/x.onnx"}},
        {"models/train", {"--model=lenet", "--dataset=synthetic", "--max_steps=1", "--batch_size=8",
                          "--init_from=" + path, "--checkpoint_dir=" + run + "/init"}},
    };
    for (const auto& [tool, args] : tools) {
      const ProcessResult r = RunProcess(BinaryPath(tool), args);
      EXPECT_EQ(r.exit_code(), 1) << tool << ": " << r.output;
      EXPECT_THAT(r.output, HasSubstr(std::string("error: ") + path + " " + c.metadata)) << tool;
      EXPECT_THAT(r.output, HasSubstr(c.tensor)) << tool;
    }
  }
}

}  // namespace
}  // namespace dlf::training
