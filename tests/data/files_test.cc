// Files: safetensors, whole-file reads, atomic writes; images: decoding, channels, resizing.
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "data/dataset.h"
#include "data/file_io.h"
#include "data/image.h"
#include "data/safetensors.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "stb/stb_image_write.h"
#include "tests/testing/temp_dir.h"

namespace dlf::data {
namespace {

using ::testing::HasSubstr;
using ::dlf::testing::TempDir;

std::string Message(const absl::Status& s) { return std::string(s.message()); }

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

TEST(FileIoTest, ReadFileNamesWhatItFound) {
  const std::string dir = TempDir("file_io");
  EXPECT_THAT(Message(ReadFile(dir, 100).status()), HasSubstr(": is a directory, expected a file"));
  EXPECT_EQ(ReadFile(dir + "/none", 100).status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(WriteFileAtomically(dir + "/f", "hello").ok());
  EXPECT_EQ(*ReadFile(dir + "/f", 100), "hello");
  EXPECT_THAT(Message(ReadFile(dir + "/f", 3).status()), HasSubstr("5 bytes, more than the 3"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/f.tmp"));
}

Image Gradient(int64_t h, int64_t w, int64_t c) {
  Image im{h, w, c, std::vector<uint8_t>(h * w * c)};
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x)
      for (int64_t k = 0; k < c; ++k) im.pixels[(y * w + x) * c + k] = static_cast<uint8_t>(10 * x + y + 50 * k);
  return im;
}

TEST(ImageTest, DecodesPngAndBmpExactlyAndJpegClosely) {
  const std::string dir = TempDir("images");
  const Image rgb = Gradient(6, 9, 3);
  ASSERT_TRUE(stbi_write_png((dir + "/a.png").c_str(), 9, 6, 3, rgb.pixels.data(), 0));
  ASSERT_TRUE(stbi_write_bmp((dir + "/a.bmp").c_str(), 9, 6, 3, rgb.pixels.data()));
  ASSERT_TRUE(stbi_write_jpg((dir + "/a.jpg").c_str(), 9, 6, 3, rgb.pixels.data(), 100));
  for (const char* name : {"/a.png", "/a.bmp"}) {
    absl::StatusOr<Image> back = ReadImage(dir + name);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(back->height, 6);
    EXPECT_EQ(back->width, 9);
    EXPECT_EQ(back->channels, 3);
    EXPECT_EQ(back->pixels, rgb.pixels) << name;
  }
  absl::StatusOr<Image> jpg = ReadImage(dir + "/a.jpg");
  ASSERT_TRUE(jpg.ok()) << jpg.status();
  for (size_t i = 0; i < rgb.pixels.size(); ++i) EXPECT_NEAR(jpg->pixels[i], rgb.pixels[i], 12) << i;
}

TEST(ImageTest, RejectsWhatIsNotAnImageOrTooLarge) {
  EXPECT_THAT(Message(DecodeImage("hello, not an image", "x.png").status()),
              HasSubstr("x.png: not an image stb can decode (expected PNG, JPEG or BMP)"));
  EXPECT_THAT(Message(DecodeImage("", "empty.png").status()), HasSubstr("empty.png: not an image"));
  // A BMP header that claims 100000 x 100000 pixels: refused before any pixel is decoded.
  std::string bmp(54, '\0');
  bmp[0] = 'B', bmp[1] = 'M';
  auto put32 = [&](int at, uint32_t v) { std::memcpy(&bmp[at], &v, 4); };
  put32(10, 54), put32(14, 40), put32(18, 100000), put32(22, 100000);
  bmp[26] = 1, bmp[28] = 24;
  EXPECT_THAT(Message(DecodeImage(bmp, "huge.bmp").status()), HasSubstr("huge.bmp: 100000x100000 pixels"));
  const std::string dir = TempDir("notimage");
  EXPECT_THAT(Message(ReadImage(dir).status()), HasSubstr("is a directory"));
}

TEST(ImageTest, ChannelsResizeCropAndPad) {
  const Image rgb = Gradient(4, 4, 3);
  absl::StatusOr<Image> gray = ConvertChannels(rgb, 1);
  ASSERT_TRUE(gray.ok());
  const uint8_t* p = &rgb.pixels[3 * 5];
  EXPECT_EQ(gray->pixels[5], static_cast<uint8_t>(std::lround(0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2])));
  absl::StatusOr<Image> back = ConvertChannels(*gray, 3);
  EXPECT_EQ(back->pixels[3 * 5 + 2], gray->pixels[5]);
  EXPECT_THAT(Message(ConvertChannels(Image{1, 1, 2, {0, 0}}, 3).status()),
              HasSubstr("cannot convert an image of 2 channels to 3"));

  const Image flat{10, 20, 1, std::vector<uint8_t>(200, 77)};
  const Image cropped = ResizeAndCenterCrop(flat, 5, 5);  // 10x20 -> 5x10 -> centre 5x5
  EXPECT_EQ(cropped.height, 5);
  EXPECT_EQ(cropped.width, 5);
  for (uint8_t v : cropped.pixels) EXPECT_EQ(v, 77);
  // Downscaling a horizontal ramp by 2 keeps it increasing left to right.
  const Image ramp = ResizeBilinear(Gradient(8, 16, 1), 4, 8);
  for (int64_t x = 1; x < 8; ++x) EXPECT_GT(ramp.pixels[x], ramp.pixels[x - 1]);

  const Image padded = PadCentered(Gradient(2, 2, 1), 4, 6);
  EXPECT_EQ(padded.pixels[0], 0);
  EXPECT_EQ(padded.pixels[1 * 6 + 2], Gradient(2, 2, 1).pixels[0]);
}

TEST(ImageTest, FitToShapeShrinksLargerImages) {
  // CIFAR-10-sized RGB images into LeNet's 1x28x28 (this once wrote out of bounds).
  Dataset d;
  d.images = Tensor(DType::kU8, {3, 3, 32, 32});
  std::memset(d.images.u8(), 200, d.images.num_bytes());
  d.labels = {0, 1, 2};
  d.num_classes = 3;
  absl::StatusOr<Dataset> fitted = FitToShape(d, 1, 28, 28);
  ASSERT_TRUE(fitted.ok()) << fitted.status();
  EXPECT_EQ(fitted->images.shape(), (Shape{3, 1, 28, 28}));
  for (int64_t i = 0; i < fitted->images.num_elements(); ++i) ASSERT_EQ(fitted->images.u8()[i], 200);
  EXPECT_THAT(Message(FitToShape(d, 1, 0, 28).status()), HasSubstr("image shape must be positive"));
}

}  // namespace
}  // namespace dlf::data
