// predict on PNG and JPEG files gives the evaluator's logits for the same decoded pixels, and for
// the PNG the logits ONNX Runtime computes from its known pixels.
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "data/image.h"
#include "data/synthetic.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "models/models.h"
#include "models/training/evaluator.h"
#include "models/training/predictor.h"
#include "models/training/trainer.h"
#include "stb/stb_image_write.h"
#include "tests/models/onnx/onnx_testing.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"

namespace dlf::training {
namespace {

using ::dlf::testing::BinaryPath;
using ::dlf::testing::ProcessResult;
using ::dlf::testing::RunProcess;
using ::dlf::testing::TempDir;

// A LeNet checkpoint after a few steps on generated 28x28 data.
std::string TrainLenet(const std::string& dir) {
  static const data::Dataset train = data::MakeSyntheticDataset(64, 1, 28, 10, 3);
  TrainConfig c;
  c.run = {.model = "lenet", .dataset = "synthetic", .input_shape = {1, 28, 28},
           .mean = {0.4f}, .std = {0.3f}, .class_names = train.class_names};
  c.build = models::LeNet5;
  c.batch_size = 16;
  c.max_steps = 3;
  c.out_dir = dir;
  c.verbose = false;
  auto t = Trainer::Create(c, &train, nullptr);
  EXPECT_TRUE(t.ok()) << t.status();
  EXPECT_TRUE((*t)->Run().ok());
  return dir + "/last.safetensors";
}

TEST(PredictTest, PngAndJpegGiveTheEvaluatorsLogitsForTheirPixels) {
  const std::string dir = TempDir("predict");
  const std::string checkpoint = TrainLenet(dir);
  std::vector<uint8_t> pixels(28 * 28);
  for (int i = 0; i < 28 * 28; ++i) pixels[i] = static_cast<uint8_t>((i * 37) % 251);
  ASSERT_TRUE(stbi_write_png((dir + "/x.png").c_str(), 28, 28, 1, pixels.data(), 0));
  ASSERT_TRUE(stbi_write_jpg((dir + "/x.jpg").c_str(), 28, 28, 1, pixels.data(), 90));

  std::vector<data::Image> images;
  for (const char* name : {"/x.png", "/x.jpg"}) {
    absl::StatusOr<data::Image> image = data::ReadImage(dir + name);
    ASSERT_TRUE(image.ok()) << image.status();
    images.push_back(*image);
  }
  EXPECT_EQ(images[0].pixels, pixels);  // PNG is lossless

  absl::StatusOr<std::unique_ptr<Predictor>> predictor = Predictor::Load(checkpoint);
  ASSERT_TRUE(predictor.ok()) << predictor.status();
  absl::StatusOr<std::vector<Prediction>> predictions = (*predictor)->Predict(images);
  ASSERT_TRUE(predictions.ok()) << predictions.status();

  // Independently of dlf's evaluator: the PNG's known pixels, normalized here ((p / 255 - 0.4)
  // / 0.3), through ONNX Runtime on the checkpoint's ONNX export give the predictor's logits.
  const ProcessResult exported =
      RunProcess(BinaryPath("models/export"), {"--checkpoint=" + checkpoint, "--output=" + dir + "/lenet.onnx"});
  ASSERT_EQ(exported.exit_code(), 0) << exported.output;
  Tensor png_input(DType::kF32, {1, 1, 28, 28}), png_logits(DType::kF32, {1, 10});
  for (int i = 0; i < 28 * 28; ++i) png_input.f32()[i] = (pixels[i] / 255.0f - 0.4f) / 0.3f;
  for (int k = 0; k < 10; ++k) png_logits.f32()[k] = (*predictions)[0].logits[k];
  const ProcessResult ort = ::dlf::testing::CompareInOnnxRuntime(dir + "/lenet.onnx", png_input, png_logits, dir);
  EXPECT_EQ(ort.exit_code(), 0) << ort.output;

  // The same pixels through the evaluator, with the weights and normalization of the file.
  // stb writes JPEGs as YCbCr, so that one decodes to 3 channels: the model sees its luma.
  EXPECT_EQ(images[1].channels, 3);
  data::Dataset same;
  same.images = Tensor(DType::kU8, {2, 1, 28, 28});
  for (int i = 0; i < 2; ++i) {
    absl::StatusOr<data::Image> gray = data::ConvertChannels(images[i], 1);
    ASSERT_TRUE(gray.ok());
    std::memcpy(same.images.u8() + i * 784, gray->pixels.data(), 784);
  }
  same.labels = {0, 0};
  same.num_classes = 10;
  Evaluator evaluator(models::LeNet5, {}, {1, 28, 28}, 7, {{0.4f}, {0.3f}});
  absl::StatusOr<Checkpoint> file = ReadCheckpoint(checkpoint);
  ASSERT_TRUE(evaluator.LoadWeights(file->file.tensors, checkpoint).ok());
  absl::StatusOr<Tensor> logits = evaluator.Logits(same);
  ASSERT_TRUE(logits.ok()) << logits.status();
  for (int i = 0; i < 2; ++i) {
    double sum = 0;
    for (int k = 0; k < 10; ++k) {
      EXPECT_FLOAT_EQ((*predictions)[i].logits[k], logits->f32()[i * 10 + k]) << i << " " << k;
      sum += (*predictions)[i].probabilities[k];
    }
    EXPECT_NEAR(sum, 1.0, 1e-5);
    const std::vector<int> top = (*predictions)[i].TopK(5);
    ASSERT_EQ(top.size(), 5u);
    for (int j = 1; j < 5; ++j) {
      EXPECT_GE((*predictions)[i].probabilities[top[j - 1]], (*predictions)[i].probabilities[top[j]]);
    }
  }
}

TEST(PredictTest, ColourImagesOfAnotherSizeAreConvertedAndResized) {
  const std::string dir = TempDir("predict_rgb");
  const std::string checkpoint = TrainLenet(dir);
  absl::StatusOr<std::unique_ptr<Predictor>> predictor = Predictor::Load(checkpoint);
  ASSERT_TRUE(predictor.ok()) << predictor.status();
  // A uniform RGB picture of 90 x 60: any resize and crop of it is uniform, at its luma.
  const data::Image rgb{60, 90, 3, std::vector<uint8_t>(60 * 90 * 3, 0)};
  data::Image colour = rgb;
  for (int i = 0; i < 60 * 90; ++i) colour.pixels[3 * i] = 200, colour.pixels[3 * i + 1] = 100;
  absl::StatusOr<std::vector<uint8_t>> chw = (*predictor)->Preprocess(colour);
  ASSERT_TRUE(chw.ok()) << chw.status();
  ASSERT_EQ(chw->size(), 784u);
  const uint8_t luma = static_cast<uint8_t>(std::lround(0.299 * 200 + 0.587 * 100));
  for (uint8_t v : *chw) ASSERT_EQ(v, luma);
  EXPECT_TRUE((*predictor)->Predict({colour}).ok());
  // A smaller image is zero-padded into the centre, as the training data sets were.
  const data::Image small{20, 20, 1, std::vector<uint8_t>(400, 99)};
  absl::StatusOr<std::vector<uint8_t>> padded = (*predictor)->Preprocess(small);
  ASSERT_TRUE(padded.ok());
  EXPECT_EQ((*padded)[0], 0);
  EXPECT_EQ((*padded)[4 * 28 + 4], 99);
  EXPECT_EQ((*padded)[23 * 28 + 23], 99);
  EXPECT_EQ((*padded)[24 * 28 + 24], 0);
}

}  // namespace
}  // namespace dlf::training
