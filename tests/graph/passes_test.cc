// The compile-time passes (graph/passes/), each on a small graph, without a whole model.
#include "graph/passes/passes.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "graph/autodiff.h"
#include "graph/executor.h"
#include "gtest/gtest.h"
#include "ops/ops.h"
#include "tests/testing/grad_check.h"

namespace dlf::passes {
namespace {

using ::dlf::testing::CompileRunFetch;
using ::dlf::testing::ExpectSameValues;
using ::dlf::testing::RandomTensor;
using ::testing::ElementsAre;

std::vector<std::string> Ops(const Plan& plan) {
  std::vector<std::string> ops;
  for (const PlanNode& n : plan.nodes) ops.push_back(n.label);
  return ops;
}

const PlanNode& NodeWithLabel(const Plan& plan, const std::string& label) {
  for (const PlanNode& n : plan.nodes) {
    if (n.label == label) return n;
  }
  ADD_FAILURE() << "no node " << label << " in " << absl::StrJoin(Ops(plan), ", ");
  return plan.nodes[0];
}

Value Conv(Graph& g, Value x, int64_t out, const std::string& name) {
  const Value w = g.Parameter(name, {out, g.dim(x, 1), 3, 3}, Initializer::Uniform(0.5));
  return ops::Conv2D(g, x, w, Value{}, {{1, 1}, {1, 1}});
}

TEST(PruneTest, KeepsWhatTheFetchesNeedInGraphOrder) {
  Graph g(1);
  const Value x = g.Input("x", DType::kF32, {1, 2, 4, 4});
  const Value used = ops::Relu(g, Conv(g, x, 3, "used"));
  ops::Relu(g, Conv(g, x, 3, "unused"));
  const Plan plan = Prune(g, {used}, {});
  EXPECT_THAT(Ops(plan), ElementsAre("Conv2D", "Relu"));
  std::vector<std::string> sources;
  for (int n : plan.sources) sources.push_back(g.node(n).name);
  EXPECT_THAT(sources, ElementsAre("x", "used"));
  EXPECT_EQ(plan.values.size(), static_cast<size_t>(g.num_values()));
}

// conv -> ReLU -> max pooling (3x3, stride 2, padding 1: overlapping windows, and windows of
// only negative inputs from the -1 bias) -> sum of squares; with its backward.
struct PoolNet {
  Graph g{1};
  Value x, relu, pooled, loss;
  std::vector<Value> fetches;
  PoolNet() {
    x = g.Input("x", DType::kF32, {2, 3, 7, 7});
    const Value b = g.Parameter("b", {4}, Initializer::Constant(-1.0f));
    const Value w = g.Parameter("w", {4, 3, 3, 3}, Initializer::Uniform(0.8));
    relu = ops::Relu(g, ops::Conv2D(g, x, w, b, {{1, 1}, {1, 1}}));
    pooled = ops::MaxPool2D(g, relu, {{3, 3}, {2, 2}, {1, 1}, false});
    loss = ops::Sum(g, ops::Mul(g, pooled, pooled));
    auto grads = Gradients(g, loss, {w, b, x});
    EXPECT_TRUE(grads.ok()) << grads.status();
    fetches = {loss, pooled};
    fetches.insert(fetches.end(), grads->begin(), grads->end());
  }
};

TEST(RewriteTest, ReluBeforeMaxPoolingRunsAfterItForwardAndBackward) {
  PoolNet net;
  const Plan plan = Rewrite(Prune(net.g, net.fetches, {}));
  std::vector<std::string> ops = Ops(plan);
  const auto at = [&](const std::string& op) { return std::find(ops.begin(), ops.end(), op) - ops.begin(); };
  EXPECT_LT(at("MaxPool2D"), at("Relu"));
  EXPECT_LT(at("ReluGrad"), at("MaxPool2DBackward"));
  EXPECT_THAT(NodeWithLabel(plan, "Relu").passes, ElementsAre("rewrite"));
  // The ReLU reads the pooled values, its gradient the pooled gradient.
  const PlanNode& relu = NodeWithLabel(plan, "Relu");
  EXPECT_EQ(plan.info(relu.node.inputs[0]).shape, (Shape{2, 4, 4, 4}));
  EXPECT_EQ(plan.info(NodeWithLabel(plan, "ReluGrad").node.outputs[0]).shape, (Shape{2, 4, 4, 4}));
}

TEST(RewriteTest, KeepsTheLossAndEveryGradientBitForBit) {
  PoolNet net;
  const Tensor x = RandomTensor({2, 3, 7, 7}, 3);
  const std::vector<Tensor> textbook = CompileRunFetch(net.g, net.fetches, {.rewrite = false}, {{net.x, &x}});
  const std::vector<Tensor> rewritten = CompileRunFetch(net.g, net.fetches, {.rewrite = true}, {{net.x, &x}});
  ASSERT_EQ(textbook.size(), net.fetches.size());
  const Tensor& pooled = textbook[1];  // windows of only negative inputs pool to 0
  const int64_t zeros = std::count(pooled.f32(), pooled.f32() + pooled.num_elements(), 0.0f);
  EXPECT_GT(zeros, 0);
  EXPECT_LT(zeros, pooled.num_elements());
  ExpectSameValues(rewritten, textbook);
}

TEST(RewriteTest, LeavesAReluOthersReadAlone) {
  PoolNet net;
  std::vector<Value> fetches = net.fetches;
  fetches.push_back(net.relu);  // fetched: the ReLU's full output must exist
  const Plan plan = Rewrite(Prune(net.g, fetches, {}));
  std::vector<std::string> ops = Ops(plan);
  EXPECT_LT(std::find(ops.begin(), ops.end(), "Relu"), std::find(ops.begin(), ops.end(), "MaxPool2D"));
  const Plan off = Rewrite(Prune(net.g, net.fetches, {.rewrite = false}));
  for (const PlanNode& n : off.nodes) EXPECT_TRUE(n.passes.empty()) << n.label;
}

// Dropout in an inference plan is the identity: its readers read its input, and the node goes;
// not in training, nor where its output is fetched.
TEST(RewriteTest, DropoutIsGoneInInference) {
  Graph g(1);
  const Value x = g.Input("x", DType::kF32, {4, 6});
  const Value h = ops::Scale(g, x, 2.0);
  const Value dropped = ops::Dropout(g, h, 0.5, 1);
  const Value y = ops::Scale(g, dropped, 3.0);
  const Plan inference = Rewrite(Prune(g, {y}, {.training = false}));
  ASSERT_THAT(Ops(inference), ElementsAre("Scale", "Scale"));
  EXPECT_EQ(inference.nodes[1].node.inputs[0], h);
  EXPECT_THAT(Ops(Rewrite(Prune(g, {y}, {.training = true}))), ElementsAre("Scale", "Dropout", "Scale"));
  EXPECT_THAT(Ops(Rewrite(Prune(g, {y, dropped}, {.training = false}))), ElementsAre("Scale", "Dropout", "Scale"));
  const Tensor xv = RandomTensor({4, 6}, 2);
  ExpectSameValues(CompileRunFetch(g, {y}, {.training = false}, {{x, &xv}}),
                   CompileRunFetch(g, {y}, {.training = false, .rewrite = false}, {{x, &xv}}));
}

TEST(FuseTest, AnElementWiseOpRunsInsideItsOnlyProducer) {
  Graph g(1);
  const Value x = g.Input("x", DType::kF32, {1, 2, 4, 4});
  const Value conv = Conv(g, x, 3, "w");
  const Value y = ops::Relu(g, conv);
  const Plan plan = Fuse(Prune(g, {y}, {}));
  ASSERT_THAT(Ops(plan), ElementsAre("Conv2D+Relu"));
  ASSERT_EQ(plan.nodes[0].post_ops.size(), 1u);
  EXPECT_EQ(plan.nodes[0].post_ops[0].op, "relu");
  EXPECT_EQ(plan.nodes[0].node.outputs[0], y);
  EXPECT_THAT(plan.nodes[0].passes, ElementsAre("fuse"));
  // Not when the producer's output has another reader: it must be written as it is.
  EXPECT_THAT(Ops(Fuse(Prune(g, {y, conv}, {}))), ElementsAre("Conv2D", "Relu"));
  EXPECT_THAT(Ops(Fuse(Prune(g, {y}, {.fuse = false}))), ElementsAre("Conv2D", "Relu"));
}

TEST(PrecisionTest, Bf16ReadsParametersFromCopies) {
  Graph g(1);
  const Value x = g.Input("x", DType::kF32, {1, 2, 4, 4});
  const Value w = g.Input("w_fed", DType::kF32, {3, 2, 3, 3});
  const Value a = Conv(g, x, 3, "w");                               // a parameter weight
  const Value b = ops::Conv2D(g, x, w, Value{}, {{1, 1}, {1, 1}});  // a fed weight
  const Plan bf16 = ChoosePrecision(Prune(g, {a, b}, {.bf16 = true}));
  ASSERT_EQ(bf16.nodes.size(), 2u);
  EXPECT_THAT(bf16.nodes[0].bf16_copy_inputs, ElementsAre(false, true));
  EXPECT_THAT(bf16.nodes[0].passes, ElementsAre("precision"));
  EXPECT_THAT(bf16.nodes[1].bf16_copy_inputs, ElementsAre(false, false));
  const Plan f32 = ChoosePrecision(Prune(g, {a, b}, {}));
  EXPECT_THAT(f32.nodes[0].bf16_copy_inputs, ElementsAre(false, false));
}

TEST(LayoutTest, OnlyValuesBetweenAnyLayoutKernelsAreFree) {
  Graph g(1);
  const Value x = g.Input("x", DType::kF32, {1, 2, 4, 4});
  const Value h = Conv(g, x, 3, "w1");
  const Value y = Conv(g, h, 3, "w2");          // h: read by a convolution only
  const Value flat = ops::Flatten(g, Conv(g, y, 3, "w3"));  // y: conv only; w3's output: Flatten
  const Plan plan = ChooseLayouts(Prune(g, {flat}, {}));
  ASSERT_EQ(plan.nodes.size(), 4u);
  EXPECT_THAT(plan.nodes[0].free_outputs, ElementsAre(true));
  EXPECT_THAT(plan.nodes[1].free_outputs, ElementsAre(true));
  EXPECT_THAT(plan.nodes[2].free_outputs, ElementsAre(false));  // Flatten reads it plain
  EXPECT_TRUE(plan.nodes[3].free_outputs.empty());               // Flatten takes no layout
  const Plan fetched = ChooseLayouts(Prune(g, {flat, h}, {}));
  EXPECT_THAT(fetched.nodes[0].free_outputs, ElementsAre(false));  // the caller reads h plain
  const Plan off = ChooseLayouts(Prune(g, {flat}, {.layouts = false}));
  EXPECT_THAT(off.nodes[0].free_outputs, ElementsAre(false));
}

TEST(HoistTest, KernelsOfParametersAloneRunOnlyWhenTheyChange) {
  Graph g(1);
  const Value x = g.Input("x", DType::kF32, {256});
  const Value p = g.Parameter("p", {256}, Initializer::Constant(2.0f));
  const Value scaled = ops::Scale(g, p, 3.0);          // parameters alone
  const Value twice = ops::Scale(g, scaled, 2.0);      // and what follows from them
  const Value y = ops::Add(g, ops::Scale(g, x, 0.5), twice);  // reads the fed input
  const Plan fixed = PlaceValues(ChooseInPlace(HoistParameterOnly(ChooseLayouts(Prune(g, {y}, {.fixed_parameters = true})))));
  ASSERT_THAT(Ops(fixed), ElementsAre("Scale", "Scale", "Scale", "Add"));
  EXPECT_TRUE(fixed.nodes[0].parameter_only);
  EXPECT_TRUE(fixed.nodes[1].parameter_only);
  EXPECT_FALSE(fixed.nodes[2].parameter_only);
  EXPECT_FALSE(fixed.nodes[3].parameter_only);
  EXPECT_FALSE(fixed.nodes[1].writes_in_place);  // its input is kept across runs
  // Kept values share memory with no other value.
  for (Value kept : {scaled, twice}) {
    for (size_t v = 0; v < fixed.values.size(); ++v) {
      if (static_cast<int>(v) == kept.id || fixed.offsets[v] < 0) continue;
      const bool apart = fixed.offsets[v] + fixed.ValueBytes(Value{static_cast<int>(v)}) <= fixed.offsets[kept.id] ||
                         fixed.offsets[kept.id] + fixed.ValueBytes(kept) <= fixed.offsets[v];
      EXPECT_TRUE(apart) << "value " << v << " overlaps " << kept.id;
    }
  }
  const Plan training = HoistParameterOnly(Prune(g, {y}, {}));
  for (const PlanNode& n : training.nodes) EXPECT_FALSE(n.parameter_only);

  auto exec = Executor::Compile(g, {y}, {.fixed_parameters = true});
  ASSERT_TRUE(exec.ok()) << exec.status();
  const Tensor xv = RandomTensor({256}, 1);
  ASSERT_TRUE((*exec)->Run({{x, &xv}}).ok());
  EXPECT_FLOAT_EQ((*exec)->fetch(0).f32()[0], 0.5f * xv.f32()[0] + 12.0f);
  g.parameter_value(p).Fill(1.0f);
  ASSERT_TRUE((*exec)->Run({{x, &xv}}).ok());  // not told: the kept values stay
  EXPECT_FLOAT_EQ((*exec)->fetch(0).f32()[0], 0.5f * xv.f32()[0] + 12.0f);
  (*exec)->ParametersChanged();
  ASSERT_TRUE((*exec)->Run({{x, &xv}}).ok());
  EXPECT_FLOAT_EQ((*exec)->fetch(0).f32()[0], 0.5f * xv.f32()[0] + 6.0f);
}

TEST(InPlaceTest, AnElementWiseOpTakesItsInputsMemoryWhenNothingReadsItLater) {
  Graph g(1);
  const Value x = g.Input("x", DType::kF32, {1, 2, 4, 4});
  const Value h = ops::Scale(g, x, 2.0);  // an op's output: in the arena
  const Value y = ops::Relu(g, h);
  const Value z = ops::Relu(g, x);        // a fed input: not the plan's to overwrite
  Plan plan = PlaceValues(ChooseInPlace(ChooseLayouts(Prune(g, {y, z}, {}))));
  ASSERT_THAT(Ops(plan), ElementsAre("Scale", "Relu", "Relu"));
  EXPECT_TRUE(plan.nodes[1].writes_in_place);
  EXPECT_EQ(plan.offsets[y.id], plan.offsets[h.id]);
  EXPECT_FALSE(plan.nodes[2].writes_in_place);
  // h fetched too: its value must survive the ReLU.
  plan = PlaceValues(ChooseInPlace(ChooseLayouts(Prune(g, {y, h}, {}))));
  EXPECT_FALSE(plan.nodes[1].writes_in_place);
  EXPECT_NE(plan.offsets[y.id], plan.offsets[h.id]);
}

TEST(MemoryTest, ValuesWhoseLifetimesDoNotOverlapShareTheArena) {
  Graph g(1);
  const Value x = g.Input("x", DType::kF32, {256});
  Value v = x;
  std::vector<Value> chain;
  for (int i = 0; i < 6; ++i) chain.push_back(v = ops::Scale(g, v, 1.5));  // 1 KiB each
  const Plan plan = PlaceValues(ChooseInPlace(ChooseLayouts(Prune(g, {v}, {.in_place = false}))));
  EXPECT_EQ(plan.sum_value_bytes, 6 * 1024);
  EXPECT_EQ(plan.arena_bytes, 2 * 1024);  // each value lives while the next is written
  for (size_t i = 1; i < chain.size(); ++i) EXPECT_NE(plan.offsets[chain[i].id], plan.offsets[chain[i - 1].id]);
  EXPECT_EQ(plan.offsets[x.id], -1);  // fed: in its own buffer
  EXPECT_GE(plan.arena_bytes, ArenaLowerBound(plan));
}

// DLF_PROFILE names the passes that made each kernel.
TEST(ProfileTest, NamesThePassesThatMadeEachKernel) {
  PoolNet net;
  auto exec = Executor::Compile(net.g, net.fetches, {.profile = true});
  ASSERT_TRUE(exec.ok()) << exec.status();
  const Tensor x = RandomTensor({2, 3, 7, 7}, 3);
  ASSERT_TRUE((*exec)->Run({{net.x, &x}}).ok());
  const std::string report = (*exec)->ProfileReport();
  EXPECT_THAT(report, ::testing::HasSubstr("MaxPool2D+Relu [rewrite,fuse"));
  EXPECT_THAT(report, ::testing::HasSubstr("ReluGrad [rewrite"));
  // Per kernel (DLF_PROFILE=kernels): one row each, named by its node.
  const std::string per_kernel = (*exec)->ProfileReport(/*per_kernel=*/true);
  for (const KernelImplementation& k : (*exec)->Implementations()) {
    EXPECT_THAT(per_kernel, ::testing::HasSubstr(" " + k.node + " ")) << per_kernel;
  }
  EXPECT_EQ(std::count(per_kernel.begin(), per_kernel.end(), '\n'), 1 + (*exec)->stats().num_kernels) << per_kernel;
}

}  // namespace
}  // namespace dlf::passes
