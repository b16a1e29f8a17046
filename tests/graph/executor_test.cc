#include "graph/executor.h"

#include <malloc.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <new>
#include <vector>

#include "gmock/gmock.h"
#include "graph/autodiff.h"
#include "graph/bf16.h"
#include "graph/memory.h"
#include "gtest/gtest.h"
#include "ops/ops.h"
#include "tests/testing/grad_check.h"
#include "tests/testing/bf16.h"

// Counts every allocation in this process (oneDNN's included), to prove Run() allocates
// nothing in steady state: operator new, aligned_alloc (Tensor storage) and posix_memalign
// (what oneDNN allocates its memory and scratch with).
static std::atomic<int64_t> g_allocations{0};
static std::atomic<int64_t> g_large_allocations{0};  // >= 4 KiB: buffer-sized
static std::atomic<int64_t> g_aligned_alloc_calls{0};
static std::atomic<int64_t> g_posix_memalign_calls{0};
static void CountAllocation(size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (n >= 4096) g_large_allocations.fetch_add(1, std::memory_order_relaxed);
}
void* operator new(size_t n) {
  CountAllocation(n);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
extern "C" void* aligned_alloc(size_t alignment, size_t n) {
  g_aligned_alloc_calls.fetch_add(1, std::memory_order_relaxed);
  return memalign(alignment, n);
}
extern "C" int posix_memalign(void** p, size_t alignment, size_t n) {
  g_posix_memalign_calls.fetch_add(1, std::memory_order_relaxed);
  *p = memalign(alignment, n);
  return *p != nullptr ? 0 : ENOMEM;
}

namespace dlf {
namespace {

using ::testing::HasSubstr;

TEST(ExecutorTest, LongChainReusesBuffers) {
  Graph g;
  Value x = g.Input("x", DType::kF32, {1024});
  Value h = x;
  for (int i = 0; i < 50; ++i) h = ops::Tanh(g, h);
  auto exec = Executor::Compile(g, {h});
  ASSERT_TRUE(exec.ok()) << exec.status();
  const PlanStats& s = (*exec)->stats();
  EXPECT_EQ(s.num_kernels, 50);
  EXPECT_EQ(s.sum_value_bytes, 50 * 4096);
  EXPECT_LE(s.arena_bytes, 2 * 4096);  // two live values at a time
}

TEST(ExecutorTest, ComputesAndPrunesToFetches) {
  Graph g;
  Value x = g.Input("x", DType::kF32, {3});
  Value unused_input = g.Input("unused", DType::kF32, {3});
  ops::Relu(g, unused_input);
  Value y = ops::Mul(g, x, x);
  auto exec = Executor::Compile(g, {y});
  ASSERT_TRUE(exec.ok()) << exec.status();
  EXPECT_EQ((*exec)->stats().num_kernels, 1);
  ASSERT_EQ((*exec)->required_inputs().size(), 1u);  // "unused" need not be fed
  Tensor xv = Tensor::F32({3}, {1, 2, 3});
  ASSERT_TRUE((*exec)->Run({{x, &xv}}).ok());
  EXPECT_EQ((*exec)->fetch(0).f32()[2], 9.0f);
}

TEST(ExecutorTest, FeedErrorsAreClear) {
  Graph g;
  Value x = g.Input("images", DType::kF32, {2, 3});
  Value y = ops::Relu(g, x);
  auto exec = Executor::Compile(g, {y});
  ASSERT_TRUE(exec.ok());
  EXPECT_EQ(std::string((*exec)->Run({}).message()), "Run: input 'images' was not fed");
  Tensor wrong_shape(DType::kF32, {3, 2});
  EXPECT_EQ(std::string((*exec)->Run({{x, &wrong_shape}}).message()),
            "Run: input 'images' expects f32[2, 3], was fed f32[3, 2]");
  Tensor wrong_dtype(DType::kI32, {2, 3});
  EXPECT_EQ(std::string((*exec)->Run({{x, &wrong_dtype}}).message()),
            "Run: input 'images' expects f32[2, 3], was fed i32[2, 3]");
}

TEST(ExecutorTest, RuntimeKernelErrorNamesTheNode) {
  Graph g;
  Value logits = g.Input("logits", DType::kF32, {2, 3});
  Value labels = g.Input("labels", DType::kI32, {2});
  Value loss = ops::SoftmaxCrossEntropy(g, logits, labels);
  auto exec = Executor::Compile(g, {loss});
  ASSERT_TRUE(exec.ok());
  Tensor l(DType::kF32, {2, 3});
  Tensor bad = Tensor::I32({2}, {0, 7});
  absl::Status s = (*exec)->Run({{logits, &l}, {labels, &bad}});
  EXPECT_THAT(std::string(s.message()), HasSubstr("label 7 at row 1 is outside [0, 3)"));
}

// A kernel factory that lets a oneDNN exception out (as a reorder oneDNN cannot build would)
// gives a compile error naming the node, not an escaped exception.
TEST(ExecutorTest, OneDnnExceptionInAKernelFactoryIsAnError) {
  static const bool registered = RegisterOpOrDie(
      {.name = "TestThrowsDnnlError",
       .shape = [](const ShapeContext& c) -> absl::StatusOr<std::vector<ValueInfo>> {
         return std::vector<ValueInfo>{c.inputs[0]};
       },
       .kernel = [](const KernelContext&) -> absl::StatusOr<std::unique_ptr<Kernel>> {
         throw dnnl::error(dnnl_unimplemented, "could not create a reorder");
       }});
  ASSERT_TRUE(registered);
  Graph g;
  Value x = g.Input("x", DType::kF32, {2});
  Value y = g.Op1("TestThrowsDnnlError", {x});
  auto exec = Executor::Compile(g, {y});
  ASSERT_FALSE(exec.ok());
  EXPECT_THAT(std::string(exec.status().message()),
              HasSubstr("(TestThrowsDnnlError): oneDNN: could not create a reorder"));
}

TEST(ExecutorTest, TrainingAndInferenceModesDiffer) {
  Graph g;
  Value x = g.Input("x", DType::kF32, {1000});
  Value y = ops::Dropout(g, x, 0.5, 3);
  Tensor ones(DType::kF32, {1000});
  ones.Fill(1.0f);
  auto train = Executor::Compile(g, {y}, {true});
  auto infer = Executor::Compile(g, {y}, {false});
  ASSERT_TRUE(train.ok() && infer.ok());
  ASSERT_TRUE((*train)->Run({{x, &ones}}).ok());
  ASSERT_TRUE((*infer)->Run({{x, &ones}}).ok());
  int zeros = 0;
  for (int i = 0; i < 1000; ++i) zeros += (*train)->fetch(0).f32()[i] == 0.0f;
  EXPECT_GT(zeros, 400);
  EXPECT_LT(zeros, 600);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ((*infer)->fetch(0).f32()[i], 1.0f);
}

TEST(ExecutorTest, SteadyStateRunOfOwnKernelsDoesNotAllocate) {
  Graph g;
  Value x = g.Input("x", DType::kF32, {8, 10});
  Value labels = g.Input("labels", DType::kI32, {8});
  Value h = ops::Add(g, ops::Tanh(g, x), ops::Mul(g, x, ops::Sigmoid(g, x)));
  Value loss = ops::SoftmaxCrossEntropy(g, ops::Dropout(g, ops::Relu(g, h), 0.5), labels);
  auto grads = Gradients(g, loss, {x});
  ASSERT_TRUE(grads.ok()) << grads.status();
  auto exec = Executor::Compile(g, {loss, (*grads)[0]});
  ASSERT_TRUE(exec.ok()) << exec.status();
  Tensor xv(DType::kF32, {8, 10});
  Tensor lv = Tensor::I32({8}, {1, 2, 3, 4, 5, 6, 7, 8});
  const Feed feeds[] = {{x, &xv}, {labels, &lv}};
  ASSERT_TRUE((*exec)->Run(feeds).ok());  // warm-up
  const int64_t before = g_allocations.load();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE((*exec)->Run(feeds).ok());
  EXPECT_EQ(g_allocations.load() - before, 0);
}

// oneDNN 2.6's dnnl_primitive_execute builds a small argument map of its own at each call
// (a few tiny allocations inside the library, which its API cannot avoid); no buffer-sized
// allocation may happen in a step.
TEST(ExecutorTest, SteadyStateTrainingStepAllocatesNoBuffers) {
  Graph g;
  Value x = g.Input("x", DType::kF32, {4, 3, 16, 16});
  Value labels = g.Input("labels", DType::kI32, {4});
  Value w = g.Parameter("w", {8, 3, 3, 3}, Initializer::HeUniform());
  Value h = ops::MaxPool2D(g, ops::Relu(g, ops::Conv2D(g, x, w)), {{2, 2}, {2, 2}});
  Value fc = g.Parameter("fc", {10, 8 * 7 * 7}, Initializer::HeUniform());
  Value loss = ops::SoftmaxCrossEntropy(g, ops::Linear(g, ops::Flatten(g, h), fc), labels);
  auto grads = Gradients(g, loss, {w, fc});
  ASSERT_TRUE(grads.ok()) << grads.status();
  auto exec = Executor::Compile(g, {loss, (*grads)[0], (*grads)[1]});
  ASSERT_TRUE(exec.ok()) << exec.status();
  Tensor xv(DType::kF32, {4, 3, 16, 16});
  Tensor lv = Tensor::I32({4}, {1, 2, 3, 4});
  const Feed feeds[] = {{x, &xv}, {labels, &lv}};
  ASSERT_TRUE((*exec)->Run(feeds).ok());  // warm-up
  const int64_t tensors_before = g_aligned_alloc_calls.load();
  { Tensor probe(DType::kF32, {16}); }
  ASSERT_EQ(g_aligned_alloc_calls.load(), tensors_before + 1) << "the counter sees Tensor storage";

  const int64_t large = g_large_allocations.load(), tensors = g_aligned_alloc_calls.load();
  std::vector<int64_t> onednn_per_run;
  for (int i = 0; i < 5; ++i) {
    const int64_t before = g_posix_memalign_calls.load();
    ASSERT_TRUE((*exec)->Run(feeds).ok());
    onednn_per_run.push_back(g_posix_memalign_calls.load() - before);
  }
  EXPECT_EQ(g_large_allocations.load() - large, 0);
  EXPECT_EQ(g_aligned_alloc_calls.load() - tensors, 0);
  // What is left is inside oneDNN: its gemm-based inner product (LinearBackwardWeights, 10-20%
  // faster on AlexNet's 4096x4096 layer than the allocation-free matmul) allocates a small
  // packing buffer per call where its kernel packs (which kernels oneDNN picks depends on the
  // CPU: one of them packs on AVX-512, Zen 4; two on AVX2, Zen 3). Nothing of ours is allocated:
  // no staged operand, scratch or oneDNN memory object; so at most two per run, none of them
  // large, and the same in every run.
  for (int64_t n : onednn_per_run) {
    EXPECT_LE(n, 2);
    EXPECT_EQ(n, onednn_per_run[0]);
  }
}

}  // namespace
}  // namespace dlf

namespace dlf {
namespace {

// Below AVX-512 oneDNN 2.6.3 creates no bf16 primitive: the executor refuses bf16 up front,
// naming the ISA, instead of failing in the first kernel. Where it has bf16, the same compiles.
TEST(Bf16CopiesTest, Bf16IsRefusedWhereOneDnnHasNoBf16Kernels) {
  Graph g(1);
  const Value x = g.Input("x", DType::kF32, {4, 8});
  const Value w = g.Parameter("w", {3, 8}, Initializer::Uniform(1.0));
  auto exec = Executor::Compile(g, {ops::Linear(g, x, w)}, {.bf16 = true});
  if (Bf16Supported()) {
    EXPECT_TRUE(exec.ok()) << exec.status();
  } else {
    ASSERT_FALSE(exec.ok());
    EXPECT_EQ(exec.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(std::string(exec.status().message()),
                ::testing::HasSubstr("bf16 needs a CPU with AVX-512 (oneDNN 2.6.3 has no bf16 kernels below it); "
                                     "this CPU's oneDNN ISA is " + DnnlIsaName()));
  }
}

// The caller (an optimizer's update) may write the bf16 weight copies; the next run then uses
// them as written, and a run after that (or after ParametersChanged) refreshes them again.
TEST(Bf16CopiesTest, ARunUsesCopiesTheCallerWroteOnce) {
  DLF_SKIP_WITHOUT_BF16();
  Graph g(1);
  const Value x = g.Input("x", DType::kF32, {4, 8});
  const Value w = g.Parameter("w", {3, 8}, Initializer::Uniform(1.0));
  auto exec = Executor::Compile(g, {ops::Linear(g, x, w)}, {.bf16 = true});
  ASSERT_TRUE(exec.ok()) << exec.status();
  Tensor& weights = g.parameter_value(w);
  Tensor* copy = (*exec)->bf16_copy(&weights);
  ASSERT_NE(copy, nullptr);
  const Tensor input = ::dlf::testing::RandomTensor({4, 8}, 2);
  const auto run = [&] {
    EXPECT_TRUE((*exec)->Run({{x, &input}}).ok());
    return (*exec)->fetch(0).Clone();
  };
  const Tensor y = run();
  const auto write_doubled = [&] {  // bf16(2w) = 2 bf16(w): the product doubles exactly
    for (int64_t i = 0; i < weights.num_elements(); ++i) static_cast<uint16_t*>(copy->raw())[i] = ToBf16(2 * weights.f32()[i]);
    Tensor* written[] = {&weights};
    (*exec)->Bf16CopiesWritten(written);
  };
  write_doubled();
  const Tensor doubled = run();
  for (int64_t i = 0; i < y.num_elements(); ++i) EXPECT_EQ(doubled.f32()[i], 2 * y.f32()[i]) << i;
  const Tensor refreshed = run();
  for (int64_t i = 0; i < y.num_elements(); ++i) EXPECT_EQ(refreshed.f32()[i], y.f32()[i]) << i;
  write_doubled();
  (*exec)->ParametersChanged();
  const Tensor after_change = run();
  for (int64_t i = 0; i < y.num_elements(); ++i) EXPECT_EQ(after_change.f32()[i], y.f32()[i]) << i;
}

// The memory checks read the machine's MemAvailable; these tests set a limit of their own
// (SetMemoryLimitBytes), so that they refuse the same plans on a host of any size.
class MemoryTest : public ::testing::Test {
 protected:
  void SetUp() override { SetMemoryLimitBytes(int64_t{64} << 20); }  // 67.1 MB
  void TearDown() override { SetMemoryLimitBytes(0); }
};

TEST_F(MemoryTest, APlanLargerThanTheLimitFailsBeforeAllocating) {
  Graph g;
  Value x = g.Input("images", DType::kF32, {4096, 3, 32, 32});  // 50.3 MB, and as much for the ReLU
  auto exec = Executor::Compile(g, {ops::Relu(g, x)});
  ASSERT_FALSE(exec.ok());
  EXPECT_EQ(exec.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(exec.status().message()),
              ::testing::HasSubstr("the plan (inputs: images f32[4096, 3, 32, 32]) needs 0.10 GB of memory "
                                   "but only 0.07 GB is available; use a smaller batch size or model"));
  // Half the batch fits.
  Graph half;
  Value y = half.Input("images", DType::kF32, {1024, 3, 32, 32});
  EXPECT_TRUE(Executor::Compile(half, {ops::Relu(half, y)}).ok());
}

// The same for a convolution: the size is checked before its oneDNN primitive is created (this
// Winograd one cannot be created at this batch: oneDNN's error would say only that).
TEST_F(MemoryTest, AConvolutionPlanLargerThanTheLimitFailsBeforeItsKernels) {
  Graph g;
  Value x = g.Input("images", DType::kF32, {int64_t{1} << 20, 32, 16, 16});
  Value w = g.Parameter("w", {96, 32, 3, 3}, Initializer::Zeros());
  auto exec = Executor::Compile(g, {ops::Relu(g, ops::Conv2D(g, x, w, Value{}, {{1, 1}, {1, 1}}))});
  ASSERT_FALSE(exec.ok());
  EXPECT_EQ(exec.status().code(), absl::StatusCode::kResourceExhausted) << exec.status();
  EXPECT_THAT(std::string(exec.status().message()), ::testing::HasSubstr("use a smaller batch size"));
}

TEST_F(MemoryTest, AParameterLargerThanTheLimitIsABuildError) {
  using ::testing::HasSubstr;
  Graph g;
  Value w = g.Parameter("huge.weight", {int64_t{1} << 20, int64_t{1} << 20}, Initializer::Zeros());
  EXPECT_FALSE(w.valid());
  EXPECT_EQ(g.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(g.status().message()),
              HasSubstr("parameter 'huge.weight' [1048576, 1048576] (with the parameters before "
                        "it) needs 4398.05 GB of memory"));
}

}  // namespace
}  // namespace dlf
