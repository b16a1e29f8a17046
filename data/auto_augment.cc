#include "data/auto_augment.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "data/color_jitter.h"
#include "data/image_transforms.h"

namespace dlf::data {
namespace {

// Pillow's transform(AFFINE, NEAREST) of an image onto itself: output (x, y) reads input
// (a0 x + a1 y + a2, a3 x + a4 y + a5) at pixel centres; ImagingScaleAffine when there is no
// rotation or shear, else affine_fixed (16.16 fixed point).
Image AffineNearest(const Image& in, const double a[6]) {
  const int64_t w = in.width, h = in.height, c = in.channels;
  Image out{h, w, c, std::vector<uint8_t>(in.pixels.size(), 0)};
  auto copy = [&](int64_t y, int64_t x, int64_t yi, int64_t xi) {
    std::copy_n(&in.pixels[(yi * w + xi) * c], c, &out.pixels[(y * w + x) * c]);
  };
  auto coord = [](double v) { return v < 0.0 ? int64_t{-1} : static_cast<int64_t>(v); };
  if (a[1] == 0 && a[3] == 0) {
    double yo = a[5] + a[4] * 0.5;
    for (int64_t y = 0; y < h; ++y, yo += a[4]) {
      const int64_t yi = coord(yo);
      double xo = a[2] + a[0] * 0.5;
      for (int64_t x = 0; x < w; ++x, xo += a[0]) {
        const int64_t xi = coord(xo);
        if (yi >= 0 && yi < h && xi >= 0 && xi < w) copy(y, x, yi, xi);
      }
    }
    return out;
  }
  auto fix = [](double v) {
    v = v * 65536.0 + 0.5;
    return static_cast<int32_t>(v < 0.0 ? std::floor(v) : v);
  };
  const int32_t a0 = fix(a[0]), a1 = fix(a[1]), a3 = fix(a[3]), a4 = fix(a[4]);
  int32_t a2 = fix(a[2] + a[0] * 0.5 + a[1] * 0.5), a5 = fix(a[5] + a[3] * 0.5 + a[4] * 0.5);
  for (int64_t y = 0; y < h; ++y, a2 += a1, a5 += a4) {
    int32_t xx = a2, yy = a5;
    for (int64_t x = 0; x < w; ++x, xx += a0, yy += a3) {
      const int32_t xi = xx >> 16, yi = yy >> 16;
      if (xi >= 0 && xi < w && yi >= 0 && yi < h) copy(y, x, yi, xi);
    }
  }
  return out;
}

// torchvision's _get_inverse_affine_matrix (angle and shears in degrees).
void InverseAffine(double cx, double cy, double angle, double tx, double ty, double shear_x, double shear_y, double m[6]) {
  const double rot = angle * M_PI / 180, sx = shear_x * M_PI / 180, sy = shear_y * M_PI / 180;
  const double a = std::cos(rot - sy) / std::cos(sy);
  const double b = -std::cos(rot - sy) * std::tan(sx) / std::cos(sy) - std::sin(rot);
  const double c = std::sin(rot - sy) / std::cos(sy);
  const double d = -std::sin(rot - sy) * std::tan(sx) / std::cos(sy) + std::cos(rot);
  m[0] = d, m[1] = -b, m[2] = 0.0, m[3] = -c, m[4] = a, m[5] = 0.0;
  m[2] += m[0] * (-cx - tx) + m[1] * (-cy - ty);
  m[5] += m[3] * (-cx - tx) + m[4] * (-cy - ty);
  m[2] += cx;
  m[5] += cy;
}

// Pillow's Image.transpose for the rotations by 90 (counter-clockwise), 180 and 270 degrees.
Image Turn(const Image& in, int quarter_turns) {
  const int64_t w = in.width, h = in.height, c = in.channels;
  const bool swap = quarter_turns % 2 == 1;
  Image out{swap ? w : h, swap ? h : w, c, std::vector<uint8_t>(in.pixels.size())};
  for (int64_t y = 0; y < out.height; ++y) {
    for (int64_t x = 0; x < out.width; ++x) {
      int64_t yi = y, xi = x;
      if (quarter_turns == 1) yi = x, xi = w - 1 - y;
      if (quarter_turns == 2) yi = h - 1 - y, xi = w - 1 - x;
      if (quarter_turns == 3) yi = h - 1 - x, xi = y;
      std::copy_n(&in.pixels[(yi * w + xi) * c], c, &out.pixels[(y * out.width + x) * c]);
    }
  }
  return out;
}

// Pillow's Image.rotate(angle, NEAREST) about the centre, same size.
Image Rotate(const Image& in, double degrees) {
  const double angle = std::fmod(std::fmod(degrees, 360.0) + 360.0, 360.0);
  if (angle == 0) return in;
  if (angle == 180) return Turn(in, 2);
  if ((angle == 90 || angle == 270) && in.width == in.height) return Turn(in, angle == 90 ? 1 : 3);
  const double r = -angle * M_PI / 180;
  auto round15 = [](double v) { return std::nearbyint(v * 1e15) / 1e15; };
  double m[6] = {round15(std::cos(r)), round15(std::sin(r)), 0.0, round15(-std::sin(r)), round15(std::cos(r)), 0.0};
  const double cx = in.width / 2.0, cy = in.height / 2.0;
  m[2] = m[0] * -cx + m[1] * -cy + m[2] + cx;
  m[5] = m[3] * -cx + m[4] * -cy + m[5] + cy;
  return AffineNearest(in, m);
}

void ApplyTable(Image& image, const uint8_t (&table)[256]) {
  for (uint8_t& p : image.pixels) p = table[p];
}

// ImageOps.autocontrast (no cutoff): each channel stretched from its lowest to its highest value.
void AutoContrast(Image& image) {
  const int64_t c = image.channels;
  for (int64_t ch = 0; ch < c; ++ch) {
    int lo = 255, hi = 0;
    for (size_t i = ch; i < image.pixels.size(); i += c) lo = std::min<int>(lo, image.pixels[i]), hi = std::max<int>(hi, image.pixels[i]);
    if (hi <= lo) continue;
    const double scale = 255.0 / (hi - lo), offset = -lo * scale;
    uint8_t table[256];
    for (int v = 0; v < 256; ++v) {
      const volatile double product = v * scale;  // rounded on its own, as in Python (no fused multiply-add)
      table[v] = static_cast<uint8_t>(std::clamp(static_cast<int>(product + offset), 0, 255));
    }
    for (size_t i = ch; i < image.pixels.size(); i += c) image.pixels[i] = table[image.pixels[i]];
  }
}

// ImageOps.equalize: each channel through its cumulative histogram.
void Equalize(Image& image) {
  const int64_t c = image.channels;
  for (int64_t ch = 0; ch < c; ++ch) {
    int64_t histogram[256] = {};
    for (size_t i = ch; i < image.pixels.size(); i += c) ++histogram[image.pixels[i]];
    int64_t last = 0, total = 0, used = 0;
    for (int v = 0; v < 256; ++v) {
      if (histogram[v] == 0) continue;
      last = histogram[v], total += histogram[v], ++used;
    }
    const int64_t step = (total - last) / 255;
    if (used <= 1 || step == 0) continue;
    uint8_t table[256];
    int64_t n = step / 2;
    for (int v = 0; v < 256; ++v) {
      table[v] = static_cast<uint8_t>(std::min<int64_t>(n / step, 255));
      n += histogram[v];
    }
    for (size_t i = ch; i < image.pixels.size(); i += c) image.pixels[i] = table[image.pixels[i]];
  }
}

// ImageEnhance.Sharpness: a blend with ImageFilter.SMOOTH (3x3 kernel 1 1 1 / 1 5 1 / 1 1 1,
// divided by 13; the border kept).
void Sharpness(Image& image, double factor) {
  const int64_t w = image.width, h = image.height, c = image.channels;
  Image smooth = image;
  for (int64_t y = 1; y + 1 < h; ++y) {
    for (int64_t x = 1; x + 1 < w; ++x) {
      for (int64_t ch = 0; ch < c; ++ch) {
        float sum = 0;
        for (int dy = -1; dy <= 1; ++dy) {
          for (int dx = -1; dx <= 1; ++dx) {
            const float k = (dy == 0 && dx == 0 ? 5.0f : 1.0f) / 13.0f;
            sum += image.pixels[((y + dy) * w + x + dx) * c + ch] * k;
          }
        }
        smooth.pixels[(y * w + x) * c + ch] = sum <= 0 ? 0 : sum >= 255 ? 255 : static_cast<uint8_t>(sum + 0.5f);
      }
    }
  }
  const float alpha = static_cast<float>(factor);
  for (size_t i = 0; i < image.pixels.size(); ++i) {
    const volatile float product = alpha * (static_cast<float>(image.pixels[i]) - smooth.pixels[i]);
    const float v = smooth.pixels[i] + product;
    image.pixels[i] = v <= 0 ? 0 : v >= 255 ? 255 : static_cast<uint8_t>(v);
  }
}

}  // namespace

void ApplyAugmentOp(Image& image, AugmentOp op, double magnitude) {
  double m[6];
  const double degrees = std::atan(magnitude) * 180 / M_PI;
  switch (op) {
    case AugmentOp::kIdentity:
      return;
    case AugmentOp::kShearX:
      InverseAffine(0, 0, 0, 0, 0, degrees, 0, m);
      image = AffineNearest(image, m);
      return;
    case AugmentOp::kShearY:
      InverseAffine(0, 0, 0, 0, 0, 0, degrees, m);
      image = AffineNearest(image, m);
      return;
    case AugmentOp::kTranslateX:
    case AugmentOp::kTranslateY: {
      const double t = static_cast<double>(static_cast<int64_t>(magnitude));
      InverseAffine(image.width * 0.5, image.height * 0.5, 0, op == AugmentOp::kTranslateX ? t : 0,
                    op == AugmentOp::kTranslateY ? t : 0, 0, 0, m);
      image = AffineNearest(image, m);
      return;
    }
    case AugmentOp::kRotate:
      image = Rotate(image, magnitude);
      return;
    case AugmentOp::kBrightness:
      return AdjustBrightness(image, 1.0 + magnitude);
    case AugmentOp::kColor:
      return AdjustSaturation(image, 1.0 + magnitude);
    case AugmentOp::kContrast:
      return AdjustContrast(image, 1.0 + magnitude);
    case AugmentOp::kSharpness:
      return Sharpness(image, 1.0 + magnitude);
    case AugmentOp::kPosterize: {
      const int bits = static_cast<int>(magnitude);
      const uint8_t mask = static_cast<uint8_t>(~((1 << (8 - bits)) - 1));
      uint8_t table[256];
      for (int v = 0; v < 256; ++v) table[v] = static_cast<uint8_t>(v & mask);
      return ApplyTable(image, table);
    }
    case AugmentOp::kSolarize: {
      uint8_t table[256];
      for (int v = 0; v < 256; ++v) table[v] = static_cast<uint8_t>(v < magnitude ? v : 255 - v);
      return ApplyTable(image, table);
    }
    case AugmentOp::kAutoContrast:
      return AutoContrast(image);
    case AugmentOp::kEqualize:
      return Equalize(image);
  }
}

void TrivialAugmentWide(Image& image, SampleRandom& random) {
  constexpr int kOps = 14, kBins = 31;
  const auto op = static_cast<AugmentOp>(random.Below(kOps));
  const int bin = static_cast<int>(random.Below(kBins));
  const double at = static_cast<double>(bin) / (kBins - 1);  // torch.linspace(lo, hi, 31)[bin]
  double magnitude = 0;
  bool signed_op = true;
  switch (op) {
    case AugmentOp::kShearX: case AugmentOp::kShearY: case AugmentOp::kBrightness: case AugmentOp::kColor:
    case AugmentOp::kContrast: case AugmentOp::kSharpness:
      magnitude = 0.99 * at;
      break;
    case AugmentOp::kTranslateX: case AugmentOp::kTranslateY:
      magnitude = 32.0 * at;
      break;
    case AugmentOp::kRotate:
      magnitude = 135.0 * at;
      break;
    case AugmentOp::kPosterize:
      magnitude = 8 - std::nearbyint(bin / ((kBins - 1) / 6.0));
      signed_op = false;
      break;
    case AugmentOp::kSolarize:
      magnitude = 255.0 * (1 - at);
      signed_op = false;
      break;
    default:
      signed_op = false;
  }
  if (signed_op && random.Uniform() < 0.5) magnitude = -magnitude;
  ApplyAugmentOp(image, op, magnitude);
}

}  // namespace dlf::data
