// Image resampling as Pillow does it (libImaging/Resample.c), which is what torchvision's
// Resize and RandomResizedCrop run on PIL images: a separable filter whose support widens with
// the downscale factor (antialiasing), horizontal pass then vertical, 8-bit fixed point with
// 22 fractional bits and rounding, so results match Pillow's to the bit.

#include <algorithm>
#include <cmath>
#include <vector>

#include "data/image.h"

namespace dlf::data {
namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;

double Triangle(double x) {
  x = std::abs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

double Cubic(double x) {  // Keys' cubic with a = -0.5, as Pillow's BICUBIC
  constexpr double a = -0.5;
  x = std::abs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

// For each output pixel: its first input pixel, how many it reads, and their weights.
struct Taps {
  std::vector<int64_t> first, count;
  std::vector<int32_t> weights;  // [out, kernel_size], fixed point
  int64_t kernel_size = 0;
};

Taps Precompute(int64_t in_size, int64_t out_size, Interpolation interpolation) {
  const double base_support = interpolation == Interpolation::kBicubic ? 2.0 : 1.0;
  const double scale = static_cast<double>(in_size) / static_cast<double>(out_size);
  const double filter_scale = std::max(scale, 1.0);
  const double support = base_support * filter_scale;
  Taps t;
  t.kernel_size = static_cast<int64_t>(std::ceil(support)) * 2 + 1;
  t.weights.assign(out_size * t.kernel_size, 0);
  std::vector<double> k(t.kernel_size);
  for (int64_t xx = 0; xx < out_size; ++xx) {
    const double center = (static_cast<double>(xx) + 0.5) * scale;
    int64_t xmin = static_cast<int64_t>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int64_t xmax = static_cast<int64_t>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double total = 0.0;
    for (int64_t x = 0; x < xmax; ++x) {
      const double arg = (static_cast<double>(x + xmin) - center + 0.5) / filter_scale;
      k[x] = interpolation == Interpolation::kBicubic ? Cubic(arg) : Triangle(arg);
      total += k[x];
    }
    for (int64_t x = 0; x < xmax; ++x) {
      const double w = total != 0.0 ? k[x] / total : k[x];
      t.weights[xx * t.kernel_size + x] =
          static_cast<int32_t>(std::trunc((w < 0 ? -0.5 : 0.5) + w * (1 << kPrecisionBits)));
    }
    t.first.push_back(xmin);
    t.count.push_back(xmax);
  }
  return t;
}

uint8_t Clip8(int64_t sum) {
  return static_cast<uint8_t>(std::clamp<int64_t>(sum >> kPrecisionBits, 0, 255));
}

// One pass: `along_x` resamples each row, otherwise each column.
Image Pass(const Image& in, int64_t out_size, bool along_x, Interpolation interpolation) {
  const int64_t c = in.channels;
  const Taps t = Precompute(along_x ? in.width : in.height, out_size, interpolation);
  Image out{along_x ? in.height : out_size, along_x ? out_size : in.width, c, {}};
  out.pixels.resize(out.height * out.width * c);
  for (int64_t y = 0; y < out.height; ++y) {
    for (int64_t x = 0; x < out.width; ++x) {
      const int64_t o = along_x ? x : y;
      const int32_t* w = &t.weights[o * t.kernel_size];
      for (int64_t ch = 0; ch < c; ++ch) {
        int64_t sum = int64_t{1} << (kPrecisionBits - 1);
        for (int64_t i = 0; i < t.count[o]; ++i) {
          const int64_t sy = along_x ? y : t.first[o] + i, sx = along_x ? t.first[o] + i : x;
          sum += static_cast<int64_t>(in.pixels[(sy * in.width + sx) * c + ch]) * w[i];
        }
        out.pixels[(y * out.width + x) * c + ch] = Clip8(sum);
      }
    }
  }
  return out;
}

}  // namespace

Image ResizeImage(const Image& image, int64_t height, int64_t width, Interpolation interpolation) {
  Image out = width == image.width ? image : Pass(image, width, true, interpolation);
  return height == out.height ? out : Pass(out, height, false, interpolation);
}

}  // namespace dlf::data
