// The models registered under torchvision's names are torchvision's: their state loads into
// torchvision.models.<name> with load_state_dict(strict=True), and torchvision's logits in eval
// mode equal dlf's inference on the same images to 1e-5 of the largest logit (run by
// tools/torchvision_check.py with Debian's python3-torchvision).
#include <algorithm>
#include <cstdio>
#include <string>

#include "data/safetensors.h"
#include "data/synthetic.h"
#include "gtest/gtest.h"
#include "models/registry.h"
#include "models/training/evaluator.h"
#include "tests/testing/model_weights.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"

namespace dlf::training {
namespace {

using ::dlf::testing::BinaryPath;
using ::dlf::testing::ProcessResult;
using ::dlf::testing::PythonPath;
using ::dlf::testing::RunProcess;

// Running statistics away from 0 and 1, so that eval-mode BatchNorm is really checked.
void SetRunningStatistics(Graph& g) {
  for (Value v : g.buffers()) {
    Tensor& t = g.parameter_value(v);
    if (t.dtype() != DType::kF32) continue;
    const bool var = g.name(v).find("running_var") != std::string::npos;
    for (int64_t i = 0; i < t.num_elements(); ++i) t.f32()[i] = var ? 0.5f + 0.01f * (i % 50) : 0.02f * (i % 7) - 0.06f;
  }
}

void CheckAgainstTorchvision(const std::string& name, int64_t size) {
  const models::ModelSpec& spec = **models::FindModel(name);
  const Shape image = {3, size, size};  // any size: the pooling is global
  models::ModelOptions options;
  options.num_classes = 7;
  Graph g(11);
  spec.build(g, g.Input("images", DType::kF32, {1, 3, size, size}), options);
  ASSERT_TRUE(g.status().ok()) << g.status();
  SetRunningStatistics(g);
  ::dlf::testing::SetZeroParameters(g);
  data::TensorFile file;
  for (Value v : g.persistent_values()) file.tensors[g.name(v)] = g.parameter_value(v).Clone();

  const data::Dataset images = data::MakeSyntheticDataset(3, 3, size, 7, 4);
  const data::Normalization norm{spec.mean, spec.std};
  Evaluator evaluator(spec.build, options, image, 3, norm);
  ASSERT_TRUE(evaluator.LoadWeights(file.tensors, name).ok());
  absl::StatusOr<Tensor> dlf_logits = evaluator.Logits(images);
  ASSERT_TRUE(dlf_logits.ok()) << dlf_logits.status();
  Tensor normalized(DType::kF32, {3, 3, size, size});
  for (int64_t i = 0; i < normalized.num_elements(); ++i) {
    const int64_t c = i / (size * size) % 3;
    normalized.f32()[i] = (images.images.u8()[i] / 255.0f - spec.mean[c]) / spec.std[c];
  }
  file.tensors["check/images"] = std::move(normalized);
  file.tensors["check/logits"] = dlf_logits->Clone();
  const std::string path = ::dlf::testing::TempDir("torchvision_" + name) + "/" + name + ".safetensors";
  ASSERT_TRUE(data::WriteSafetensors(path, file).ok());
  const ProcessResult r = RunProcess(PythonPath(), {BinaryPath("tools/torchvision_check.py"), "--arch=" + name, "--tolerance=1e-5", path});
  std::printf("%s", r.output.c_str());
  EXPECT_EQ(r.exit_code(), 0) << r.output;
  EXPECT_NE(r.output.find("load_state_dict(strict=True) took all"), std::string::npos) << r.output;
}

struct Architecture {
  const char* name;
  int64_t size;  // any size works (the pooling is global): small ones keep the test short
};

class TorchvisionTest : public ::testing::TestWithParam<Architecture> {};

TEST_P(TorchvisionTest, IsTorchvisions) { CheckAgainstTorchvision(GetParam().name, GetParam().size); }

INSTANTIATE_TEST_SUITE_P(Architectures, TorchvisionTest,
                         ::testing::Values(Architecture{"resnet18", 96}, Architecture{"resnet50", 64},
                                         Architecture{"resnext50_32x4d", 64}, Architecture{"mobilenet_v2", 64},
                                         Architecture{"mobilenet_v3_small", 64}, Architecture{"efficientnet_b0", 64},
                                         Architecture{"regnet_y_400mf", 64}, Architecture{"convnext_tiny", 64},
                                         Architecture{"vit_b_16", 48}, Architecture{"vit-cifar", 32}),
                         [](const auto& info) {  // gtest's names take no '-'
                           std::string name = info.param.name;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

}  // namespace
}  // namespace dlf::training
