// Image folders streamed from disk: the ImageFolder listing, Pillow's resampling to the bit,
// torchvision's crop geometry, JPEG decoding with DCT scaling (gray, CMYK), the loader's
// determinism across decode threads, its errors, and memory that does not grow with the set.
#include <fstream>
#include <filesystem>
#include <string>
#include <vector>

#include "data/file_io.h"
#include "data/image.h"
#include "data/image_folder.h"
#include "data/image_transforms.h"
#include "data/jpeg.h"
#include "data/loader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "stb/stb_image_write.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"

namespace dlf::data {
namespace {

using ::dlf::testing::PythonPath;
using ::dlf::testing::RunProcess;
using ::dlf::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

void Write(const std::string& path, const std::string& bytes) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

// A colourful w x h RGB image whose pixels depend on `seed`.
Image Pattern(int64_t h, int64_t w, int seed) {
  Image im{h, w, 3, std::vector<uint8_t>(h * w * 3)};
  for (int64_t i = 0; i < h * w * 3; ++i) im.pixels[i] = static_cast<uint8_t>((i * 37 + seed * 101 + (i / 7) * (i % 13)) % 256);
  return im;
}

void WriteJpeg(const std::string& path, const Image& im, int quality = 90) {
  fs::create_directories(fs::path(path).parent_path());
  ASSERT_TRUE(stbi_write_jpg(path.c_str(), im.width, im.height, im.channels, im.pixels.data(), quality));
}

void WritePng(const std::string& path, const Image& im) {
  fs::create_directories(fs::path(path).parent_path());
  ASSERT_TRUE(stbi_write_png(path.c_str(), im.width, im.height, im.channels, im.pixels.data(), 0));
}

TEST(ImageFolderTest, ListsAsImageFolderDoes) {
  const std::string root = TempDir("folder_list");
  const Image im = Pattern(8, 8, 1);
  WriteJpeg(root + "/dog/b.JPG", im);
  WriteJpeg(root + "/dog/a.jpeg", im);
  WritePng(root + "/cat/z.png", im);
  WritePng(root + "/cat/sub/y.png", im);
  WritePng(root + "/cat/.hidden.png", im);
  WritePng(root + "/.cache/x.png", im);
  Write(root + "/cat/notes.txt", "not an image");
  Write(root + "/README", "beside the classes");
  absl::StatusOr<ImageFolderListing> l = ListImageFolder(root);
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_THAT(l->dataset.class_names, ElementsAre("cat", "dog"));
  EXPECT_EQ(l->ignored_files, 2);
  ASSERT_TRUE(l->dataset.streamed());
  std::vector<std::string> names;
  for (const std::string& f : *l->dataset.files) names.push_back(fs::relative(f, root).string());
  EXPECT_THAT(names, ElementsAre("cat/z.png", "cat/sub/y.png", "dog/a.jpeg", "dog/b.JPG"));
  EXPECT_THAT(l->dataset.labels, ElementsAre(0, 0, 1, 1));
}

TEST(ImageFolderTest, ErrorsNameTheFolder) {
  const std::string root = TempDir("folder_errors");
  EXPECT_THAT(std::string(ListImageFolder(root + "/none").status().message()), HasSubstr("none: no such folder"));
  Write(root + "/file", "x");
  EXPECT_THAT(std::string(ListImageFolder(root + "/file").status().message()), HasSubstr("is a file, expected a folder"));
  fs::create_directories(root + "/empty");
  EXPECT_THAT(std::string(ListImageFolder(root + "/empty").status().message()), HasSubstr("no class folders"));
  Write(root + "/sparse/cat/notes.txt", "x");
  EXPECT_THAT(std::string(ListImageFolder(root + "/sparse").status().message()), HasSubstr("class folders without images (.jpg .jpeg .png .bmp): cat"));
}

// Pillow's resize of the same pixels, run by Debian's python3-pil.
std::vector<uint8_t> PillowResize(const std::string& dir, const Image& im, int64_t h, int64_t w, const char* filter) {
  const std::string in = dir + "/in.png", out = dir + "/out.raw";
  WritePng(in, im);
  const std::string script = std::string("import sys; from PIL import Image; Image.open(sys.argv[1]).resize((") +
                             std::to_string(w) + ", " + std::to_string(h) + "), Image." + filter +
                             ").tobytes(); open(sys.argv[2], 'wb').write(Image.open(sys.argv[1]).resize((" +
                             std::to_string(w) + ", " + std::to_string(h) + "), Image." + filter + ").tobytes())";
  const auto r = RunProcess(PythonPath(), {"-c", script, in, out});
  EXPECT_EQ(r.exit_code(), 0) << r.output;
  const absl::StatusOr<std::string> bytes = ReadFile(out, 1 << 24);
  return bytes.ok() ? std::vector<uint8_t>(bytes->begin(), bytes->end()) : std::vector<uint8_t>{};
}

TEST(ResampleTest, MatchesPillowToTheBit) {
  const std::string dir = TempDir("resample");
  const Image im = Pattern(67, 91, 3);
  for (auto [h, w] : {std::pair<int64_t, int64_t>{32, 32}, {224, 160}, {13, 91}, {67, 300}, {5, 7}}) {
    for (auto [filter, interpolation] : {std::pair{"BILINEAR", Interpolation::kBilinear}, {"BICUBIC", Interpolation::kBicubic}}) {
      const std::vector<uint8_t> pillow = PillowResize(dir, im, h, w, filter);
      const Image ours = ResizeImage(im, h, w, interpolation);
      ASSERT_EQ(ours.pixels.size(), pillow.size()) << filter << " " << h << "x" << w;
      EXPECT_TRUE(ours.pixels == pillow) << filter << " to " << h << "x" << w;
    }
  }
}

TEST(CropGeometryTest, TorchvisionsSizes) {
  using Size = std::pair<int64_t, int64_t>;
  EXPECT_EQ(ShorterSideSize(300, 400, 256), Size(256, 341));
  EXPECT_EQ(ShorterSideSize(500, 375, 256), Size(341, 256));
  const CropBox c = CenterCropBox(256, 341, 224, 224);  // (341 - 224) / 2 = 58.5: Python rounds to 58
  EXPECT_EQ(c.top, 16);
  EXPECT_EQ(c.left, 58);
}

// A box cut and resized as torchvision.transforms.functional.resized_crop does (Pillow's crop
// and resize, bilinear and bicubic).
TEST(CropGeometryTest, CropAndResizeIsTorchvisionsResizedCrop) {
  const std::string dir = TempDir("resized_crop");
  const Image im = Pattern(60, 80, 9);
  WritePng(dir + "/in.png", im);
  const auto r = RunProcess(PythonPath(), {"-c",
      "import sys; from PIL import Image; import torchvision.transforms.functional as F\n"
      "from torchvision.transforms import InterpolationMode as M\n"
      "im = Image.open(sys.argv[1] + '/in.png')\n"
      "for i, (t, l, h, w, mode) in enumerate([(5, 7, 40, 50, M.BILINEAR), (0, 0, 60, 80, M.BICUBIC), (20, 30, 11, 9, M.BILINEAR)]):\n"
      "    open(f'{sys.argv[1]}/out{i}.raw', 'wb').write(F.resized_crop(im, t, l, h, w, [24, 24], mode).tobytes())",
      dir});
  ASSERT_EQ(r.exit_code(), 0) << r.output;
  const CropBox boxes[] = {{5, 7, 40, 50}, {0, 0, 60, 80}, {20, 30, 11, 9}};
  const Interpolation filters[] = {Interpolation::kBilinear, Interpolation::kBicubic, Interpolation::kBilinear};
  for (int i = 0; i < 3; ++i) {
    const Image ours = CropAndResize(im, boxes[i], 24, 24, filters[i]);
    const std::string theirs = *ReadFile(dir + "/out" + std::to_string(i) + ".raw", 1 << 20);
    EXPECT_TRUE(std::vector<uint8_t>(theirs.begin(), theirs.end()) == ours.pixels) << "box " << i;
  }
}

TEST(CropGeometryTest, RandomResizedCropStaysInItsRanges) {
  Augmentation aug;
  for (uint64_t seed = 0; seed < 2000; ++seed) {
    SampleRandom random(seed);
    const CropBox b = RandomResizedCropBox(300, 400, aug, random);
    ASSERT_GE(b.top, 0);
    ASSERT_GE(b.left, 0);
    ASSERT_LE(b.top + b.height, 300);
    ASSERT_LE(b.left + b.width, 400);
    const double area = static_cast<double>(b.height) * b.width / (300.0 * 400.0);
    const double ratio = static_cast<double>(b.width) / b.height;
    ASSERT_GE(area, 0.08 * 0.9) << seed;  // rounding to whole pixels
    ASSERT_LE(area, 1.0);
    ASSERT_GE(ratio, 0.75 * 0.95) << seed;
    ASSERT_LE(ratio, 4.0 / 3 * 1.05) << seed;
  }
  // A 1000 x 10 strip fits no ratio in [3/4, 4/3]: the centre crop of the closest one.
  SampleRandom random(1);
  const CropBox strip = RandomResizedCropBox(1000, 10, aug, random);
  EXPECT_EQ(strip.width, 10);
  EXPECT_EQ(strip.height, 13);  // round(10 / (3/4)) = 13
  EXPECT_EQ(strip.top, (1000 - 13) / 2);
}

TEST(JpegTest, ScaledDecodesCoverWhatIsNeeded) {
  EXPECT_EQ(JpegScaleEighths(800, 800, 100, 100), 1);
  EXPECT_EQ(JpegScaleEighths(800, 800, 224, 224), 4);  // 3/8 would do, but has no SIMD inverse DCT
  EXPECT_EQ(JpegScaleEighths(900, 900, 224, 224), 2);
  EXPECT_EQ(JpegScaleEighths(100, 800, 224, 224), 8);
  const std::string dir = TempDir("jpeg");
  const Image im = Pattern(120, 200, 5);
  WriteJpeg(dir + "/a.jpg", im, 95);
  const std::string bytes = *ReadFile(dir + "/a.jpg", 1 << 24);
  ASSERT_TRUE(IsJpeg(bytes));
  absl::StatusOr<Image> full = DecodeJpeg(bytes, "a.jpg");
  ASSERT_TRUE(full.ok()) << full.status();
  EXPECT_EQ(full->height, 120);
  EXPECT_EQ(full->width, 200);
  absl::StatusOr<Image> stb = DecodeImage(bytes, "a.jpg");
  double diff = 0;
  for (size_t i = 0; i < full->pixels.size(); ++i) diff += std::abs(full->pixels[i] - stb->pixels[i]);
  EXPECT_LT(diff / full->pixels.size(), 1.5) << "libjpeg-turbo and stb decode the same picture";
  absl::StatusOr<Image> quarter = DecodeJpeg(bytes, "a.jpg", 2);
  ASSERT_TRUE(quarter.ok());
  EXPECT_EQ(quarter->height, 30);
  EXPECT_EQ(quarter->width, 50);
  EXPECT_THAT(std::string(DecodeJpeg(bytes.substr(0, 40), "cut.jpg").status().message()), HasSubstr("cut.jpg: not a readable JPEG"));
}

TEST(JpegTest, GrayAndCmykAsPillowReadsThem) {
  const std::string dir = TempDir("jpeg_modes");
  WritePng(dir + "/src.png", Pattern(40, 48, 7));
  const auto r = RunProcess(PythonPath(), {"-c",
      "import sys; from PIL import Image; im = Image.open(sys.argv[1]);"
      "im.convert('L').save(sys.argv[2] + '/gray.jpg', quality=95); im.convert('CMYK').save(sys.argv[2] + '/cmyk.jpg', quality=95);"
      "open(sys.argv[2] + '/cmyk.raw', 'wb').write(Image.open(sys.argv[2] + '/cmyk.jpg').convert('RGB').tobytes())",
      dir + "/src.png", dir});
  ASSERT_EQ(r.exit_code(), 0) << r.output;
  absl::StatusOr<Image> gray = DecodeJpeg(*ReadFile(dir + "/gray.jpg", 1 << 24), "gray.jpg");
  ASSERT_TRUE(gray.ok()) << gray.status();
  EXPECT_EQ(gray->channels, 1);
  absl::StatusOr<Image> cmyk = DecodeJpeg(*ReadFile(dir + "/cmyk.jpg", 1 << 24), "cmyk.jpg");
  ASSERT_TRUE(cmyk.ok()) << cmyk.status();
  ASSERT_EQ(cmyk->channels, 3);
  const std::string pillow = *ReadFile(dir + "/cmyk.raw", 1 << 24);
  ASSERT_EQ(pillow.size(), cmyk->pixels.size());
  double diff = 0;
  for (size_t i = 0; i < pillow.size(); ++i) diff += std::abs(static_cast<uint8_t>(pillow[i]) - cmyk->pixels[i]);
  EXPECT_LT(diff / pillow.size(), 1.0);
}

// n JPEGs of 3 classes, 96 x 128 pixels.
Dataset MakeFolder(const std::string& root, int n) {
  for (int i = 0; i < n; ++i) WriteJpeg(root + "/c" + std::to_string(i % 3) + "/" + std::to_string(i) + ".jpg", Pattern(96, 128, i));
  absl::StatusOr<ImageFolderListing> l = ListImageFolder(root);
  EXPECT_TRUE(l.ok()) << l.status();
  Dataset d = std::move(l->dataset);
  d.file_shape = {3, 32, 32};
  return d;
}

std::vector<float> OneEpoch(const Dataset& d, int threads, bool augment) {
  LoaderOptions o{.batch_size = 8, .shuffle = true, .drop_last = false, .seed = 5};
  o.decode_threads = threads;
  o.augmentation.random_resized_crop = augment;
  o.augmentation.horizontal_flip = augment;
  o.augmentation.trivial_augment = augment;
  o.augmentation.color_jitter = {0.4, 0.4, 0.4, 0.1};
  o.augmentation.random_erase = augment ? 0.5 : 0.0;
  auto loader = *Loader::Create(&d, o);
  loader->StartEpoch(1);
  std::vector<float> all;
  while (const Batch* b = loader->Next()) all.insert(all.end(), b->images.f32(), b->images.f32() + b->images.num_elements());
  EXPECT_TRUE(loader->status().ok()) << loader->status();
  return all;
}

TEST(StreamedLoaderTest, SameBatchesWhateverTheDecodeThreads) {
  const Dataset d = MakeFolder(TempDir("stream_threads"), 30);
  const std::vector<float> one = OneEpoch(d, 1, true);
  EXPECT_EQ(one.size(), 30u * 3 * 32 * 32);
  EXPECT_EQ(one, OneEpoch(d, 3, true));
  EXPECT_NE(one, OneEpoch(d, 1, false));
}

TEST(StreamedLoaderTest, AnEpochStartedPartWayGivesTheRestOfTheBatches) {
  const Dataset d = MakeFolder(TempDir("stream_resume"), 24);
  LoaderOptions o{.batch_size = 8, .shuffle = true, .drop_last = true, .seed = 9};
  o.augmentation.random_resized_crop = o.augmentation.horizontal_flip = true;
  auto whole = *Loader::Create(&d, o);
  whole->StartEpoch(3);
  whole->Next();
  const Batch* b2 = whole->Next();
  const std::vector<float> second(b2->images.f32(), b2->images.f32() + 8 * 3 * 32 * 32);
  auto resumed = *Loader::Create(&d, o);
  resumed->StartEpoch(3, 1);  // a resume after the first batch
  const Batch* b = resumed->Next();
  EXPECT_EQ(std::vector<float>(b->images.f32(), b->images.f32() + 8 * 3 * 32 * 32), second);
}

TEST(StreamedLoaderTest, AnUnreadableImageIsAnErrorNamingIt) {
  const std::string root = TempDir("stream_bad");
  Dataset d = MakeFolder(root, 9);
  Write(root + "/c1/broken.jpg", "\xFF\xD8\xFF not really");
  absl::StatusOr<ImageFolderListing> l = ListImageFolder(root);
  d = std::move(l->dataset);
  d.file_shape = {3, 32, 32};
  LoaderOptions o{.batch_size = 4, .shuffle = false, .drop_last = false};
  auto loader = *Loader::Create(&d, o);
  loader->StartEpoch(0);
  while (loader->Next() != nullptr) {
  }
  EXPECT_THAT(std::string(loader->status().message()), HasSubstr("broken.jpg: not a readable JPEG"));
}

// --skip_bad_images: the epoch runs to its end with full batches; the bad image's place holds
// the next image of the order (its pixels and label), on any number of decode threads; the
// skipped image is counted once, by name, and the count starts again with the next epoch.
TEST(StreamedLoaderTest, ASkippedBadImageIsReplacedByTheNextOneAndCounted) {
  const std::string root = TempDir("stream_skip");
  MakeFolder(root, 9);
  Write(root + "/c1/broken.jpg", "\xFF\xD8\xFF not really");
  absl::StatusOr<ImageFolderListing> l = ListImageFolder(root);
  ASSERT_TRUE(l.ok()) << l.status();
  Dataset d = std::move(l->dataset);
  d.file_shape = {3, 32, 32};
  int64_t broken = -1;
  for (int64_t i = 0; i < d.size(); ++i) {
    if ((*d.files)[i].find("broken.jpg") != std::string::npos) broken = i;
  }
  ASSERT_GE(broken, 0);
  ASSERT_LT(broken + 1, d.size());
  const int64_t floats = 3 * 32 * 32;
  std::vector<float> next(floats);
  ASSERT_TRUE(MakeSample(d, broken + 1, {}, {}, 0, next.data()).ok());
  for (int threads : {1, 3}) {
    SCOPED_TRACE(threads);
    LoaderOptions o{.batch_size = 5, .shuffle = false, .drop_last = true, .skip_bad_images = true};
    o.decode_threads = threads;
    auto loader = *Loader::Create(&d, o);
    for (int epoch = 0; epoch < 2; ++epoch) {
      loader->StartEpoch(epoch);
      int64_t seen = 0;
      while (const Batch* b = loader->Next()) {
        ASSERT_EQ(b->size(), 5);
        for (int64_t i = 0; i < 5; ++i, ++seen) {
          if (seen != broken) continue;
          EXPECT_EQ(b->labels.i32()[i], d.labels[broken + 1]);
          EXPECT_EQ(std::vector<float>(b->images.f32() + i * floats, b->images.f32() + (i + 1) * floats), next);
        }
      }
      EXPECT_TRUE(loader->status().ok()) << loader->status();
      EXPECT_EQ(seen, 10);
      const std::vector<std::string> skipped = loader->skipped_images();
      ASSERT_EQ(skipped.size(), 1u);
      EXPECT_THAT(skipped[0], HasSubstr("broken.jpg: not a readable JPEG"));
    }
  }
}

TEST(StreamedLoaderTest, SixteenBitAndGrayImagesBecomeTheModelsChannels) {
  const std::string root = TempDir("stream_16bit");
  fs::create_directories(root + "/a");
  const auto r = RunProcess(PythonPath(), {"-c",
      "import sys, numpy as np; from PIL import Image\n"
      "Image.fromarray(np.full((20, 24), 40000, dtype=np.uint16)).save(sys.argv[1] + '/a/deep.png')\n"
      "Image.fromarray(np.full((20, 24), 77, dtype=np.uint8)).save(sys.argv[1] + '/a/gray.jpg', quality=100)",
      root});
  ASSERT_EQ(r.exit_code(), 0) << r.output;
  absl::StatusOr<ImageFolderListing> l = ListImageFolder(root);
  ASSERT_TRUE(l.ok()) << l.status();
  Dataset d = std::move(l->dataset);
  d.file_shape = {3, 8, 8};
  const Normalization bytes{{0.0f}, {1.0f / 255.0f}};  // the normalized value is the byte
  std::vector<float> out(3 * 8 * 8);
  ASSERT_TRUE(MakeSample(d, 0, bytes, {}, 1, out.data()).ok());  // deep.png: 40000 / 256 = 156
  for (float v : out) ASSERT_NEAR(v, 156, 1e-3);
  ASSERT_TRUE(MakeSample(d, 1, bytes, {}, 1, out.data()).ok());  // gray.jpg replicated to RGB
  for (float v : out) ASSERT_NEAR(v, 77, 1.001);
}

int64_t PeakRssKb() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6));
  }
  return 0;
}

TEST(StreamedLoaderTest, MemoryDoesNotGrowWithTheNumberOfImages) {
#if defined(__SANITIZE_ADDRESS__)
  // AddressSanitizer keeps freed memory in quarantine (256 MB by default): RSS then grows with
  // every allocation, leak or not. LeakSanitizer checks for leaks in that build instead.
  GTEST_SKIP() << "peak RSS is not meaningful under AddressSanitizer";
#endif
  const Dataset small = MakeFolder(TempDir("stream_small"), 60);
  const Dataset large = MakeFolder(TempDir("stream_large"), 600);
  OneEpoch(small, 2, true);
  const int64_t after_small = PeakRssKb();
  OneEpoch(large, 2, true);
  const int64_t after_large = PeakRssKb();
  EXPECT_LT(after_large - after_small, 50 * 1024) << "peak RSS grew from " << after_small << " kB to " << after_large << " kB";
}

}  // namespace
}  // namespace dlf::data
