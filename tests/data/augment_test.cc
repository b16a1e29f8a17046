// The augmentations against their definitions: ColorJitter's four adjustments equal
// torchvision.transforms.functional.adjust_* on PIL images (run with python3-torchvision),
// RandomCrop's padding modes equal numpy.pad's, RandomErasing stays in torchvision's ranges.
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "data/color_jitter.h"
#include "data/dataset.h"
#include "data/file_io.h"
#include "data/image_transforms.h"
#include "data/loader.h"
#include "data/mixing.h"
#include "data/synthetic.h"
#include "data/transforms.h"
#include "gmock/gmock.h"
#include "graph/random.h"
#include "gtest/gtest.h"
#include "stb/stb_image_write.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"

namespace dlf::data {
namespace {

using ::dlf::testing::PythonPath;
using ::dlf::testing::RunProcess;

Image Pattern(int64_t h, int64_t w) {
  Image im{h, w, 3, std::vector<uint8_t>(h * w * 3)};
  for (int64_t i = 0; i < h * w * 3; ++i) im.pixels[i] = static_cast<uint8_t>((i * 37 + (i / 7) * (i % 13)) % 256);
  return im;
}

// torchvision's functional `op`(image, factor) on the PNG of `im`, as raw RGB bytes.
std::string Torchvision(const std::string& dir, const Image& im, const std::string& op, double factor) {
  const std::string in = dir + "/in.png", out = dir + "/out.raw";
  stbi_write_png(in.c_str(), im.width, im.height, 3, im.pixels.data(), 0);
  const std::string script =
      "import sys; from PIL import Image; import torchvision.transforms.functional as F;"
      "open(sys.argv[2], 'wb').write(F." + op + "(Image.open(sys.argv[1]).convert('RGB'), float(sys.argv[3])).tobytes())";
  const auto r = RunProcess(PythonPath(), {"-c", script, in, out, std::to_string(factor)});
  EXPECT_EQ(r.exit_code(), 0) << r.output;
  return ReadFile(out, 1 << 24).value_or("");
}

TEST(ColorJitterTest, EachAdjustmentIsTorchvisions) {
  const std::string dir = ::dlf::testing::TempDir("jitter");
  const Image im = Pattern(23, 31);
  struct Case {
    const char* op;
    double factor;
    void (*apply)(Image&, double);
  };
  for (const Case& c : {Case{"adjust_brightness", 0.6, AdjustBrightness}, Case{"adjust_brightness", 1.4, AdjustBrightness},
                        Case{"adjust_contrast", 0.5, AdjustContrast}, Case{"adjust_contrast", 1.7, AdjustContrast},
                        Case{"adjust_saturation", 0.3, AdjustSaturation}, Case{"adjust_saturation", 1.6, AdjustSaturation},
                        Case{"adjust_hue", 0.1, AdjustHue}, Case{"adjust_hue", -0.25, AdjustHue}}) {
    Image ours = im;
    c.apply(ours, c.factor);
    const std::string theirs = Torchvision(dir, im, c.op, c.factor);
    ASSERT_EQ(theirs.size(), ours.pixels.size()) << c.op;
    int64_t differ = 0;
    for (size_t i = 0; i < theirs.size(); ++i) differ += static_cast<uint8_t>(theirs[i]) != ours.pixels[i];
    EXPECT_EQ(differ, 0) << c.op << "(" << c.factor << "): " << differ << " of " << theirs.size() << " bytes differ";
  }
}

TEST(ColorJitterTest, DrawsFromItsSeedOnly) {
  const ColorJitterOptions o{.brightness = 0.4, .contrast = 0.4, .saturation = 0.4, .hue = 0.1};
  Image a = Pattern(8, 8), b = Pattern(8, 8), c = Pattern(8, 8);
  SampleRandom ra(5), rb(5), rc(6);
  ColorJitter(a, o, ra);
  ColorJitter(b, o, rb);
  ColorJitter(c, o, rc);
  EXPECT_EQ(a.pixels, b.pixels);
  EXPECT_NE(a.pixels, c.pixels);
}

// A 1-channel 3x4 image (0..11) shifted by (-2, -2) with each padding mode: the window of
// numpy.pad(image, 2, mode) at (0, 0), worked out by hand (reflect pads [0 1 2 3] as
// [2 1 | 0 1 2 3 | 2 1]).
TEST(PaddingTest, ModesAreNumpysPads) {
  Dataset d;
  d.images = Tensor(DType::kU8, {1, 1, 3, 4});
  for (int i = 0; i < 12; ++i) d.images.u8()[i] = static_cast<uint8_t>(i);
  d.labels = {0};
  d.num_classes = 1;
  Augmentation aug;
  aug.random_crop = true;
  aug.crop_padding = 2;
  aug.padding_fill = 9;
  const Normalization bytes{{0.0f}, {1.0f / 255.0f}};  // the normalized value is the byte
  uint64_t seed = 0;  // one whose draws are dy = dx = -2
  while (SplitMix64(seed) % 5 != 0 || (SplitMix64(seed) >> 16) % 5 != 0) ++seed;
  const std::vector<float> constant = {9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 0, 1};
  const std::vector<float> edge = {0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1};
  const std::vector<float> reflect = {10, 9, 8, 9, 6, 5, 4, 5, 2, 1, 0, 1};
  for (auto [mode, expected] : {std::pair{Augmentation::Padding::kConstant, constant},
                                {Augmentation::Padding::kEdge, edge}, {Augmentation::Padding::kReflect, reflect}}) {
    aug.padding_mode = mode;
    std::vector<float> out(12);
    ASSERT_TRUE(MakeSample(d, 0, bytes, aug, seed, out.data()).ok());
    for (int i = 0; i < 12; ++i) EXPECT_NEAR(out[i], expected[i], 1e-4) << "mode " << static_cast<int>(mode) << " at " << i;
  }
}

TEST(RandomResizedCropTest, InMemorySetsCropAndResizeBackToTheirSize) {
  const Dataset d = MakeSyntheticDataset(2, 3, 16, 2, 5);
  Augmentation aug;
  aug.random_resized_crop = true;
  std::vector<float> plain(3 * 16 * 16), a(plain.size()), b(plain.size());
  ASSERT_TRUE(MakeSample(d, 0, {}, {}, 0, plain.data()).ok());
  int differ = 0;
  for (uint64_t seed = 0; seed < 10; ++seed) {
    ASSERT_TRUE(MakeSample(d, 0, {}, aug, seed, a.data()).ok());
    ASSERT_TRUE(MakeSample(d, 0, {}, aug, seed, b.data()).ok());
    ASSERT_EQ(a, b) << "a sample's crop depends on its seed only";
    differ += a != plain;
  }
  EXPECT_GE(differ, 8);
}

TEST(RandomEraseTest, ErasesABoxInTorchvisionsRanges) {
  int erased_samples = 0;
  for (uint64_t seed = 0; seed < 500; ++seed) {
    std::vector<float> chw(3 * 32 * 32, 1.0f);
    SampleRandom random(seed);
    RandomErase(chw.data(), 3, 32, 32, 0.5, random);
    int64_t zeros = 0;
    for (float v : chw) zeros += v == 0.0f;
    if (zeros == 0) continue;
    ++erased_samples;
    const double fraction = zeros / (3.0 * 32 * 32);
    ASSERT_GE(fraction, 0.02 * 0.7) << seed;  // whole pixels round the box
    ASSERT_LE(fraction, 0.33 * 1.3) << seed;
    for (int64_t i = 0; i < 32 * 32; ++i) ASSERT_EQ(chw[i] == 0, chw[2 * 32 * 32 + i] == 0) << "every channel";
  }
  EXPECT_GT(erased_samples, 200);
  EXPECT_LT(erased_samples, 300);
}

TEST(MixingTest, BetaHasItsMoments) {
  SampleRandom random(3);
  for (double a : {0.2, 1.0}) {
    constexpr int kDraws = 40000;
    std::vector<double> x(kDraws);
    for (double& v : x) {
      v = SampleBeta(a, random);
      ASSERT_GE(v, 0.0);
      ASSERT_LE(v, 1.0);
    }
    double mean = 0, var = 0, m4 = 0;
    for (double v : x) mean += v / kDraws;
    for (double v : x) var += (v - mean) * (v - mean) / kDraws, m4 += std::pow(v - mean, 4) / kDraws;
    // Within 4 standard errors of Beta(a, a)'s mean 1/2 and variance 1 / (4 (2a + 1)); the
    // variance's standard error is sqrt((m4 - var^2) / n). Beta(1, 1) against Beta(1.2, 1.2) is
    // ~25 of them apart.
    EXPECT_NEAR(mean, 0.5, 4 * std::sqrt(var / kDraws)) << a;
    EXPECT_NEAR(var, 1.0 / (4 * (2 * a + 1)), 4 * std::sqrt((m4 - var * var) / kDraws)) << a;
  }
}

// One batch of 8 from a loader (shard `shard` of `shards`), with or without mixing.
Batch LoadBatch(const Dataset& d, Mixing mixing, int shard, int shards) {
  LoaderOptions o{.batch_size = 8, .shuffle = true, .drop_last = true, .seed = 4, .shard = shard, .num_shards = shards};
  o.mixing = mixing;
  auto loader = *Loader::Create(&d, o);
  loader->StartEpoch(2);
  const Batch* b = loader->Next();
  Batch out{b->images.Clone(), b->labels.Clone(), b->sample_offset, b->targets.num_elements() ? b->targets.Clone() : Tensor()};
  return out;
}

TEST(MixingTest, MixupMixesEachSampleWithThePreviousAsTorchRoll) {
  const Dataset d = MakeSyntheticDataset(40, 3, 8, 5, 1);
  const Batch plain = LoadBatch(d, {}, 0, 1);
  const Batch mixed = LoadBatch(d, {.mixup_alpha = 0.4, .num_classes = 5}, 0, 1);
  const int64_t floats = 3 * 8 * 8;
  ASSERT_EQ(mixed.targets.shape(), (Shape{8, 5}));
  for (int i = 0; i < 8; ++i) {
    const int partner = (i + 7) % 8;
    float row = 0;
    for (int k = 0; k < 5; ++k) row += mixed.targets.f32()[i * 5 + k];
    EXPECT_NEAR(row, 1.0f, 1e-6);
    if (plain.labels.i32()[i] == plain.labels.i32()[partner]) continue;  // lambda not visible
    const float lambda = mixed.targets.f32()[i * 5 + plain.labels.i32()[i]];
    for (int64_t j = 0; j < floats; j += 17) {
      EXPECT_NEAR(mixed.images.f32()[i * floats + j],
                  lambda * plain.images.f32()[i * floats + j] + (1 - lambda) * plain.images.f32()[partner * floats + j], 1e-5);
    }
  }
}

TEST(MixingTest, CutmixPastesABoxWhoseAreaIsOneMinusLambda) {
  const Dataset d = MakeSyntheticDataset(40, 1, 16, 4, 2);
  const Batch plain = LoadBatch(d, {}, 0, 1);
  const Batch mixed = LoadBatch(d, {.cutmix_alpha = 1.0, .num_classes = 4}, 0, 1);
  const int64_t floats = 16 * 16;
  for (int i = 0; i < 8; ++i) {
    const int partner = (i + 7) % 8;
    int64_t from_partner = 0;
    for (int64_t j = 0; j < floats; ++j) {
      const float v = mixed.images.f32()[i * floats + j];
      if (v != plain.images.f32()[i * floats + j]) {
        ASSERT_EQ(v, plain.images.f32()[partner * floats + j]);
        ++from_partner;
      }
    }
    if (plain.labels.i32()[i] == plain.labels.i32()[partner]) continue;
    // Pixels equal in both images hide in the box: at most as many changed as the box holds.
    const double partner_share = mixed.targets.f32()[i * 4 + plain.labels.i32()[partner]];
    EXPECT_LE(from_partner, std::llround(partner_share * floats)) << i;
  }
}

TEST(MixingTest, ShardsMixAsOneProcessDoes) {
  const Dataset d = MakeSyntheticDataset(40, 3, 8, 5, 1);
  for (Mixing m : {Mixing{.mixup_alpha = 0.4, .num_classes = 5}, Mixing{.cutmix_alpha = 1.0, .num_classes = 5}}) {
    const Batch whole = LoadBatch(d, m, 0, 1);
    for (int shard = 0; shard < 2; ++shard) {
      const Batch part = LoadBatch(d, m, shard, 2);
      const int64_t floats = 4 * 3 * 8 * 8;
      for (int64_t j = 0; j < floats; ++j) {
        ASSERT_EQ(part.images.f32()[j], whole.images.f32()[shard * floats + j]) << "shard " << shard;
      }
      for (int64_t j = 0; j < 4 * 5; ++j) ASSERT_EQ(part.targets.f32()[j], whole.targets.f32()[shard * 20 + j]);
    }
  }
}

}  // namespace
}  // namespace dlf::data
