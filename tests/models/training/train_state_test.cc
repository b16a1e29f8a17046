// TrainState: the position and running totals a run keeps, their encoding into checkpoint
// metadata and back, and the errors of a malformed one.
#include "models/training/train_state.h"

#include <cmath>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dlf::training {
namespace {

using ::testing::HasSubstr;

const std::vector<std::string> kSums = {"correct"};

TrainState ASavedState() {
  TrainState s;
  s.batch_size = 32;
  s.seed = 7;
  s.optimizer_kind = "sgd";
  s.optimizer.step = 5;
  s.optimizer.buffers["fc.weight/momentum"] = Tensor::F32({2}, {0.25f, -1.5f});
  s.AddStep(2.0, {10}, 32);
  s.AddStep(1.0, {20}, 32);
  s.FinishEpoch({.epoch = 1,
                 .values = {{"train_loss", 1.5}, {"train_accuracy", 30.0 / 64}, {"test_loss", 1.25},
                            {"test_accuracy", 0.5}, {"lr", 0.1}, {"epoch_seconds", 2.5}, {"images_per_second", 25.6}}});
  s.AddStep(0.1 / 3, {7}, 32);  // a value whose decimal form is long
  s.SkipStep();
  s.epoch_seconds = 1.0 / 3;
  s.best_score = 0.5;
  s.executor_step = 4;
  return s;
}

TEST(TrainStateTest, StepsAndEpochsMoveThePositionAndTheTotals) {
  const TrainState s = ASavedState();
  EXPECT_EQ(s.epoch, 1);
  EXPECT_EQ(s.step_in_epoch, 2);  // one taken, one skipped
  EXPECT_EQ(s.global_step, 4);
  EXPECT_EQ(s.epoch_seen, 32);
  EXPECT_EQ(s.epoch_sums, std::vector<double>{7});
  EXPECT_DOUBLE_EQ(s.epoch_loss_sum, 0.1 / 3 * 32);
  ASSERT_EQ(s.history.size(), 1u);
}

TEST(TrainStateTest, EncodeThenDecodeGivesTheSameStateExactly) {
  const TrainState s = ASavedState();
  data::TensorFile file;
  s.Encode(file, kSums);
  absl::StatusOr<TrainState> d = TrainState::Decode(file, "ckpt", kSums);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->epoch, s.epoch);
  EXPECT_EQ(d->step_in_epoch, s.step_in_epoch);
  EXPECT_EQ(d->global_step, s.global_step);
  EXPECT_EQ(d->executor_step, s.executor_step);
  EXPECT_EQ(d->epoch_loss_sum, s.epoch_loss_sum);  // bit-exact through "%.17g"
  EXPECT_EQ(d->epoch_seconds, s.epoch_seconds);
  EXPECT_EQ(d->best_score, s.best_score);
  EXPECT_EQ(d->batch_size, 32);
  EXPECT_EQ(d->seed, 7u);
  EXPECT_EQ(d->optimizer_kind, "sgd");
  EXPECT_EQ(d->optimizer.step, 5);
  EXPECT_EQ(d->optimizer.buffers.at("fc.weight/momentum").f32()[1], -1.5f);
  EXPECT_EQ(d->epoch_sums, s.epoch_sums);
  ASSERT_EQ(d->history.size(), 1u);
  EXPECT_EQ(d->history[0].values, s.history[0].values);  // names, order and values
}

TEST(TrainStateTest, AStepSumMissingFromTheCheckpointIsAnErrorNamingIt) {
  data::TensorFile file;
  ASavedState().Encode(file, kSums);
  EXPECT_EQ(file.metadata.at("epoch_correct"), "7");
  file.metadata.erase("epoch_correct");
  EXPECT_THAT(std::string(TrainState::Decode(file, "c.safetensors", kSums).status().message()),
              HasSubstr("c.safetensors: missing or malformed metadata 'epoch_correct'"));
}

// Checkpoints written before metrics had names keep rows of numbers in a fixed order.
TEST(TrainStateTest, AHistoryOfUnnamedRowsIsReadByPosition) {
  std::vector<EpochMetrics> h;
  ASSERT_TRUE(HistoryFromJson("[[1,1.5,0.46875,null,0.5,0.1,2.5,25.6],[2,1,0.5,1,0.75,0.1,2,30,0.9,0.8]]", h).ok());
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h[0].epoch, 1);
  EXPECT_EQ(h[0].values.size(), 7u);
  EXPECT_EQ(h[0].values[1].first, "train_accuracy");
  EXPECT_TRUE(std::isnan(h[0].Get("test_loss")));
  EXPECT_EQ(h[0].Get("images_per_second"), 25.6);
  EXPECT_EQ(h[1].Get("ema_test_accuracy"), 0.8);
  EXPECT_TRUE(std::isnan(h[0].Get("ema_test_accuracy")));  // absent
  std::vector<EpochMetrics> again;
  ASSERT_TRUE(HistoryFromJson(HistoryToJson(h), again).ok());
  EXPECT_EQ(again[1].values, h[1].values);
  EXPECT_TRUE(std::isnan(again[0].Get("test_loss")));  // NaN survives as null
}

TEST(TrainStateTest, AMissingOrMalformedKeyIsAnErrorNamingIt) {
  auto encoded = [] {
    data::TensorFile file;
    ASavedState().Encode(file, kSums);
    return file;
  };
  data::TensorFile no_history = encoded();
  no_history.metadata.erase("history");
  EXPECT_THAT(std::string(TrainState::Decode(no_history, "c.safetensors", kSums).status().message()),
              HasSubstr("c.safetensors: missing or malformed metadata 'history'"));
  data::TensorFile bad_step = encoded();
  bad_step.metadata["global_step"] = "four";
  EXPECT_THAT(std::string(TrainState::Decode(bad_step, "c.safetensors", kSums).status().message()),
              HasSubstr("missing or malformed metadata 'global_step'"));
  data::TensorFile negative = encoded();
  negative.metadata["epoch"] = "-1";
  EXPECT_THAT(std::string(TrainState::Decode(negative, "c.safetensors", kSums).status().message()),
              HasSubstr("negative position"));
}

}  // namespace
}  // namespace dlf::training
