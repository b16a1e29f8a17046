// The recipe features, each against what it promises: gradient accumulation makes the same
// updates as one big batch; the EMA is the moving average of the weights each update left;
// ReduceLROnPlateau and early stopping react to a test loss that stops improving; the LR
// range test sweeps exponentially and suggests a rate inside the sweep.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "data/safetensors.h"
#include "data/synthetic.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "models/layers.h"
#include "models/training/checkpoint.h"
#include "models/training/trainer.h"
#include "tests/models/training/tiny_model.h"
#include "tests/testing/temp_dir.h"

namespace dlf::training {
namespace {

using ::dlf::testing::TempDir;
using ::testing::HasSubstr;

using Data = TinyData;

std::unique_ptr<Trainer> MustCreate(const TrainConfig& c, const Data& d, bool with_test = true) {
  auto t = Trainer::Create(c, &d.train, with_test ? &d.test : nullptr);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *std::move(t) : nullptr;
}

std::map<std::string, Tensor> Weights(Trainer& t) {
  std::map<std::string, Tensor> out;
  for (Value v : t.graph().persistent_values()) out[t.graph().name(v)] = t.graph().parameter_value(v).Clone();
  return out;
}

double MaxRelativeDifference(const std::map<std::string, Tensor>& a, const std::map<std::string, Tensor>& b) {
  double worst = 0;
  for (const auto& [name, t] : a) {
    const Tensor& u = b.at(name);
    double scale = 1e-12, diff = 0;
    for (int64_t i = 0; i < t.num_elements(); ++i) {
      scale = std::max(scale, std::abs(static_cast<double>(t.f32()[i])));
      diff = std::max(diff, std::abs(static_cast<double>(t.f32()[i]) - u.f32()[i]));
    }
    worst = std::max(worst, diff / scale);
  }
  return worst;
}

TEST(GradAccumTest, MakesTheUpdatesOfOneBigBatch) {
  Data d;
  TrainConfig big = TinyTrainConfig();
  big.batch_size = 32;
  big.clip_norm = 0.5;  // the clipping factor must come from the accumulated batch's norm
  TrainConfig accumulated = big;
  accumulated.batch_size = 8;
  accumulated.grad_accum_steps = 4;
  auto a = MustCreate(big, d), b = MustCreate(accumulated, d);
  ASSERT_TRUE(a->Run().ok());
  ASSERT_TRUE(b->Run().ok());
  // 192 images: 6 updates of 32 per epoch, both ways; steps count updates.
  EXPECT_EQ(a->global_step(), 12);
  EXPECT_EQ(b->global_step(), 12);
  ASSERT_EQ(a->step_losses().size(), b->step_losses().size());
  for (size_t i = 0; i < a->step_losses().size(); ++i) {
    EXPECT_NEAR(a->step_losses()[i], b->step_losses()[i], 1e-5 * std::abs(a->step_losses()[i])) << "update " << i;
  }
  EXPECT_LT(MaxRelativeDifference(Weights(*a), Weights(*b)), 1e-5);
  EXPECT_NEAR(a->history().back().Get("train_loss"), b->history().back().Get("train_loss"), 1e-5);
  EXPECT_NEAR(a->history().back().Get("test_accuracy"), b->history().back().Get("test_accuracy"), 1e-9);
}

TEST(GradAccumTest, AnEpochThatDoesNotDivideEndsWithAShorterUpdate) {
  Data d;
  TrainConfig c = TinyTrainConfig();
  c.batch_size = 16;  // 12 batches per epoch
  c.grad_accum_steps = 5;  // updates of 5, 5 and 2 batches
  c.epochs = 1;
  auto t = MustCreate(c, d);
  ASSERT_TRUE(t->Run().ok());
  EXPECT_EQ(t->global_step(), 3);
  EXPECT_EQ(t->updates_per_epoch(), 3);
  EXPECT_EQ(t->history().size(), 1u);
}

TEST(ModelEmaTest, AveragesTheWeightsOfEveryUpdate) {
  Data d;
  TrainConfig c = TinyTrainConfig();
  c.epochs = 1;
  constexpr double kDecay = 0.75;
  // The weights after 0, 1, 2 and 3 updates, each from its own deterministic run.
  std::vector<std::map<std::string, Tensor>> after;
  for (int steps = 0; steps <= 3; ++steps) {
    TrainConfig run = c;
    run.max_steps = steps;
    auto t = MustCreate(run, d);
    if (steps > 0) {
      ASSERT_TRUE(t->Run().ok());
    }
    after.push_back(Weights(*t));
  }
  TrainConfig with_ema = c;
  with_ema.max_steps = 3;
  with_ema.model_ema = true;
  with_ema.model_ema_decay = kDecay;
  auto t = MustCreate(with_ema, d);
  ASSERT_TRUE(t->Run().ok());
  EXPECT_EQ(MaxRelativeDifference(Weights(*t), after[3]), 0) << "the average does not change training";
  ASSERT_EQ(t->state().ema.size(), after[0].size()) << "an average of every parameter and buffer";
  for (const auto& [name, ema] : t->state().ema) {
    for (int64_t i = 0; i < ema.num_elements(); ++i) {
      double expected = after[0].at(name).f32()[i];
      for (int k = 1; k <= 3; ++k) expected = kDecay * expected + (1 - kDecay) * after[k].at(name).f32()[i];
      ASSERT_NEAR(ema.f32()[i], expected, 1e-6 * (1 + std::abs(expected))) << name << "[" << i << "]";
    }
  }
}

TEST(ModelEmaTest, IsEvaluatedSavedAndResumedExactly) {
  Data d;
  const std::string dir = TempDir("ema");
  TrainConfig c = TinyTrainConfig();
  c.model_ema = true;
  c.model_ema_decay = 0.9;
  c.out_dir = dir + "/straight";
  auto straight = MustCreate(c, d);
  ASSERT_TRUE(straight->Run().ok());
  const EpochMetrics& last = straight->history().back();
  EXPECT_TRUE(std::isfinite(last.Get("ema_test_accuracy")));
  EXPECT_NE(last.Get("ema_test_loss"), last.Get("test_loss"));
  std::ifstream csv(c.out_dir + "/metrics.csv");
  std::string header;
  std::getline(csv, header);
  EXPECT_THAT(header, HasSubstr(",ema_test_loss,ema_test_accuracy"));

  // Stopped after 8 updates and resumed: the same average as the straight run.
  TrainConfig first = c;
  first.out_dir = dir + "/resumed";
  first.max_steps = 8;
  ASSERT_TRUE(MustCreate(first, d)->Run().ok());
  TrainConfig second = first;
  second.max_steps = 0;
  second.resume = true;
  auto resumed = MustCreate(second, d);
  ASSERT_TRUE(resumed->Run().ok());
  for (const auto& [name, ema] : straight->state().ema) {
    const Tensor& other = resumed->state().ema.at(name);
    ASSERT_EQ(std::memcmp(ema.raw(), other.raw(), ema.num_bytes()), 0) << name;
  }
  absl::StatusOr<Checkpoint> saved = ReadCheckpoint(second.out_dir + "/last.safetensors");
  ASSERT_TRUE(saved.ok()) << saved.status();
  EXPECT_EQ(EmaWeights(saved->file.tensors).size(), straight->state().ema.size());
}

// A rate so small that the test loss cannot improve by PyTorch's relative 1e-4.
TrainConfig StalledConfig(int64_t epochs) {
  TrainConfig c = TinyTrainConfig();
  c.lr = 1e-9;
  c.epochs = epochs;
  c.schedule.kind = optim::ScheduleKind::kConstant;
  return c;
}

TEST(PlateauTest, ReducesTheRateAfterPatienceEpochsWithoutImprovement) {
  Data d;
  TrainConfig c = StalledConfig(5);
  c.schedule.kind = optim::ScheduleKind::kPlateau;
  c.schedule.gamma = 0.5;
  c.plateau_patience = 1;
  auto t = MustCreate(c, d);
  ASSERT_TRUE(t->Run().ok());
  std::vector<double> lrs;
  for (const EpochMetrics& m : t->history()) lrs.push_back(m.Get("lr") / c.lr);
  // Epoch 1 sets the best; epochs 2 and 3 do not improve (2 > patience 1): the rate halves
  // for epoch 4; epochs 4 and 5 again.
  EXPECT_THAT(lrs, ::testing::ElementsAre(1, 1, 1, 0.5, 0.5));
  EXPECT_EQ(t->state().lr_factor, 0.25);
}

TEST(PlateauTest, NeedsATestSet) {
  Data d;
  TrainConfig c = StalledConfig(2);
  c.schedule.kind = optim::ScheduleKind::kPlateau;
  auto t = Trainer::Create(c, &d.train, nullptr);
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("need evaluation data"));
}

TEST(EarlyStoppingTest, StopsAfterPatienceEpochsWithoutImprovement) {
  Data d;
  TrainConfig c = StalledConfig(10);
  c.early_stopping_patience = 2;
  auto t = MustCreate(c, d);
  ASSERT_TRUE(t->Run().ok());
  EXPECT_EQ(t->history().size(), 3u);  // the best, then 2 epochs without improvement
  EXPECT_THAT(t->stop_reason(), HasSubstr("has not improved"));
}

TEST(EarlyStoppingTest, DoesNotStopARunThatImproves) {
  Data d;
  TrainConfig c = TinyTrainConfig();
  c.epochs = 4;
  c.early_stopping_patience = 3;
  auto t = MustCreate(c, d);
  ASSERT_TRUE(t->Run().ok());
  EXPECT_EQ(t->history().size(), 4u);
  EXPECT_TRUE(t->stop_reason().empty());
}

TEST(LrFinderTest, SweepsExponentiallyAndSuggestsARateInside) {
  Data d;
  const std::string dir = TempDir("lr_finder");
  TrainConfig c = TinyTrainConfig();
  c.out_dir = dir;
  c.schedule.kind = optim::ScheduleKind::kConstant;
  c.epochs = 1000;
  c.skip_nonfinite = true;
  c.lr_finder = {.enabled = true, .start = 1e-5, .end = 1e2, .steps = 30};
  auto t = MustCreate(c, d, false);
  ::testing::internal::CaptureStdout();
  ASSERT_TRUE(t->Run().ok());
  const std::string printed = ::testing::internal::GetCapturedStdout();
  std::ifstream csv(dir + "/lr_finder.csv");
  std::string line;
  std::getline(csv, line);
  EXPECT_EQ(line, "lr,loss,smoothed_loss");
  std::vector<double> lrs, smoothed;
  while (std::getline(csv, line)) {
    lrs.push_back(std::stod(line.substr(0, line.find(','))));
    smoothed.push_back(std::stod(line.substr(line.rfind(',') + 1)));
  }
  ASSERT_GE(lrs.size(), 10u);
  // fastai's valley (lr_find's default suggestion), computed here from the written curve.
  const int64_t n = static_cast<int64_t>(smoothed.size());
  std::vector<int64_t> falling(n, 1);  // the longest falling run of points ending at i
  int64_t run_start = 0, run_end = 0;
  for (int64_t i = 1; i < n; ++i) {
    for (int64_t j = 0; j < i; ++j) {
      if (smoothed[i] < smoothed[j]) falling[i] = std::max(falling[i], falling[j] + 1);
      if (falling[run_end] < falling[i]) run_end = i, run_start = i - falling[i];
    }
  }
  const double third = (run_end - run_start) / 3.0;
  const double valley = lrs[run_start + static_cast<int64_t>(third) + static_cast<int64_t>(third / 2)];
  const size_t at = printed.find("suggested lr ");
  ASSERT_NE(at, std::string::npos) << printed;
  const double suggested = std::stod(printed.substr(at + 13));
  EXPECT_NEAR(suggested, valley, 5e-3 * valley) << printed;  // printed with 3 digits; next rate is 1.74x
  EXPECT_GT(suggested, lrs.front());
  EXPECT_LT(suggested, lrs.back());
  EXPECT_LE(lrs.size(), 30u);
  EXPECT_NEAR(lrs[0], 1e-5, 1e-10);
  const double ratio = std::pow(1e7, 1.0 / 29);
  for (size_t i = 1; i < lrs.size(); ++i) EXPECT_NEAR(lrs[i] / lrs[i - 1], ratio, 1e-3) << i;
  EXPECT_TRUE(std::filesystem::exists(dir + "/lr_finder.svg"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/last.safetensors")) << "a range test is not a training run";
}

// The soft-target head weighs the loss linearly in the targets: on one batch at fixed weights,
// targets 0.7 one-hot(a) + 0.3 one-hot(b) give 0.7 of the loss with labels a plus 0.3 of the
// loss with labels b (the hard-label head's, from a trainer without mixing).
TEST(MixingRecipeTest, SoftTargetsWeighTheLossLinearly) {
  Data d;
  TrainConfig mixing = TinyTrainConfig();
  mixing.mixup_alpha = 0.2;
  auto soft = MustCreate(mixing, d), hard = MustCreate(TinyTrainConfig(), d);
  data::Batch batch{Tensor(DType::kF32, {16, 1, 8, 8}), Tensor(DType::kI32, {16})};
  for (int64_t i = 0; i < batch.images.num_elements(); ++i) batch.images.f32()[i] = (i % 11) * 0.2f - 1;
  batch.targets = Tensor(DType::kF32, {16, 10});
  std::fill(batch.targets.f32(), batch.targets.f32() + 160, 0.0f);
  std::vector<int32_t> a(16), b(16);
  for (int i = 0; i < 16; ++i) {
    a[i] = i % 10, b[i] = (3 * i + 1) % 10;
    batch.targets.f32()[i * 10 + a[i]] += 0.7f;
    batch.targets.f32()[i * 10 + b[i]] += 0.3f;
  }
  ASSERT_TRUE(soft->TrainStep(batch, 0).ok());
  const auto hard_loss = [&](const std::vector<int32_t>& labels) {
    std::copy(labels.begin(), labels.end(), batch.labels.i32());
    EXPECT_TRUE(hard->TrainStep(batch, 0).ok());
    return hard->step_losses().back();
  };
  const double la = hard_loss(a), lb = hard_loss(b);
  EXPECT_NEAR(soft->step_losses()[0], 0.7 * la + 0.3 * lb, 1e-5) << la << " " << lb;
}

// With mixup and cutmix on, the trainer trains on the loader's mixed batches: its first step's
// loss (same weights, same images before mixing) is not the unmixed run's.
TEST(MixingRecipeTest, TheTrainerTrainsOnMixedBatches) {
  Data d;
  TrainConfig c = TinyTrainConfig();
  c.max_steps = 1;
  auto plain = MustCreate(c, d);
  c.mixup_alpha = 0.2;
  c.cutmix_alpha = 1.0;
  auto mixed = MustCreate(c, d);
  ASSERT_TRUE(plain->Run().ok());
  ASSERT_TRUE(mixed->Run().ok());
  ASSERT_EQ(plain->step_losses().size(), 1u);
  ASSERT_EQ(mixed->step_losses().size(), 1u);
  EXPECT_GT(std::fabs(mixed->step_losses()[0] - plain->step_losses()[0]), 1e-3)
      << plain->step_losses()[0] << " " << mixed->step_losses()[0];
}

TEST(MixingRecipeTest, MixupAndCutmixTrainOnSoftTargets) {
  Data d;
  TrainConfig c = TinyTrainConfig();
  c.epochs = 3;
  c.mixup_alpha = 0.2;
  c.cutmix_alpha = 1.0;
  c.label_smoothing = 0.1;
  auto t = MustCreate(c, d);
  ASSERT_TRUE(t->Run().ok());
  for (const EpochMetrics& m : t->history()) EXPECT_TRUE(std::isfinite(m.Get("train_loss")));
  EXPECT_LT(t->history().back().Get("test_loss"), t->history().front().Get("test_loss"));
  c.mixup_alpha = -1;
  EXPECT_THAT(std::string(Trainer::Create(c, &d.train, &d.test).status().message()),
              HasSubstr("--mixup_alpha and --cutmix_alpha must be >= 0"));
}

}  // namespace
}  // namespace dlf::training
