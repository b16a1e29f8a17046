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

uint8_t Clip8(int32_t sum) {
  return static_cast<uint8_t>(std::clamp(sum >> kPrecisionBits, 0, 255));
}

// Each output row is a weighted sum of whole input rows: one vectorizable pass per tap. The
// sums stay in int32 as Pillow's: 255 times weights summing to 2^22 (with cubic lobes below
// 2^23) cannot overflow.
Image Vertical(const Image& in, int64_t out_height, Interpolation interpolation) {
  const Taps t = Precompute(in.height, out_height, interpolation);
  const int64_t row_size = in.width * in.channels;
  Image out{out_height, in.width, in.channels, std::vector<uint8_t>(out_height * row_size)};
  std::vector<int32_t> sum(row_size);
  for (int64_t y = 0; y < out_height; ++y) {
    std::fill(sum.begin(), sum.end(), 1 << (kPrecisionBits - 1));
    const int32_t* w = &t.weights[y * t.kernel_size];
    for (int64_t i = 0; i < t.count[y]; ++i) {
      const uint8_t* src = &in.pixels[(t.first[y] + i) * row_size];
      const int32_t weight = w[i];
      for (int64_t j = 0; j < row_size; ++j) sum[j] += src[j] * weight;
    }
    uint8_t* dst = &out.pixels[y * row_size];
    for (int64_t j = 0; j < row_size; ++j) dst[j] = Clip8(sum[j]);
  }
  return out;
}

// Each row resampled to `out_width` pixels; unrolled over the channels for 1 and 3.
template <int C>
void HorizontalRows(const Image& in, const Taps& t, Image& out) {
  const int64_t c = C > 0 ? C : in.channels;
  for (int64_t y = 0; y < in.height; ++y) {
    const uint8_t* row = &in.pixels[y * in.width * c];
    uint8_t* dst = &out.pixels[y * out.width * c];
    for (int64_t x = 0; x < out.width; ++x) {
      const int32_t* w = &t.weights[x * t.kernel_size];
      const uint8_t* src = row + t.first[x] * c;
      int32_t sum[C > 0 ? C : 4];
      for (int64_t ch = 0; ch < c; ++ch) sum[ch] = 1 << (kPrecisionBits - 1);
      for (int64_t i = 0; i < t.count[x]; ++i) {
        for (int64_t ch = 0; ch < c; ++ch) sum[ch] += src[i * c + ch] * w[i];
      }
      for (int64_t ch = 0; ch < c; ++ch) dst[x * c + ch] = Clip8(sum[ch]);
    }
  }
}

Image Horizontal(const Image& in, int64_t out_width, Interpolation interpolation) {
  const Taps t = Precompute(in.width, out_width, interpolation);
  Image out{in.height, out_width, in.channels, std::vector<uint8_t>(in.height * out_width * in.channels)};
  if (in.channels == 3) {
    HorizontalRows<3>(in, t, out);
  } else if (in.channels == 1) {
    HorizontalRows<1>(in, t, out);
  } else {
    HorizontalRows<0>(in, t, out);  // 2 or 4 channels
  }
  return out;
}

}  // namespace

Image ResizeImage(const Image& image, int64_t height, int64_t width, Interpolation interpolation) {
  Image out = width == image.width ? image : Horizontal(image, width, interpolation);
  return height == out.height ? out : Vertical(out, height, interpolation);
}

}  // namespace dlf::data
