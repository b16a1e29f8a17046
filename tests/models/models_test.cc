#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "data/synthetic.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "models/evaluator.h"
#include "models/layers.h"
#include "models/models.h"
#include "models/safetensors.h"
#include "models/trainer.h"
#include "ops/ops.h"
#include "tests/testing/temp_dir.h"

namespace dlf::models {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

using ::dlf::testing::TempDir;

std::string Message(const absl::Status& s) { return std::string(s.message()); }

TEST(AlexNetTest, SeedPresetHasTheLayerListShapesAndPyTorchNames) {
  Graph g;
  Value x = g.Input("images", DType::kF32, {2, 3, 32, 32});
  Value logits = AlexNetSeed(g, x, {});
  ASSERT_TRUE(g.status().ok()) << g.status();
  EXPECT_EQ(g.shape(logits), (Shape{2, 10}));
  const std::vector<std::pair<std::string, Shape>> expected = {
      {"features.0.weight", {96, 3, 11, 11}},   {"features.3.weight", {256, 96, 5, 5}},
      {"features.6.weight", {384, 256, 3, 3}},  {"features.8.weight", {384, 384, 3, 3}},
      {"features.10.weight", {256, 384, 3, 3}}, {"classifier.1.weight", {4096, 256}},
      {"classifier.4.weight", {4096, 4096}},    {"classifier.6.weight", {10, 4096}}};
  int64_t count = 0;
  for (const auto& [name, shape] : expected) {
    absl::StatusOr<Value> p = g.FindParameter(name);
    ASSERT_TRUE(p.ok()) << name;
    EXPECT_EQ(g.shape(*p), shape) << name;
    count += NumElements(shape) + shape[0];  // + bias
  }
  EXPECT_EQ(CountParameters(g), count);
  EXPECT_EQ(g.parameters().size(), 16u);
}

TEST(AlexNetTest, CifarPresetAndLrnBuild) {
  Graph g;
  Value x = g.Input("images", DType::kF32, {2, 3, 32, 32});
  Value logits = AlexNetCifar(g, x, {.lrn = true});
  ASSERT_TRUE(g.status().ok()) << g.status();
  EXPECT_EQ(g.shape(logits), (Shape{2, 10}));
  EXPECT_EQ(g.shape(*g.FindParameter("classifier.1.weight")), (Shape{1024, 128 * 4 * 4}));
}

TEST(AlexNetTest, WrongInputSizeFailsAtBuildTimeNamingTheNode) {
  Graph g;
  Value x = g.Input("images", DType::kF32, {2, 3, 8, 8});
  AlexNetSeed(g, x, {});
  EXPECT_THAT(Message(g.status()), HasSubstr("(MaxPool2D) with inputs 'Relu_4' f32[2, 96, 1, 1]: height: kernel 3 is larger than the padded input 1 + 2*0 = 1"));
}

// A small model with dropout, so resuming must also restore the dropout stream.
Value TinyNet(Graph& g, Value images, const ModelOptions& o) {
  Sequential s(g, "net", images);
  s.Flatten().Linear(32).Relu().Dropout(o.dropout).Linear(o.num_classes, false);
  return s.output();
}

TrainConfig TinyConfig(const std::string& out_dir) {
  TrainConfig c;
  c.model_name = "tiny";
  c.build = TinyNet;
  c.model_options.dropout = 0.3;
  c.batch_size = 16;
  c.epochs = 3;
  c.lr = 0.05;
  c.augment = true;
  c.seed = 7;
  c.normalization = {{0.5f}, {0.25f}};
  c.out_dir = out_dir;
  c.eval_batch_size = 48;  // 100 test images: batches of 48, 48 and 4
  c.verbose = false;
  return c;
}

struct Data {
  data::Dataset train = data::MakeSyntheticDataset(200, 1, 8, 10, 1);
  data::Dataset test = data::MakeSyntheticDataset(100, 1, 8, 10, 2);
};

TEST(TrainerTest, LossFallsOnGeneratedData) {
  Data d;
  TrainConfig c = TinyConfig("");
  c.epochs = 8;
  c.augment = false;  // the classes are told apart by position
  auto t = Trainer::Create(c, &d.train, &d.test);
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_TRUE((*t)->Run().ok());
  const auto& h = (*t)->history();
  ASSERT_EQ(h.size(), 8u);
  EXPECT_LT(h.back().train_loss, 0.5 * h.front().train_loss);
  EXPECT_GT(h.back().test_accuracy, 0.5);  // chance is 0.1
}

TEST(TrainerTest, LeNetLossFallsOnGeneratedData) {
  data::Dataset train = data::MakeSyntheticDataset(256, 1, 28, 10, 3);
  TrainConfig c = TinyConfig("");
  c.build = LeNet5;
  c.model_name = "lenet";
  c.batch_size = 32;
  c.epochs = 4;
  c.augment = false;
  auto t = Trainer::Create(c, &train, nullptr);
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_TRUE((*t)->Run().ok());
  const std::vector<double>& l = (*t)->step_losses();
  ASSERT_EQ(l.size(), 32u);
  EXPECT_LT(l[28] + l[29] + l[30] + l[31], 0.6 * (l[0] + l[1] + l[2] + l[3]));
}

TEST(TrainerTest, CheckpointRoundTripGivesIdenticalOutputs) {
  Data d;
  const std::string dir = TempDir("roundtrip");
  TrainConfig c = TinyConfig(dir);
  c.epochs = 1;
  auto t = Trainer::Create(c, &d.train, &d.test);
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE((*t)->Run().ok());
  absl::StatusOr<EvalResult> direct = (*t)->Evaluate(d.test);
  ASSERT_TRUE(direct.ok());
  absl::StatusOr<TensorFile> file = ReadSafetensors(dir + "/last.safetensors");
  ASSERT_TRUE(file.ok()) << file.status();
  Evaluator fresh(TinyNet, c.model_options, {1, 8, 8}, 48, c.normalization);
  ASSERT_TRUE(fresh.LoadWeights(file->tensors, "last").ok());
  absl::StatusOr<EvalResult> loaded = fresh.Evaluate(d.test);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->loss, direct->loss);
  EXPECT_EQ(loaded->confusion, direct->confusion);
  EXPECT_TRUE(fs::exists(dir + "/best.safetensors"));
  EXPECT_TRUE(fs::exists(dir + "/metrics.csv"));
  EXPECT_TRUE(fs::exists(dir + "/learning_curve.svg"));
  EXPECT_FALSE(fs::exists(dir + "/last.safetensors.tmp"));
}

TEST(TrainerTest, ResumeReproducesTheLossesOfAnUninterruptedRun) {
  Data d;  // 200 images / batch 16 = 12 steps per epoch; stop mid-epoch 2 at step 17
  auto straight = Trainer::Create(TinyConfig(""), &d.train, &d.test);
  ASSERT_TRUE(straight.ok());
  ASSERT_TRUE((*straight)->Run().ok());
  const std::vector<double> expected = (*straight)->step_losses();
  ASSERT_EQ(expected.size(), 36u);

  const std::string dir = TempDir("resume");
  TrainConfig first = TinyConfig(dir);
  first.max_steps = 17;
  auto a = Trainer::Create(first, &d.train, &d.test);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE((*a)->Run().ok());
  ASSERT_EQ((*a)->step_losses().size(), 17u);

  TrainConfig second = TinyConfig(dir);
  second.resume = true;
  auto b = Trainer::Create(second, &d.train, &d.test);
  ASSERT_TRUE(b.ok());
  ASSERT_TRUE((*b)->Run().ok());
  const std::vector<double>& resumed = (*b)->step_losses();
  ASSERT_EQ(resumed.size(), 19u);
  for (size_t i = 0; i < resumed.size(); ++i) EXPECT_EQ(resumed[i], expected[17 + i]) << "step " << 18 + i;
  ASSERT_EQ((*b)->history().size(), 3u);
  for (int e = 0; e < 3; ++e) {
    EXPECT_EQ((*b)->history()[e].train_loss, (*straight)->history()[e].train_loss);
    EXPECT_EQ((*b)->history()[e].test_accuracy, (*straight)->history()[e].test_accuracy);
  }
}

// A batch of 16 zero images but for one pixel. With a NaN pixel ReLU turns the NaN activations
// to 0, so the loss stays finite, but the first layer's weight gradient (dy^T x) is NaN: only a
// check of the gradients catches it.
data::Batch BatchWithPixel(float value) {
  data::Batch b{Tensor(DType::kF32, {16, 1, 8, 8}), Tensor(DType::kI32, {16})};
  b.images.f32()[5] = value;
  return b;
}

std::unique_ptr<Trainer> SkippingTrainer(const Data& d) {
  TrainConfig c = TinyConfig("");
  c.skip_nonfinite = true;
  auto t = Trainer::Create(c, &d.train, &d.test);
  return t.ok() ? *std::move(t) : nullptr;
}

TEST(TrainerTest, NonFiniteStepStopsNamingTheStepAndTensor) {
  Data d;
  auto t = Trainer::Create(TinyConfig(""), &d.train, &d.test);
  ASSERT_TRUE(t.ok());
  const absl::Status s = (*t)->TrainStep(BatchWithPixel(NAN), 0.05);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(Message(s), HasSubstr("non-finite values at step 1 (epoch 1): the loss is "));
  EXPECT_THAT(Message(s), HasSubstr("first non-finite tensor: the gradient of 'net.0.weight'"));
  EXPECT_THAT(Message(s), HasSubstr("--skip_nonfinite"));
}

TEST(TrainerTest, SkipNonFiniteLeavesTheWeightsAndGoesOn) {
  Data d;
  std::unique_ptr<Trainer> t = SkippingTrainer(d);
  ASSERT_NE(t, nullptr);
  Tensor& w = t->graph().parameter_value(*t->graph().FindParameter("net.0.weight"));
  const Tensor before = w.Clone();
  ASSERT_TRUE(t->TrainStep(BatchWithPixel(NAN), 0.05).ok());
  EXPECT_EQ(t->skipped_steps(), 1);
  EXPECT_EQ(t->global_step(), 1);
  EXPECT_EQ(std::memcmp(before.raw(), w.raw(), w.num_bytes()), 0);
  ASSERT_TRUE(t->TrainStep(BatchWithPixel(0.5f), 0.05).ok());
  EXPECT_EQ(t->skipped_steps(), 1);
  EXPECT_NE(std::memcmp(before.raw(), w.raw(), w.num_bytes()), 0);
}

TEST(TrainerTest, NonFiniteWeightsStopEvenWhenSkipping) {
  Data d;
  std::unique_ptr<Trainer> t = SkippingTrainer(d);
  ASSERT_NE(t, nullptr);
  Graph& g = t->graph();
  g.parameter_value(*g.FindParameter("net.3.weight")).f32()[0] = INFINITY;
  const absl::Status s = t->TrainStep(BatchWithPixel(0.5f), 0.05);
  EXPECT_THAT(Message(s), HasSubstr("first non-finite tensor: parameter 'net.3.weight'"));
  EXPECT_THAT(Message(s), Not(HasSubstr("--skip_nonfinite")));
}

TEST(CheckpointTest, CorruptOrMismatchedCheckpointsAreClearErrors) {
  Data d;
  const std::string dir = TempDir("corrupt");
  TrainConfig c = TinyConfig(dir);
  c.epochs = 1;
  auto t = Trainer::Create(c, &d.train, &d.test);
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE((*t)->Run().ok());
  const std::string good = dir + "/last.safetensors";
  std::ifstream in(good, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());

  auto write = [&](const std::string& name, const std::string& content) {
    std::ofstream(dir + "/" + name, std::ios::binary) << content;
    return dir + "/" + name;
  };
  EXPECT_THAT(Message((*t)->LoadCheckpoint(write("short", "abc"), false)), HasSubstr("only 3 bytes"));
  EXPECT_THAT(Message((*t)->LoadCheckpoint(write("cut", bytes.substr(0, bytes.size() - 10)), false)),
              HasSubstr("data_offsets"));
  std::string garbage = bytes;
  garbage[8] = '#';  // the header's opening brace
  EXPECT_THAT(Message((*t)->LoadCheckpoint(write("garbage", garbage), false)),
              HasSubstr("header is not JSON"));
  EXPECT_THAT(Message((*t)->LoadCheckpoint(dir + "/nope.safetensors", false)), HasSubstr("cannot open"));

  // A checkpoint of another model.
  TrainConfig other = TinyConfig("");
  other.model_options.num_classes = 10;
  other.build = [](Graph& g, Value x, const ModelOptions& o) {
    Sequential s(g, "net", x);
    s.Flatten().Linear(64).Relu().Linear(o.num_classes, false);
    return s.output();
  };
  auto t2 = Trainer::Create(other, &d.train, &d.test);
  ASSERT_TRUE(t2.ok());
  EXPECT_THAT(Message((*t2)->LoadCheckpoint(good, false)),
              HasSubstr("parameter 'net.0.weight' is f32[32, 64], the model expects f32[64, 64]"));
  other.model_name = "other";
  auto t3 = Trainer::Create(other, &d.train, &d.test);
  EXPECT_THAT(Message((*t3)->LoadCheckpoint(good, false)),
              HasSubstr("a checkpoint of model 'tiny', but the model is 'other'"));
  // Resuming exactly needs the same batch size.
  TrainConfig bigger = TinyConfig(dir);
  bigger.batch_size = 20;
  auto t4 = Trainer::Create(bigger, &d.train, &d.test);
  EXPECT_THAT(Message((*t4)->LoadCheckpoint(good, true)), HasSubstr("saved with --batch_size=16"));
}

TEST(SafetensorsTest, WritesTheStandardLayout) {
  const std::string dir = TempDir("st");
  TensorFile f;
  f.tensors["b"] = Tensor::F32({2}, {1.5f, -2.0f});
  f.tensors["a"] = Tensor::I32({1, 3}, {1, 2, 3});
  f.metadata["k"] = "v";
  ASSERT_TRUE(WriteSafetensors(dir + "/x.safetensors", f).ok());
  std::ifstream in(dir + "/x.safetensors", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t{static_cast<uint8_t>(bytes[i])} << (8 * i);
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(bytes.size(), 8 + n + 12 + 8);
  EXPECT_THAT(bytes.substr(8, n), HasSubstr("\"a\":{\"data_offsets\":[0,12],\"dtype\":\"I32\",\"shape\":[1,3]}"));
  EXPECT_THAT(bytes.substr(8, n), HasSubstr("\"__metadata__\":{\"k\":\"v\"}"));
  float v;
  std::memcpy(&v, bytes.data() + 8 + n + 12 + 4, 4);
  EXPECT_EQ(v, -2.0f);
  absl::StatusOr<TensorFile> back = ReadSafetensors(dir + "/x.safetensors");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->tensors.at("a").i32()[2], 3);
  EXPECT_EQ(back->metadata.at("k"), "v");
}

}  // namespace
}  // namespace dlf::models
