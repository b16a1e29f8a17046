// The language-model task through the trainer: a GPT trained on a text's windows, counted in
// steps, evaluated every eval_interval steps on the validation windows; the same losses as
// models::GptTrainStep (which tests/models:gpt_train_test checks against nanoGPT in PyTorch);
// a resumed run equal to the uninterrupted one; the checkpoint's metadata.
#include "models/training/language_model.h"

#include <cmath>
#include <fstream>

#include "data/safetensors.h"
#include "data/text.h"
#include "gtest/gtest.h"
#include "models/gpt.h"
#include "models/gpt_train.h"
#include "models/registry.h"
#include "models/training/trainer.h"
#include "optim/schedule.h"
#include "tests/testing/temp_dir.h"

namespace dlf::training {
namespace {

constexpr int64_t kBlock = 8, kBatch = 4;

data::TextData Text() {
  const std::string path = ::dlf::testing::TempDir("lm") + "/text.txt";
  std::ofstream out(path);
  for (int i = 0; i < 30; ++i) out << "the quick brown fox jumps over the lazy dog " << i << ". ";
  out.close();
  absl::StatusOr<data::TextData> text = data::LoadText(path, data::Tokenizer::kCharacter, kBlock);
  EXPECT_TRUE(text.ok()) << text.status();
  return *std::move(text);
}

TrainConfig Config(const data::TextData& text, int64_t max_steps) {
  const models::ModelSpec& spec = **models::FindModel("gpt");
  TrainConfig c = ConfigForModel(spec, "text", static_cast<int>(text.vocabulary.size()));
  c.model_options.transformer = {.block_size = kBlock, .n_layer = 2, .n_head = 2, .n_embd = 16};
  c.run.input_shape = {kBlock};
  c.batch_size = kBatch;
  c.lr = 3e-3;
  c.min_lr = 3e-4;
  c.warmup_steps = 2;
  c.schedule = {.kind = optim::ScheduleKind::kCosine};
  c.optimizer = {.kind = optim::OptimizerKind::kAdamW, .beta1 = 0.9, .beta2 = 0.99, .weight_decay = 0.1};
  c.max_steps = max_steps;
  c.eval_interval = 4;
  c.eval_iters = 2;
  c.seed = 3;
  c.verbose = false;
  c.task_metadata[models::kGptConfigMetadata] = models::GptConfigRecord(models::GptConfigFor(c.model_options));
  c.task_metadata[data::kVocabularyMetadata] = text.vocabulary.Record();
  return c;
}

std::unique_ptr<Trainer> MustCreate(const TrainConfig& c, const data::TextData& text) {
  absl::StatusOr<std::unique_ptr<Trainer>> t = Trainer::Create(c, TrainData{.text = &text});
  EXPECT_TRUE(t.ok()) << t.status().message();
  return t.ok() ? *std::move(t) : nullptr;
}

TEST(LanguageModelTest, TrainsInStepsAndEvaluatesEveryInterval) {
  const data::TextData text = Text();
  std::unique_ptr<Trainer> t = MustCreate(Config(text, 12), text);
  ASSERT_NE(t, nullptr);
  ASSERT_TRUE(t->Run().ok());
  EXPECT_EQ(t->global_step(), 12);
  ASSERT_EQ(t->history().size(), 3u);  // evaluations after steps 4, 8 and 12
  for (const EpochMetrics& m : t->history()) {
    const double val = m.Get("val_loss");
    ASSERT_TRUE(std::isfinite(val));
    EXPECT_DOUBLE_EQ(m.Get("val_perplexity"), std::exp(val));
    EXPECT_DOUBLE_EQ(m.Get("val_bpc"), val / std::log(2.0));
    EXPECT_GT(m.Get("tokens_per_second"), 0);
  }
  // From about ln(vocabulary) down.
  EXPECT_LT(t->history().back().Get("val_loss"), t->history().front().Get("val_loss"));
  EXPECT_LT(t->history().front().Get("val_loss"), std::log(static_cast<double>(text.vocabulary.size())) + 0.5);
}

// The recipe callbacks go through the task: the EMA weights are evaluated on the validation
// windows, and best.safetensors can be chosen by them.
TEST(LanguageModelTest, EmaWeightsAreEvaluatedAndChooseTheBest) {
  const data::TextData text = Text();
  TrainConfig c = Config(text, 8);
  c.model_ema = true;
  c.model_ema_decay = 0.5;
  c.best_metric = "ema_val_loss";
  c.out_dir = ::dlf::testing::TempDir("lm_ema");
  std::unique_ptr<Trainer> t = MustCreate(c, text);
  ASSERT_NE(t, nullptr);
  ASSERT_TRUE(t->Run().ok());
  for (const EpochMetrics& m : t->history()) {
    EXPECT_TRUE(std::isfinite(m.Get("ema_val_loss")));
    EXPECT_NE(m.Get("ema_val_loss"), m.Get("val_loss"));
  }
  EXPECT_TRUE(data::ReadSafetensors(c.out_dir + "/best.safetensors").ok());
}

// The trainer's step is GptTrainStep's: the same initialization, windows, AdamW (decay on 2-D
// parameters only) and nanoGPT's schedule give the same losses, step by step.
TEST(LanguageModelTest, StepsEqualGptTrainStep) {
  const data::TextData text = Text();
  TrainConfig c = Config(text, 8);
  c.log_step_losses = false;
  std::unique_ptr<Trainer> t = MustCreate(c, text);
  ASSERT_NE(t, nullptr);
  ASSERT_TRUE(t->Run().ok());
  const models::GptConfig config = models::GptConfigFor(c.model_options);
  auto reference = models::GptTrainStep::Create(config, {.batch = kBatch, .clip_norm = 0, .seed = c.seed});
  ASSERT_TRUE(reference.ok()) << reference.status();
  auto schedule = optim::WarmupCosineLR(c.warmup_steps, c.max_steps, c.min_lr / c.lr);
  ASSERT_TRUE(schedule.ok());
  Tensor x(DType::kI32, {kBatch, kBlock}), y(DType::kI32, {kBatch, kBlock});
  ASSERT_EQ(t->step_losses().size(), 8u);
  for (int64_t s = 0; s < 8; ++s) {
    data::FillWindows(text.train, kBlock, c.seed, s, 0, kBatch, x.i32(), y.i32());
    absl::StatusOr<double> loss = (*reference)->Step(x, y, (*schedule)->LearningRate(c.lr, static_cast<double>(s)));
    ASSERT_TRUE(loss.ok()) << loss.status();
    EXPECT_NEAR(t->step_losses()[s], *loss, 1e-6) << "step " << s + 1;
  }
}

TEST(LanguageModelTest, AResumedRunEqualsTheUninterruptedOne) {
  const data::TextData text = Text();
  const std::string dir = ::dlf::testing::TempDir("lm_resume");
  TrainConfig c = Config(text, 12);
  c.lr_decay_steps = 12;  // the schedule's length, whatever max_steps stops the first part at
  c.out_dir = dir + "/straight";
  std::unique_ptr<Trainer> straight = MustCreate(c, text);
  ASSERT_TRUE(straight->Run().ok());
  TrainConfig first = c;
  first.out_dir = dir + "/resumed";
  first.max_steps = 6;  // mid-interval
  ASSERT_TRUE(MustCreate(first, text)->Run().ok());
  TrainConfig second = first;
  second.max_steps = 12;
  second.resume = true;
  std::unique_ptr<Trainer> resumed = MustCreate(second, text);
  const absl::Status run = resumed->Run();
  ASSERT_TRUE(run.ok()) << run.message();
  const std::vector<double>& a = straight->step_losses();
  const std::vector<double>& b = resumed->step_losses();
  ASSERT_EQ(b.size(), 6u);
  for (size_t i = 0; i < b.size(); ++i) EXPECT_EQ(b[i], a[6 + i]) << "step " << 7 + i;
  auto x = data::ReadSafetensors(c.out_dir + "/last.safetensors");
  auto y = data::ReadSafetensors(second.out_dir + "/last.safetensors");
  ASSERT_TRUE(x.ok() && y.ok());
  for (const auto& [name, tensor] : x->tensors) {
    ASSERT_TRUE(y->tensors.count(name)) << name;
    EXPECT_EQ(std::memcmp(tensor.raw(), y->tensors.at(name).raw(), tensor.num_bytes()), 0) << name;
  }
  EXPECT_EQ(x->metadata.at(models::kGptConfigMetadata), c.task_metadata.at(models::kGptConfigMetadata));
  EXPECT_EQ(x->metadata.at(data::kVocabularyMetadata), text.vocabulary.Record());
  EXPECT_EQ(resumed->history().back().Get("val_loss"), straight->history().back().Get("val_loss"));
}

}  // namespace
}  // namespace dlf::training
