// TrivialAugmentWide's operations against torchvision's own (_apply_op on PIL images, run with
// python3-torchvision), operation by operation, at magnitudes of both signs, on a square image
// (rotations by 90 degrees are transposes there) and another: equal to the bit.
#include <string>
#include <vector>

#include "data/auto_augment.h"
#include "data/file_io.h"
#include "data/image_transforms.h"
#include "gtest/gtest.h"
#include "stb/stb_image_write.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"

namespace dlf::data {
namespace {

Image Pattern(int64_t h, int64_t w) {
  Image im{h, w, 3, std::vector<uint8_t>(h * w * 3)};
  for (int64_t i = 0; i < h * w * 3; ++i) im.pixels[i] = static_cast<uint8_t>(40 + (i * 37 + (i / 7) * (i % 13)) % 180);
  return im;
}

struct Case {
  const char* name;  // torchvision's op name
  AugmentOp op;
  double magnitude;
};

TEST(TrivialAugmentTest, EachOperationIsTorchvisions) {
  const std::vector<Case> cases = {
      {"Identity", AugmentOp::kIdentity, 0},        {"ShearX", AugmentOp::kShearX, 0.3},
      {"ShearX", AugmentOp::kShearX, -0.693},       {"ShearY", AugmentOp::kShearY, 0.5},
      {"ShearY", AugmentOp::kShearY, -0.99},        {"TranslateX", AugmentOp::kTranslateX, 12.8},
      {"TranslateX", AugmentOp::kTranslateX, -7},   {"TranslateY", AugmentOp::kTranslateY, 30},
      {"TranslateY", AugmentOp::kTranslateY, -3.2}, {"Rotate", AugmentOp::kRotate, 31.5},
      {"Rotate", AugmentOp::kRotate, -135},         {"Rotate", AugmentOp::kRotate, 90},
      {"Brightness", AugmentOp::kBrightness, 0.33}, {"Color", AugmentOp::kColor, -0.66},
      {"Contrast", AugmentOp::kContrast, 0.495},    {"Sharpness", AugmentOp::kSharpness, 0.9},
      {"Sharpness", AugmentOp::kSharpness, -0.5}, {"Posterize", AugmentOp::kPosterize, 3},
      {"Solarize", AugmentOp::kSolarize, 102},      {"AutoContrast", AugmentOp::kAutoContrast, 0},
      {"Equalize", AugmentOp::kEqualize, 0},
  };
  const std::string dir = ::dlf::testing::TempDir("trivial_augment");
  for (const bool square : {false, true}) {
    const Image im = Pattern(square ? 40 : 37, square ? 40 : 53);
    stbi_write_png((dir + "/in.png").c_str(), im.width, im.height, 3, im.pixels.data(), 0);
    std::string list;
    for (size_t i = 0; i < cases.size(); ++i) list += std::string(cases[i].name) + " " + std::to_string(cases[i].magnitude) + "\n";
    WriteFileAtomically(dir + "/cases.txt", list).IgnoreError();
    const auto r = ::dlf::testing::RunProcess(::dlf::testing::PythonPath(), {"-c",
        "import sys\nfrom PIL import Image\nfrom torchvision.transforms import InterpolationMode\n"
        "from torchvision.transforms.autoaugment import _apply_op\n"
        "d = sys.argv[1]\nim = Image.open(d + '/in.png').convert('RGB')\n"
        "for i, line in enumerate(open(d + '/cases.txt')):\n"
        "    name, m = line.split()\n"
        "    open(f'{d}/out{i}.raw', 'wb').write(_apply_op(im, name, float(m), InterpolationMode.NEAREST, None).tobytes())\n",
        dir});
    ASSERT_EQ(r.exit_code(), 0) << r.output;
    for (size_t i = 0; i < cases.size(); ++i) {
      Image ours = im;
      ApplyAugmentOp(ours, cases[i].op, cases[i].magnitude);
      const std::string theirs = ReadFile(dir + "/out" + std::to_string(i) + ".raw", 1 << 24).value_or("");
      ASSERT_EQ(theirs.size(), ours.pixels.size()) << cases[i].name;
      int64_t differ = 0;
      for (size_t k = 0; k < theirs.size(); ++k) differ += static_cast<uint8_t>(theirs[k]) != ours.pixels[k];
      EXPECT_EQ(differ, 0)
          << cases[i].name << "(" << cases[i].magnitude << ") on " << im.height << "x" << im.width << ": " << differ
          << " of " << theirs.size() << " bytes differ";
    }
  }
}

TEST(TrivialAugmentTest, DrawsEveryOperationFromTheSeed) {
  const Image im = Pattern(16, 16);
  std::vector<Image> outs;
  int changed = 0;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    Image a = im, b = im;
    SampleRandom ra(seed), rb(seed);
    TrivialAugmentWide(a, ra);
    TrivialAugmentWide(b, rb);
    ASSERT_EQ(a.pixels, b.pixels);
    changed += a.pixels != im.pixels;
  }
  EXPECT_GT(changed, 150);  // identity, zero magnitudes and fixed points leave some as they are
}

}  // namespace
}  // namespace dlf::data
