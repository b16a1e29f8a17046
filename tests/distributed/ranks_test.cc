// Runs on every rank of `mpirun -np 2` (distributed_test launches it): the collectives, the
// gradient reducer and the replica check, in one process per rank. Every test is collective:
// all ranks run the same tests in the same order.
#include <cmath>
#include <memory>
#include <vector>

#include "data/synthetic.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "models/registry.h"
#include "models/training/distributed/communicator.h"
#include "models/training/distributed/gradient_reducer.h"
#include "models/training/trainer.h"

namespace dlf::training {
namespace {

using ::testing::HasSubstr;

Communicator* comm = nullptr;

TEST(RanksTest, SumsAcrossRanks) {
  ASSERT_EQ(comm->size(), 2);
  std::vector<float> a(1000), b(3);
  for (int i = 0; i < 1000; ++i) a[i] = static_cast<float>(comm->rank() + 1) * i;
  for (int i = 0; i < 3; ++i) b[i] = static_cast<float>(comm->rank() == 0 ? i : 10 * i);
  ASSERT_TRUE(comm->SumF32({{a.data(), 1000}, {b.data(), 3}}, "test", 0).ok());
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(a[i], 3.0f * i);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(b[i], 11.0f * i);
  double d[] = {0.25 * comm->rank(), 1.0};
  ASSERT_TRUE(comm->SumF64(d, 2, "test", 0).ok());
  EXPECT_EQ(d[0], 0.25);
  EXPECT_EQ(d[1], 2.0);
  uint64_t low = 0, high = 0;
  ASSERT_TRUE(comm->MinMax(100 + comm->rank(), low, high, "test", 0).ok());
  EXPECT_EQ(low, 100u);
  EXPECT_EQ(high, 101u);
}

// bf16 on the wire: the sum is formed in f32 and rounded once (to nearest even).
TEST(RanksTest, Bf16SumRoundsTheF32Sum) {
  // 1 + 2^-7 on each rank (exact in bf16): the f32 sum 2 + 2^-6 is exact in bf16 too.
  // 1 and 2^-8: 1 + 2^-8 lies halfway between bf16 neighbours and rounds to even (1).
  const uint16_t one = 0x3f80, one_plus = 0x3f81, eighth_ulp = 0x3b80;  // 1, 1 + 2^-7, 2^-8
  std::vector<uint16_t> v = {one_plus, comm->rank() == 0 ? one : eighth_ulp};
  ASSERT_TRUE(comm->SumBf16(v.data(), 2, "test", 0).ok());
  EXPECT_EQ(v[0], 0x4001);  // 2 + 2^-6
  EXPECT_EQ(v[1], one);
}

TEST(RanksTest, AgreePrintsOneMessage) {
  EXPECT_TRUE(comm->Agree(absl::OkStatus()).ok());
  const absl::Status only_rank1 =
      comm->Agree(comm->rank() == 1 ? absl::NotFoundError("no file") : absl::OkStatus());
  if (comm->rank() == 1) {
    EXPECT_EQ(only_rank1.message(), "rank 1: no file");
  } else {
    EXPECT_TRUE(absl::IsCancelled(only_rank1));
    EXPECT_EQ(only_rank1.message(), "");
  }
  const absl::Status all = comm->Agree(absl::InvalidArgumentError("bad flag"));
  EXPECT_EQ(all.message(), comm->is_root() ? "bad flag" : "");
}

// Five gradients finished by kernels 3, 1, 4, 1 and 5, buckets of 8 floats: the reducer sends
// [1, 3] (kernel 1) then [0, 2] (kernel 4) then [4] (kernel 5), each as soon as its last
// gradient is final, and leaves the mean over the ranks.
TEST(RanksTest, ReducerAveragesEveryGradient) {
  const std::vector<int64_t> sizes = {5, 4, 3, 4, 2};
  std::vector<std::vector<float>> grads;
  std::vector<float*> pointers;
  for (size_t g = 0; g < sizes.size(); ++g) {
    grads.emplace_back(sizes[g]);
    pointers.push_back(grads.back().data());
  }
  for (bool bf16 : {false, true}) {
    for (bool overlap : {false, true}) {
      GradientReducer reducer(*std::move(comm->Duplicate()), pointers, sizes, {3, 1, 4, 1, 5},
                              {.bucket_bytes = 8 * 4, .bf16 = bf16, .overlap = overlap});
      EXPECT_EQ(reducer.num_buckets(), 3);
      for (int step = 0; step < 2; ++step) {
        for (size_t g = 0; g < sizes.size(); ++g) {
          for (int64_t i = 0; i < sizes[g]; ++i) grads[g][i] = static_cast<float>((comm->rank() + 1) * (g + i + step));
        }
        reducer.BeginStep(step);
        for (int kernel = 0; kernel <= 5; ++kernel) reducer.KernelFinished(kernel);
        ASSERT_TRUE(reducer.FinishStep().ok());
        for (size_t g = 0; g < sizes.size(); ++g) {
          for (int64_t i = 0; i < sizes[g]; ++i) {
            ASSERT_EQ(grads[g][i], 1.5f * (g + i + step)) << "gradient " << g << " element " << i;
          }
        }
      }
    }
  }
}

// Ranks that drift apart are caught by the parameter check, which names the step.
TEST(RanksTest, ReplicaCheckFindsDifferentParameters) {
  const models::ModelSpec* spec = *models::FindModel("lenet");
  const data::Dataset train = data::MakeSyntheticDataset(64, 1, 28, 10, 1);
  TrainConfig c = ConfigForModel(*spec, "synthetic", 10);
  c.batch_size = 16;
  c.verbose = false;
  c.comm = comm;
  auto trainer = Trainer::Create(c, &train, nullptr);
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  data::Batch batch;
  batch.images = Tensor(DType::kF32, {8, 1, 28, 28});
  batch.images.Fill(0.1f * (comm->rank() + 1));  // different data, averaged gradients
  batch.labels = Tensor(DType::kI32, {8});
  for (int i = 0; i < 8; ++i) batch.labels.i32()[i] = i;
  batch.sample_offset = 8 * comm->rank();
  for (int step = 0; step < 2; ++step) ASSERT_TRUE((*trainer)->TrainStep(batch, 0.01).ok());
  EXPECT_TRUE((*trainer)->VerifyReplicas().ok());
  if (comm->rank() == 1) {
    Graph& g = (*trainer)->graph();
    g.parameter_value(g.parameters()[0]).f32()[0] += 1e-6f;
  }
  const absl::Status s = (*trainer)->VerifyReplicas();
  EXPECT_TRUE(absl::IsDataLoss(s));
  EXPECT_THAT(s.message(), HasSubstr("after step 2 the ranks hold different parameters"));
}

}  // namespace
}  // namespace dlf::training

int main(int argc, char** argv) {
  auto comm = dlf::training::Communicator::Create(30);
  if (!comm.ok()) return 2;
  dlf::training::comm = comm->get();
  ::testing::InitGoogleTest(&argc, argv);
  const int failed = RUN_ALL_TESTS();
  return failed;
}
