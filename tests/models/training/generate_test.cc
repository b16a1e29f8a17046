// //models:generate: text from a gpt checkpoint (weights, gpt/config and text/vocabulary in its
// metadata), the same for the same seed, and one error line for each bad input; //models:export
// writes the checkpoint as ONNX (export_test compares its logits in ONNX Runtime).
#include <cmath>
#include <string>

#include "data/safetensors.h"
#include "data/text.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "models/gpt.h"
#include "tests/testing/model_weights.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"

namespace dlf::training {
namespace {

using ::dlf::testing::BinaryPath;
using ::dlf::testing::PythonPath;
using ::dlf::testing::ProcessResult;
using ::dlf::testing::RunProcess;
using ::testing::HasSubstr;

constexpr char kCharacters[] = "\n abcdefghij";  // 12 characters

// A gpt of 12 characters with weights away from the initialization (else every token is as
// likely as the next).
std::string WriteCheckpoint(const std::string& dir, bool with_metadata = true) {
  const models::GptConfig c = {.vocab_size = 12, .block_size = 64, .n_layer = 2, .n_head = 2, .n_embd = 16};
  Graph g(3);
  models::Gpt(g, g.Input("ids", DType::kI32, {1, 1}), c);
  ::dlf::testing::PerturbParameters(g);
  data::TensorFile file;
  for (Value p : g.parameters()) file.tensors[g.name(p)] = g.parameter_value(p).Clone();
  if (with_metadata) {
    file.metadata["gpt/config"] = models::GptConfigRecord(c);
    std::vector<uint32_t> characters(kCharacters, kCharacters + 12);
    file.metadata["text/vocabulary"] = data::Vocabulary::CharactersOf(characters).Record();
  }
  const std::string path = dir + (with_metadata ? "/gpt.safetensors" : "/plain.safetensors");
  EXPECT_TRUE(data::WriteSafetensors(path, file).ok());
  return path;
}

ProcessResult Generate(const std::vector<std::string>& args) { return RunProcess(BinaryPath("models/generate"), args); }

TEST(GenerateTest, SamplesTheSameTextForTheSameSeed) {
  const std::string checkpoint = WriteCheckpoint(::dlf::testing::TempDir("generate"));
  const std::vector<std::string> args = {"--checkpoint=" + checkpoint, "--prompt=abc", "--max_new_tokens=40",
                                         "--seed=7", "--threads=1"};
  const ProcessResult first = Generate(args);
  ASSERT_EQ(first.exit_code(), 0) << first.output;
  EXPECT_THAT(first.output, HasSubstr("40 tokens in "));
  EXPECT_THAT(first.output, HasSubstr("tokens/s (42 decoding steps, prompt included)"));
  // The text (prompt, 40 characters, newline): the vocabulary has no digits, so it ends where
  // the count begins.
  const std::string text = first.output.substr(0, first.output.find("40 tokens in "));
  EXPECT_EQ(text.size(), 3u + 40 + 1);
  EXPECT_EQ(text.substr(0, 3), "abc");
  EXPECT_EQ(Generate(args).output.substr(0, text.size()), text);
  std::vector<std::string> other = args;
  other[3] = "--seed=8";
  EXPECT_NE(Generate(other).output.substr(0, text.size()), text);
}

TEST(GenerateTest, ExportWritesTheCheckpointAsOnnx) {
  const std::string dir = ::dlf::testing::TempDir("generate_export");
  const std::string checkpoint = WriteCheckpoint(dir);
  const ProcessResult r = RunProcess(BinaryPath("models/export"), {"--checkpoint=" + checkpoint,
                                                                    "--output=" + dir + "/gpt.onnx"});
  ASSERT_EQ(r.exit_code(), 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("wrote " + dir + "/gpt.onnx: gpt, ONNX opset 13"));
  EXPECT_THAT(r.output, HasSubstr("input 'ids' [batch, 64] (int32 token ids); output 'logits' [batch, 64, 12]"));
  const ProcessResult check = RunProcess(PythonPath(), {BinaryPath("tools/onnx_check.py"), dir + "/gpt.onnx"});
  EXPECT_EQ(check.exit_code(), 0) << check.output;
  EXPECT_THAT(check.output, HasSubstr("output logits ['batch', 64, 12]"));
  EXPECT_THAT(check.output, HasSubstr("gpt/config"));
}

// A gpt/config that disagrees with the tensors (n_embd 32 for tensors 16 wide) is refused by
// generate and export, each naming the config and a tensor.
TEST(GenerateTest, ConfigThatDisagreesWithTheTensorsIsRefused) {
  const std::string dir = ::dlf::testing::TempDir("generate_inconsistent");
  absl::StatusOr<data::TensorFile> file = data::ReadSafetensors(WriteCheckpoint(dir));
  ASSERT_TRUE(file.ok()) << file.status();
  const std::string config = "vocab_size=12,block_size=64,n_layer=2,n_head=2,n_embd=32,dropout=0,bias=0";
  file->metadata[models::kGptConfigMetadata] = config;
  const std::string path = dir + "/wider.safetensors";
  ASSERT_TRUE(data::WriteSafetensors(path, *file).ok());
  const ProcessResult generate = Generate({"--checkpoint=" + path, "--prompt=abc"});
  EXPECT_EQ(generate.exit_code(), 1) << generate.output;
  EXPECT_THAT(generate.output, HasSubstr("error: " + path + " (its gpt/config: " + config + "): the checkpoint's '"));
  EXPECT_THAT(generate.output, HasSubstr(", the model's f32[12, 32]"));
  const ProcessResult exported = RunProcess(BinaryPath("models/export"), {"--checkpoint=" + path,
                                                                           "--output=" + dir + "/x.onnx"});
  EXPECT_EQ(exported.exit_code(), 1) << exported.output;
  EXPECT_THAT(exported.output, HasSubstr("error: " + path + " (its gpt/config: " + config + "): the tensors do not match"));
  EXPECT_THAT(exported.output, HasSubstr("parameter 'transformer.wte.weight' is f32[12, 16], the model expects f32[12, 32]"));
}

TEST(GenerateTest, BadInputIsOneErrorLine) {
  const std::string dir = ::dlf::testing::TempDir("generate");
  const std::string checkpoint = WriteCheckpoint(dir);
  const std::pair<std::vector<std::string>, std::string> cases[] = {
      {{"--checkpoint=" + checkpoint, "--prompt=abXYa"},
       "error: --prompt: 2 character(s) not in the vocabulary of 12: 'X' U+0058, 'Y' U+0059"},
      {{"--checkpoint=" + WriteCheckpoint(dir, false)}, "not a gpt checkpoint (no 'gpt/config' in its metadata)"},
      {{"--checkpoint=" + dir}, "is a directory, expected a file"},
      {{"--checkpoint=" + checkpoint, "--max_new_tokens=0"}, "error: --max_new_tokens must be >= 1, found 0"},
      {{"--checkpoint=" + checkpoint, "--temperature=-1"}, "error: --temperature must be >= 0, found -1"},
      {{"--checkpoint=" + checkpoint, "--prompt="}, "error: --prompt is empty"},
      {{}, "error: --checkpoint is required"},
  };
  for (const auto& [args, expected] : cases) {
    const ProcessResult r = Generate(args);
    EXPECT_EQ(r.exit_code(), 1) << r.output;
    EXPECT_THAT(r.output, HasSubstr(expected));
  }
}

}  // namespace
}  // namespace dlf::training
