// Weights from PyTorch: a torch.save'd state_dict of torchvision's ResNet-20 layout, converted by
// tools/torch_to_safetensors.py, starts a dlf run (--init_from), and the checkpoint that run
// writes loads back into the PyTorch module with load_state_dict(strict=True). Runs Debian's
// python3-torch (installed by tools/setup.sh).
#include <cstring>
#include <string>

#include "data/safetensors.h"
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


TEST(PyTorchWeightsTest, AStateDictFromPyTorchStartsARunAndTheCheckpointLoadsBack) {
  const std::string dir = TempDir("pytorch_weights");
  const std::string tools = BinaryPath("tools");
  const ProcessResult saved = RunProcess(PythonPath(), {"-c",
      "import sys, torch; sys.path.insert(0, '" + tools + "'); from resnet_golden import CifarResNet\n"
      "torch.manual_seed(3); m = CifarResNet(3)\n"
      "torch.save({'epoch': 5, 'state_dict': {'module.' + k: v for k, v in m.state_dict().items()}}, '" + dir + "/r20.pth')"});
  ASSERT_EQ(saved.exit_code(), 0) << saved.output;
  const ProcessResult converted = RunProcess(PythonPath(), {tools + "/torch_to_safetensors.py", dir + "/r20.pth",
                                                       dir + "/r20.safetensors", "--strip_prefix=module."});
  ASSERT_EQ(converted.exit_code(), 0) << converted.output;
  EXPECT_THAT(converted.output, HasSubstr("128 tensors from the state_dict under 'state_dict'"));

  // lr 0: one step moves only the BatchNorm statistics.
  const ProcessResult run = RunProcess(BinaryPath("models/train"), {
      "--model=resnet20", "--dataset=synthetic", "--init_from=" + dir + "/r20.safetensors", "--lr=0",
      "--max_steps=1", "--batch_size=8", "--threads=1", "--checkpoint_dir=" + dir + "/run"});
  ASSERT_EQ(run.exit_code(), 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("a plain state_dict (no dlf metadata"));
  EXPECT_THAT(run.output, HasSubstr("128 tensors loaded"));
  absl::StatusOr<data::TensorFile> torch_weights = data::ReadSafetensors(dir + "/r20.safetensors");
  absl::StatusOr<data::TensorFile> dlf_weights = data::ReadSafetensors(dir + "/run/last.safetensors");
  ASSERT_TRUE(torch_weights.ok() && dlf_weights.ok());
  for (const char* name : {"conv1.weight", "layer2.0.downsample.0.weight", "fc.weight", "fc.bias"}) {
    const Tensor& a = torch_weights->tensors.at(name);
    const Tensor& b = dlf_weights->tensors.at(name);
    ASSERT_EQ(a.shape(), b.shape()) << name;
    EXPECT_EQ(std::memcmp(a.raw(), b.raw(), a.num_bytes()), 0) << name;
  }

  const ProcessResult back = RunProcess(PythonPath(), {tools + "/resnet_golden.py", "--check", dir + "/run/last.safetensors"});
  ASSERT_EQ(back.exit_code(), 0) << back.output;
  EXPECT_THAT(back.output, HasSubstr("load_state_dict(strict=True) into resnet20 ok"));
}

TEST(PyTorchWeightsTest, TheConverterRefusesWhatIsNotAStateDict) {
  const std::string dir = TempDir("pytorch_weights_bad");
  const std::string tools = BinaryPath("tools");
  const ProcessResult saved = RunProcess(PythonPath(), {"-c",
      "import torch; torch.save({'w': torch.zeros(2), 'note': 'text'}, '" + dir + "/mixed.pth')\n"
      "open('" + dir + "/text.pth', 'w').write('not a pickle')"});
  ASSERT_EQ(saved.exit_code(), 0) << saved.output;
  const ProcessResult mixed = RunProcess(PythonPath(), {tools + "/torch_to_safetensors.py", dir + "/mixed.pth", dir + "/o.safetensors"});
  EXPECT_EQ(mixed.exit_code(), 1);
  EXPECT_THAT(mixed.output, HasSubstr("error: " + dir + "/mixed.pth: entry 'note' is a str, not a tensor"));
  const ProcessResult text = RunProcess(PythonPath(), {tools + "/torch_to_safetensors.py", dir + "/text.pth", dir + "/o.safetensors"});
  EXPECT_EQ(text.exit_code(), 1);
  EXPECT_THAT(text.output, HasSubstr("text.pth: cannot be read by torch.load"));
}

}  // namespace
}  // namespace dlf::training
