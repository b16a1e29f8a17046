// Embedding: the gather against a reference loop, the scatter-add gradient against finite
// differences (repeated ids included), the same gradient bits with 1 and 2 threads, a table
// shared with a Linear layer (weight tying) getting both gradients' sum, and bad ids.
#include <omp.h>

#include "gmock/gmock.h"
#include "graph/autodiff.h"
#include "graph/executor.h"
#include "gtest/gtest.h"
#include "ops/ops.h"
#include "tests/testing/grad_check.h"

namespace dlf {
namespace {

using ::dlf::testing::ExpectGradientsMatch;
using ::dlf::testing::RandomTensor;

constexpr int64_t kRows = 7, kDim = 5;

// ids [2, 3] with repeats (3 twice, 0 twice).
Tensor Ids() { return Tensor::I32({2, 3}, {3, 0, 6, 3, 1, 0}); }

TEST(EmbeddingTest, GathersTheRowsOfTheIds) {
  const Tensor table = RandomTensor({kRows, kDim}, 1);
  const Tensor ids = Ids();
  Graph g;
  const Value t = g.Input("table", DType::kF32, {kRows, kDim});
  const Value i = g.Input("ids", DType::kI32, {2, 3});
  const Value y = ops::Embedding(g, t, i);
  ASSERT_TRUE(g.status().ok()) << g.status();
  EXPECT_EQ(g.shape(y), Shape({2, 3, kDim}));
  const std::vector<Tensor> got = ::dlf::testing::CompileRunFetch(g, {y}, {.training = false}, {{t, &table}, {i, &ids}});
  ASSERT_EQ(got.size(), 1u);
  for (int64_t p = 0; p < 6; ++p)
    for (int64_t d = 0; d < kDim; ++d) {
      EXPECT_EQ(got[0].f32()[p * kDim + d], table.f32()[ids.i32()[p] * kDim + d]) << p << " " << d;
    }
}

Value EmbedConstantIds(Graph& g, const std::vector<Value>& in) {
  return ops::Embedding(g, in[0], g.Constant(Ids(), "ids"));
}

TEST(EmbeddingTest, GradientIsTheScatterAddOfFiniteDifferences) {
  Tensor table = RandomTensor({kRows, kDim}, 2);
  ExpectGradientsMatch(EmbedConstantIds, {&table});
}

// The table is also the output layer's weight [rows, dim] (a GPT's lm_head): its gradient is the
// sum of the embedding's and the linear layer's.
TEST(EmbeddingTest, ATiedTableGetsBothGradients) {
  Tensor table = RandomTensor({kRows, kDim}, 3);
  ExpectGradientsMatch([](Graph& g, const std::vector<Value>& in) {
    return ops::Linear(g, EmbedConstantIds(g, in), in[0]);
  }, {&table});
}

// Many ids on few rows: each element sums dozens of terms, in the same order with any threads.
TEST(EmbeddingTest, GradientBitsDoNotDependOnTheThreadCount) {
  constexpr int64_t kIds = 4096, kWide = 200;
  std::vector<int32_t> values(kIds);
  for (int64_t i = 0; i < kIds; ++i) values[i] = static_cast<int32_t>((i * 7919) % 37);
  const Tensor ids = Tensor::I32({kIds}, values);
  const Tensor dy = RandomTensor({kIds, kWide}, 4);
  std::vector<std::vector<Tensor>> results;
  for (int threads : {1, 2}) {
    omp_set_num_threads(threads);
    Graph g;
    const Value d = g.Input("dy", DType::kF32, {kIds, kWide});
    const Value i = g.Input("ids", DType::kI32, {kIds});
    const Value grad = g.Op1("EmbeddingGrad", {d, i}, {{"rows", int64_t{37}}});
    results.push_back(::dlf::testing::CompileRunFetch(g, {grad}, {.training = true}, {{d, &dy}, {i, &ids}}));
  }
  omp_set_num_threads(2);
  ::dlf::testing::ExpectSameValues(results[1], results[0]);
}

TEST(EmbeddingTest, BadIdsAreErrorsNamingThem) {
  const Tensor table = RandomTensor({kRows, kDim}, 5);
  const Tensor ids = Tensor::I32({3}, {1, 7, 0});
  Graph g;
  const Value t = g.Input("table", DType::kF32, {kRows, kDim});
  const Value i = g.Input("ids", DType::kI32, {3});
  const Value y = ops::Embedding(g, t, i);
  auto exec = Executor::Compile(g, {y}, {.training = false});
  ASSERT_TRUE(exec.ok()) << exec.status();
  const absl::Status run = (*exec)->Run({{t, &table}, {i, &ids}});
  EXPECT_THAT(run.message(), ::testing::HasSubstr("id 7 at position 1 is outside the table's rows [0, 7)"));

  Graph f;
  ops::Embedding(f, f.Input("table", DType::kF32, {kRows, kDim}), f.Input("ids", DType::kF32, {3}));
  EXPECT_THAT(f.status().message(), ::testing::HasSubstr("ids must be i32, found f32 [3]"));
}

}  // namespace
}  // namespace dlf
