// The parts of the training application on their own: the training step's gradient norm and
// accumulation, the single-process strategy, and the checkpoint saver's choices (best by a
// chosen metric, the last N epochs).
#include <cmath>
#include <filesystem>

#include "data/synthetic.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "models/layers.h"
#include "models/training/parallel.h"
#include "models/training/train_step.h"
#include "models/training/trainer.h"
#include "optim/clip.h"
#include "tests/models/training/tiny_model.h"
#include "tests/testing/temp_dir.h"

namespace dlf::training {
namespace {

using ::dlf::testing::TempDir;
namespace fs = std::filesystem;

using Data = TinyData;

data::Batch FirstBatch(const data::Dataset& d, const TrainConfig& c) {
  data::LoaderOptions o{.batch_size = c.batch_size, .shuffle = false};
  o.normalization = {c.run.mean, c.run.std};
  auto loader = data::Loader::Create(&d, o);
  loader.value()->StartEpoch(0, 0);
  const data::Batch* b = loader.value()->Next();
  return {b->images.Clone(), b->labels.Clone(), b->sample_offset};
}

TEST(TrainingStepTest, TheInCacheNormIsTheGlobalNorm) {
  Data d;
  const TrainConfig c = TinyTrainConfig();
  auto step = TrainingStep::Create(c, c.batch_size);
  ASSERT_TRUE(step.ok()) << step.status();
  std::unique_ptr<ParallelStrategy> alone = MakeSingleProcess();
  absl::StatusOr<double> norm = alone->ComputeGradients(**step, ImageBatch(FirstBatch(d.train, c)), 0);
  ASSERT_TRUE(norm.ok()) << norm.status();
  EXPECT_GT(*norm, 0);
  EXPECT_NEAR(*norm, optim::GlobalNorm((*step)->grad_tensors()), 1e-9 * *norm);
  EXPECT_TRUE(std::isfinite((*step)->loss()));
}

TEST(TrainingStepTest, AccumulatesGradientsAsTheirSum) {
  Data d;
  const TrainConfig c = TinyTrainConfig();
  auto step = TrainingStep::Create(c, c.batch_size);
  ASSERT_TRUE(step.ok()) << step.status();
  TrainingStep& s = **step;
  const data::Batch batch = FirstBatch(d.train, c);
  ASSERT_TRUE(s.Run(ImageBatch(batch), [](int) {}).ok());
  s.AccumulateGradients(true);
  ASSERT_TRUE(s.Run(ImageBatch(batch), [](int) {}).ok());  // the same batch: the sum is twice the gradient
  s.AccumulateGradients(false);
  for (size_t i = 0; i < s.grad_tensors().size(); ++i) {
    const Tensor& g = *s.grad_tensors()[i];
    const Tensor& sum = *s.accumulated_grads()[i];
    for (int64_t k = 0; k < g.num_elements(); ++k) ASSERT_FLOAT_EQ(sum.f32()[k], 2 * g.f32()[k]);
  }
  EXPECT_NEAR(s.AccumulatedNorm(), 2 * optim::GlobalNorm(s.grad_tensors()), 1e-6);
  s.AccumulateGradients(true);  // a new update starts from this run's gradients alone
  EXPECT_FLOAT_EQ(s.accumulated_grads()[0]->f32()[0], s.grad_tensors()[0]->f32()[0]);
}

TEST(SingleProcessTest, LeavesEverythingAsItIs) {
  std::unique_ptr<ParallelStrategy> alone = MakeSingleProcess();
  EXPECT_EQ(alone->world_size(), 1);
  EXPECT_TRUE(alone->is_root());
  std::vector<double> values = {1.5, 2.5};
  ASSERT_TRUE(alone->Sum(values, "test", 0).ok());
  EXPECT_THAT(values, ::testing::ElementsAre(1.5, 2.5));
  EXPECT_EQ(MakeParallelStrategy(TinyTrainConfig())->world_size(), 1);
}

TEST(CheckpointSaverTest, KeepsTheLastNEpochsAndTheBestByTheChosenMetric) {
  Data d;
  TrainConfig c = TinyTrainConfig();
  c.epochs = 4;
  c.out_dir = TempDir("saver");
  c.keep_checkpoints = 2;
  c.best_metric = "test_loss";
  auto t = Trainer::Create(c, &d.train, &d.test);
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_TRUE((*t)->Run().ok());
  EXPECT_FALSE(fs::exists(c.out_dir + "/epoch_001.safetensors"));
  EXPECT_FALSE(fs::exists(c.out_dir + "/epoch_002.safetensors"));
  EXPECT_TRUE(fs::exists(c.out_dir + "/epoch_003.safetensors"));
  EXPECT_TRUE(fs::exists(c.out_dir + "/epoch_004.safetensors"));
  size_t best = 0;
  const auto& h = (*t)->history();
  for (size_t e = 1; e < h.size(); ++e) {
    if (h[e].Get("test_loss") < h[best].Get("test_loss")) best = e;
  }
  auto saved = ReadCheckpoint(c.out_dir + "/best.safetensors");
  ASSERT_TRUE(saved.ok()) << saved.status();
  EXPECT_EQ(saved->file.metadata.at("epochs_completed"), std::to_string(best + 1));
  EXPECT_DOUBLE_EQ((*t)->state().best_score, -h[best].Get("test_loss"));
}

TEST(CheckpointSaverTest, RefusesAnUnknownMetric) {
  TrainConfig c = TinyTrainConfig();
  c.best_metric = "top5";
  EXPECT_THAT(std::string(ValidateTrainConfig(c).message()), ::testing::HasSubstr("--best_metric must be"));
  c.best_metric = "ema_test_accuracy";
  EXPECT_THAT(std::string(ValidateTrainConfig(c).message()), ::testing::HasSubstr("needs --model_ema"));
}

}  // namespace
}  // namespace dlf::training
