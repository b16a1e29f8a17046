// Every registered model's training step and inference plan, in f32 and bf16, run only oneDNN's
// optimized implementations: none whose name (impl_info_str()) starts with "ref" (the
// reference loops, there for correctness only) or "simple" (generic loops without the machine's
// vector units). A layout or post-op combination the jit kernels do not take fails here,
// naming the node and the implementation. One exception: oneDNN 2.6.3's only optimized layer
// normalization is named "simple_layer_normalization" but runs jit kernels inside
// (lnorm_utils::jit_stat_and_data_kernel_t, jit_diff_data_kernel_t, jit_diff_ss_kernel_t in
// libdnnl.so); its reference loops are "lnorm_ref", which this test does catch.
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "dnnl.hpp"
#include "gtest/gtest.h"
#include "graph/cpu.h"
#include "graph/executor.h"
#include "models/registry.h"
#include "models/training/task.h"
#include "models/training/train_step.h"

namespace dlf::training {
namespace {

constexpr int64_t kBatch = 8;

std::string SlowImplementations(const Executor& executor) {
  std::string slow;
  for (const KernelImplementation& k : executor.Implementations()) {
    const std::string impl = std::string(absl::StripPrefix(k.implementation, "reorder "));
    const bool jit_inside = absl::StartsWith(impl, "simple_layer_normalization");
    if (absl::StartsWith(impl, "ref") || absl::StartsWith(impl, "lnorm_ref") ||
        (absl::StartsWith(impl, "simple") && !jit_inside)) {
      absl::StrAppend(&slow, "\n  ", k.node, " (", k.label, "): ", k.implementation);
    }
  }
  return slow;
}

TrainConfig ConfigFor(const models::ModelSpec& spec, bool bf16) {
  TrainConfig c;
  c.run.model = spec.name;
  c.run.input_shape = spec.input_shape;
  c.run.mean = spec.mean;
  c.run.std = spec.std;
  c.build = spec.build;
  c.task = spec.task;
  c.model_options.num_classes = 10;
  c.batch_size = kBatch;
  c.verbose = false;
  c.bf16 = bf16;
  return c;
}

// oneDNN 2.6.3 has jit kernels for every bf16 primitive dlf uses where the CPU has AVX512-BF16
// (ISA avx512_core_bf16, or AMX above it): what these tests were checked on. On an older CPU
// its bf16 convolutions and matmuls are reference loops, so the bf16 cases are skipped there,
// naming the ISA found (CI counts them as skipped, not passed). f32 needs AVX2 and runs anywhere.
class ImplementationsTest : public testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    if (GetParam() && !NativeBf16()) {
      GTEST_SKIP() << "bf16 needs oneDNN ISA avx512_core_bf16 (AVX512-BF16); this CPU's is " << DnnlIsaName();
    }
  }
};

TEST_P(ImplementationsTest, TrainingStepsRunNoReferenceKernel) {
  const bool bf16 = GetParam();
  for (const models::ModelSpec* spec : models::RegisteredModels()) {
    SCOPED_TRACE(spec->name);
    auto step = TrainingStep::Create(ConfigFor(*spec, bf16), kBatch);
    ASSERT_TRUE(step.ok()) << step.status();
    EXPECT_EQ(SlowImplementations((*step)->executor()), "");
  }
}

TEST_P(ImplementationsTest, InferencePlansRunNoReferenceKernel) {
  const bool bf16 = GetParam();
  for (const models::ModelSpec* spec : models::RegisteredModels()) {
    SCOPED_TRACE(spec->name);
    const TrainConfig c = ConfigFor(*spec, bf16);
    Graph g;
    const TaskNet net = TaskFor(c.task).Build(g, c.build, c.model_options, kBatch, c.run.input_shape, {});
    ASSERT_TRUE(g.status().ok()) << g.status();
    auto executor = Executor::Compile(g, {net.loss, net.output},
                                      {.training = false, .bf16 = bf16, .fixed_parameters = true});
    ASSERT_TRUE(executor.ok()) << executor.status();
    EXPECT_EQ(SlowImplementations(**executor), "");
  }
}

INSTANTIATE_TEST_SUITE_P(Precisions, ImplementationsTest, testing::Values(false, true),
                         [](const auto& info) { return info.param ? "bf16" : "f32"; });

}  // namespace
}  // namespace dlf::training
