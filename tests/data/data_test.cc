#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include "data/cifar10.h"
#include "data/idx.h"
#include "data/loader.h"
#include "data/transforms.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace dlf::data {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

using ::dlf::testing::TempDir;

void WriteBytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

// n CIFAR records: label (first_label + i) % 10; pixel p of channel c is (i + c * 7 + p) % 256.
std::vector<uint8_t> CifarRecords(int n, int first_label) {
  std::vector<uint8_t> bytes;
  for (int i = 0; i < n; ++i) {
    bytes.push_back((first_label + i) % 10);
    for (int c = 0; c < 3; ++c)
      for (int p = 0; p < 1024; ++p) bytes.push_back((i + c * 7 + p) % 256);
  }
  return bytes;
}

std::string Message(const absl::Status& s) { return std::string(s.message()); }

TEST(Cifar10Test, ReadsRecordsChannelMajor) {
  const std::string dir = TempDir("cifar_full");
  for (int b = 1; b <= 5; ++b) WriteBytes(dir + "/data_batch_" + std::to_string(b) + ".bin", CifarRecords(3, b));
  WriteBytes(dir + "/test_batch.bin", CifarRecords(4, 0));
  absl::StatusOr<Dataset> train = LoadCifar10(dir, true);
  ASSERT_TRUE(train.ok()) << train.status();
  EXPECT_EQ(train->images.shape(), (Shape{15, 3, 32, 32}));
  EXPECT_EQ(train->labels[0], 1);
  EXPECT_EQ(train->labels[3], 2);  // first record of data_batch_2
  // Image 1 of batch 1, green channel (c = 1), pixel 5: (1 + 7 + 5) % 256.
  EXPECT_EQ(train->images.u8()[1 * 3072 + 1 * 1024 + 5], 13);
  absl::StatusOr<Dataset> test = LoadCifar10(dir, false);
  ASSERT_TRUE(test.ok());
  EXPECT_EQ(test->size(), 4);
}

TEST(Cifar10Test, ReadsADirectoryWithOnlySomeFiles) {
  const std::string dir = TempDir("cifar_some");
  WriteBytes(dir + "/data_batch_2.bin", CifarRecords(2, 0));
  absl::StatusOr<Dataset> train = LoadCifar10(dir, true);
  ASSERT_TRUE(train.ok()) << train.status();
  EXPECT_EQ(train->size(), 2);
  EXPECT_THAT(Message(LoadCifar10(dir, false).status()), HasSubstr("no CIFAR-10 test file"));
}

TEST(Cifar10Test, BadInputIsAClearError) {
  const std::string dir = TempDir("cifar_bad");
  EXPECT_THAT(Message(LoadCifar10(dir, true).status()),
              HasSubstr("no CIFAR-10 training files (data_batch_1.bin .. data_batch_5.bin) in"));
  EXPECT_THAT(Message(LoadCifar10(dir, true).status()), HasSubstr("cifar-10-binary.tar.gz"));
  std::vector<uint8_t> truncated = CifarRecords(2, 0);
  truncated.resize(truncated.size() - 100);
  WriteBytes(dir + "/data_batch_1.bin", truncated);
  EXPECT_THAT(Message(LoadCifar10(dir, true).status()),
              HasSubstr("data_batch_1.bin: size 6046 is not a whole number of CIFAR-10 records"));
  std::vector<uint8_t> bad_label = CifarRecords(2, 0);
  bad_label[3073] = 12;
  WriteBytes(dir + "/data_batch_1.bin", bad_label);
  EXPECT_THAT(Message(LoadCifar10(dir, true).status()),
              HasSubstr("data_batch_1.bin: record 1 has label 12, expected 0..9"));
  WriteBytes(dir + "/data_batch_1.bin", {});
  EXPECT_THAT(Message(LoadCifar10(dir, true).status()), HasSubstr("file is empty"));
}

IdxArray SmallRgb() {
  IdxArray a{kIdxRgbImages, {2, 3, 2, 2}, {}};
  for (int i = 0; i < 24; ++i) a.data.push_back(i * 10);
  return a;
}

TEST(IdxTest, RoundTripsPlainAndGzip) {
  const std::string dir = TempDir("idx_rt");
  for (const std::string ext : {".idx", ".idx.gz"}) {
    for (const IdxArray& a : {SmallRgb(), IdxArray{kIdxLabels, {3}, {1, 2, 3}},
                              IdxArray{kIdxGrayImages, {1, 2, 3}, {9, 8, 7, 6, 5, 4}}}) {
      const std::string path = dir + "/a" + std::to_string(a.magic) + ext;
      ASSERT_TRUE(WriteIdx(path, a).ok());
      absl::StatusOr<IdxArray> b = ReadIdx(path);
      ASSERT_TRUE(b.ok()) << b.status();
      EXPECT_EQ(b->magic, a.magic);
      EXPECT_EQ(b->dims, a.dims);
      EXPECT_EQ(b->data, a.data);
    }
  }
  // The gzip'd file really is compressed: it starts with gzip's magic bytes.
  std::ifstream gz(dir + "/a2052.idx.gz", std::ios::binary);
  EXPECT_EQ(gz.get(), 0x1f);
  EXPECT_EQ(gz.get(), 0x8b);
  EXPECT_FALSE(fs::exists(dir + "/a2052.idx.gz.tmp"));
}

TEST(IdxTest, BadInputIsAClearError) {
  const std::string dir = TempDir("idx_bad");
  EXPECT_THAT(Message(ReadIdx(dir + "/missing.idx").status()), HasSubstr("missing.idx: no such file"));
  WriteBytes(dir + "/magic.idx", {0, 0, 8, 4, 0, 0, 0, 1, 5});
  EXPECT_THAT(Message(ReadIdx(dir + "/magic.idx").status()),
              HasSubstr("magic.idx: truncated header (9 bytes, expected 20)"));
  WriteBytes(dir + "/wrong.idx", {0, 0, 9, 9, 0, 0, 0, 1});
  EXPECT_THAT(Message(ReadIdx(dir + "/wrong.idx").status()),
              HasSubstr("wrong.idx: magic number 2313, expected 2049 (labels), 2051"));
  WriteBytes(dir + "/trunc.idx", {0, 0, 8, 1, 0, 0, 0, 5, 1, 2});
  EXPECT_THAT(Message(ReadIdx(dir + "/trunc.idx").status()),
              HasSubstr("trunc.idx: header says 5 data bytes (dims [5]) but the file has 2 (truncated)"));
  WriteBytes(dir + "/extra.idx", {0, 0, 8, 1, 0, 0, 0, 1, 1, 2});
  EXPECT_THAT(Message(ReadIdx(dir + "/extra.idx").status()), HasSubstr("(trailing data)"));
  ASSERT_TRUE(WriteIdx(dir + "/full.idx.gz", SmallRgb()).ok());
  std::ifstream in(dir + "/full.idx.gz", std::ios::binary);
  std::vector<uint8_t> gz((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  gz.resize(gz.size() / 2);
  WriteBytes(dir + "/cut.idx.gz", gz);
  EXPECT_THAT(Message(ReadIdx(dir + "/cut.idx.gz").status()), HasSubstr("cut.idx.gz:"));
}

TEST(IdxTest, DatasetChecksCountsAndLabels) {
  const std::string dir = TempDir("idx_ds");
  ASSERT_TRUE(WriteIdx(dir + "/img.idx", SmallRgb()).ok());
  ASSERT_TRUE(WriteIdx(dir + "/lab.idx", {kIdxLabels, {2}, {1, 4}}).ok());
  ASSERT_TRUE(WriteIdx(dir + "/lab3.idx", {kIdxLabels, {3}, {1, 1, 1}}).ok());
  absl::StatusOr<Dataset> d = LoadIdxDataset(dir + "/img.idx", dir + "/lab.idx", 5);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->images.shape(), (Shape{2, 3, 2, 2}));
  EXPECT_THAT(Message(LoadIdxDataset(dir + "/img.idx", dir + "/lab.idx", 3).status()),
              HasSubstr("lab.idx: label 4 at index 1 is outside [0, 3)"));
  EXPECT_THAT(Message(LoadIdxDataset(dir + "/img.idx", dir + "/lab3.idx", 5).status()),
              HasSubstr("lab3.idx: 3 labels for 2 images"));
}

TEST(FashionMnistTest, LoadsFromTheDebianPackage) {
  absl::StatusOr<Dataset> test = LoadFashionMnist(kFashionMnistDir, false);
  ASSERT_TRUE(test.ok()) << test.status() << " (tools/setup.sh installs dataset-fashion-mnist)";
  EXPECT_EQ(test->images.shape(), (Shape{10000, 1, 28, 28}));
  std::set<int32_t> classes(test->labels.begin(), test->labels.end());
  EXPECT_EQ(classes.size(), 10u);
  absl::StatusOr<Dataset> fitted = FitToShape(*test, 3, 32, 32);
  ASSERT_TRUE(fitted.ok()) << fitted.status();
  const Dataset& padded = *fitted;
  EXPECT_EQ(padded.images.shape(), (Shape{10000, 3, 32, 32}));
  const uint8_t* src = test->images.u8();
  const uint8_t* dst = padded.images.u8();
  EXPECT_EQ(dst[0], 0);                                    // padding
  // Channel 2, row 12, col 7 of the padded image is row 10, col 5 of the original.
  EXPECT_EQ(dst[(2 * 32 + 12) * 32 + 7], src[10 * 28 + 5]);
  EXPECT_EQ(dst[(0 * 32 + 12) * 32 + 7], src[10 * 28 + 5]);
}

Dataset Synthetic(int64_t n, int64_t c = 3, int64_t hw = 4) {
  Dataset d;
  d.images = Tensor(DType::kU8, {n, c, hw, hw});
  for (int64_t i = 0; i < d.images.num_elements(); ++i) d.images.u8()[i] = static_cast<uint8_t>(i * 37);
  for (int64_t i = 0; i < n; ++i) d.labels.push_back(static_cast<int32_t>(i % 10));
  d.num_classes = 10;
  return d;
}

TEST(TransformsTest, NormalizationValues) {
  Dataset d = Synthetic(1, 3, 1);
  d.images.u8()[0] = 255;
  d.images.u8()[1] = 0;
  d.images.u8()[2] = 51;
  float out[3];
  ASSERT_TRUE(MakeSample(d, 0, Normalization::ImageNet(), {}, 0, out).ok());
  EXPECT_NEAR(out[0], (1.0 - 0.485) / 0.229, 1e-5);
  EXPECT_NEAR(out[1], (0.0 - 0.456) / 0.224, 1e-5);
  EXPECT_NEAR(out[2], (0.2 - 0.406) / 0.225, 1e-5);
  EXPECT_FALSE(ValidateNormalization({{0.5f, 0.5f}, {1.0f, 1.0f}}, 3).ok());
}

TEST(TransformsTest, AugmentationIsDeterministicPerSeedAndFlipMirrors) {
  Dataset d = Synthetic(1, 3, 8);
  Augmentation aug{true, 4, true};
  std::vector<float> a(192), b(192), c(192);
  ASSERT_TRUE(MakeSample(d, 0, {}, aug, 5, a.data()).ok());
  ASSERT_TRUE(MakeSample(d, 0, {}, aug, 5, b.data()).ok());
  EXPECT_EQ(a, b);
  int differing_seeds = 0;
  for (uint64_t seed = 0; seed < 10; ++seed) {
    ASSERT_TRUE(MakeSample(d, 0, {}, aug, seed, c.data()).ok());
    differing_seeds += c != a;
  }
  EXPECT_GE(differing_seeds, 5);
  // Flip only: either identical or mirrored, and some seed mirrors.
  Augmentation flip{false, 0, true};
  std::vector<float> plain(192);
  ASSERT_TRUE(MakeSample(d, 0, {}, {}, 0, plain.data()).ok());
  bool mirrored_seen = false;
  for (uint64_t seed = 0; seed < 8; ++seed) {
    ASSERT_TRUE(MakeSample(d, 0, {}, flip, seed, c.data()).ok());
    bool mirrored = true;
    for (int y = 0; y < 8; ++y)
      for (int x = 0; x < 8; ++x) mirrored = mirrored && c[y * 8 + x] == plain[y * 8 + 7 - x];
    EXPECT_TRUE(mirrored || c == plain);
    mirrored_seen = mirrored_seen || mirrored;
  }
  EXPECT_TRUE(mirrored_seen);
}

TEST(LoaderTest, ShuffleIsAPermutationThatChangesPerEpochAndRepeatsPerSeed) {
  Dataset d = Synthetic(100);
  auto loader = Loader::Create(&d, {.batch_size = 10, .seed = 3});
  ASSERT_TRUE(loader.ok());
  std::vector<int64_t> e0 = (*loader)->EpochOrder(0), e1 = (*loader)->EpochOrder(1);
  std::vector<int64_t> sorted = e0;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 100; ++i) EXPECT_EQ(sorted[i], i);
  EXPECT_NE(e0, e1);
  auto again = Loader::Create(&d, {.batch_size = 10, .seed = 3});
  EXPECT_EQ((*again)->EpochOrder(0), e0);
}

TEST(LoaderTest, BatchesCoverTheEpochAndHonourDropLast) {
  Dataset d = Synthetic(25);
  for (bool drop_last : {true, false}) {
    auto loader = Loader::Create(&d, {.batch_size = 10, .drop_last = drop_last});
    ASSERT_TRUE(loader.ok());
    EXPECT_EQ((*loader)->batches_per_epoch(), drop_last ? 2 : 3);
    (*loader)->StartEpoch(0);
    std::vector<int64_t> sizes;
    int64_t label_sum = 0;
    while (const Batch* b = (*loader)->Next()) {
      sizes.push_back(b->size());
      EXPECT_EQ(b->images.shape(), (Shape{b->size(), 3, 4, 4}));
      for (int64_t i = 0; i < b->size(); ++i) label_sum += b->labels.i32()[i];
    }
    EXPECT_EQ(sizes, drop_last ? std::vector<int64_t>({10, 10}) : std::vector<int64_t>({10, 10, 5}));
    if (!drop_last) {
      EXPECT_EQ(label_sum, 45 + 45 + 10);  // labels i % 10 for i < 25, each seen once
    }
  }
}

TEST(LoaderTest, StartingPartWayGivesTheSameBatchesAsAnUninterruptedEpoch) {
  Dataset d = Synthetic(40);
  LoaderOptions o{.batch_size = 8, .seed = 9};
  o.augmentation = {true, 1, true};
  auto full = Loader::Create(&d, o), resumed = Loader::Create(&d, o);
  (*full)->StartEpoch(2);
  (*resumed)->StartEpoch(2, 3);
  for (int i = 0; i < 3; ++i) (*full)->Next();
  for (int i = 0; i < 2; ++i) {
    const Batch* a = (*full)->Next();
    const Batch* b = (*resumed)->Next();
    ASSERT_TRUE(a && b);
    for (int64_t j = 0; j < a->images.num_elements(); ++j) ASSERT_EQ(a->images.f32()[j], b->images.f32()[j]);
    for (int64_t j = 0; j < 8; ++j) ASSERT_EQ(a->labels.i32()[j], b->labels.i32()[j]);
  }
  EXPECT_EQ((*resumed)->Next(), nullptr);
}

TEST(LoaderTest, ShardsHoldTheirSliceOfTheUnshardedBatch) {
  Dataset d = Synthetic(40);
  LoaderOptions o{.batch_size = 12, .seed = 4};
  o.augmentation = {true, 1, true};
  auto whole = Loader::Create(&d, o);
  ASSERT_TRUE(whole.ok());
  (*whole)->StartEpoch(1);
  std::vector<std::unique_ptr<Loader>> shards;
  for (int shard = 0; shard < 3; ++shard) {
    LoaderOptions so = o;
    so.shard = shard;
    so.num_shards = 3;
    auto loader = Loader::Create(&d, so);
    ASSERT_TRUE(loader.ok()) << loader.status();
    (*loader)->StartEpoch(1);
    shards.push_back(*std::move(loader));
  }
  for (int batch = 0; batch < 3; ++batch) {
    const Batch* a = (*whole)->Next();
    ASSERT_NE(a, nullptr);
    const int64_t image_floats = a->images.num_elements() / 12;
    for (int shard = 0; shard < 3; ++shard) {
      const Batch* s = shards[shard]->Next();
      ASSERT_NE(s, nullptr);
      ASSERT_EQ(s->size(), 4);
      EXPECT_EQ(s->sample_offset, shard * 4);
      for (int64_t j = 0; j < 4; ++j) ASSERT_EQ(s->labels.i32()[j], a->labels.i32()[shard * 4 + j]);
      for (int64_t j = 0; j < 4 * image_floats; ++j) {
        ASSERT_EQ(s->images.f32()[j], a->images.f32()[shard * 4 * image_floats + j]);
      }
    }
  }
  EXPECT_EQ((*whole)->Next(), nullptr);
}

TEST(LoaderTest, BadOptionsAreClearErrors) {
  Dataset d = Synthetic(5);
  EXPECT_THAT(Message(Loader::Create(&d, {.batch_size = 0}).status()), HasSubstr("batch size must be > 0"));
  EXPECT_THAT(Message(Loader::Create(&d, {.batch_size = 8}).status()),
              HasSubstr("batch size 8 is larger than the dataset (5 images)"));
  Dataset empty;
  EXPECT_THAT(Message(Loader::Create(&empty, {}).status()), HasSubstr("the dataset is empty"));
  EXPECT_THAT(Message(Loader::Create(&d, {.batch_size = 5, .num_shards = 2}).status()),
              HasSubstr("batch size 5 does not split evenly across 2 ranks"));
  EXPECT_THAT(Message(Loader::Create(&d, {.batch_size = 4, .shard = 2, .num_shards = 2}).status()),
              HasSubstr("shard 2 of 2 does not exist"));
}

}  // namespace
}  // namespace dlf::data
