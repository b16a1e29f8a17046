#include "data/color_jitter.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "data/image_transforms.h"

namespace dlf::data {
namespace {

// Pillow's ImagingBlend: in1 + alpha * (in2 - in1) in float, truncated, clipped when alpha
// leaves [0, 1]. The product is rounded on its own, as in Pillow's x86-64 build: a fused
// multiply-add (what -march=native would make of it) changes some bytes.
uint8_t Blend(uint8_t degenerate, uint8_t pixel, float alpha) {
  const volatile float product = alpha * (static_cast<float>(pixel) - static_cast<float>(degenerate));
  const float v = static_cast<float>(degenerate) + product;
  if (alpha >= 0.0f && alpha <= 1.0f) return static_cast<uint8_t>(v);
  if (v <= 0.0f) return 0;
  if (v >= 255.0f) return 255;
  return static_cast<uint8_t>(v);
}

// Pillow's RGB -> L: ITU-R 601-2 luma in 16-bit fixed point.
uint8_t Luma(const uint8_t* rgb) { return static_cast<uint8_t>((rgb[0] * 19595 + rgb[1] * 38470 + rgb[2] * 7471 + 0x8000) >> 16); }

uint8_t Clip8(int v) { return static_cast<uint8_t>(std::clamp(v, 0, 255)); }

// Pillow's rgb2hsv_row (colorsys' formulas in float, truncated to bytes).
void RgbToHsv(const uint8_t* rgb, uint8_t* hsv) {
  const uint8_t r = rgb[0], g = rgb[1], b = rgb[2];
  const uint8_t maxc = std::max({r, g, b}), minc = std::min({r, g, b});
  hsv[2] = maxc;
  if (minc == maxc) {
    hsv[0] = hsv[1] = 0;
    return;
  }
  const float cr = static_cast<float>(maxc - minc);
  const float s = cr / static_cast<float>(maxc);
  const float rc = static_cast<float>(maxc - r) / cr, gc = static_cast<float>(maxc - g) / cr,
              bc = static_cast<float>(maxc - b) / cr;
  float h;
  if (r == maxc) {
    h = bc - gc;
  } else if (g == maxc) {
    h = 2.0 + rc - bc;
  } else {
    h = 4.0 + gc - rc;
  }
  h = std::fmod((h / 6.0 + 1.0), 1.0);
  hsv[0] = Clip8(static_cast<int>(h * 255.0));
  hsv[1] = Clip8(static_cast<int>(s * 255.0));
}

// Pillow's hsv2rgb.
void HsvToRgb(const uint8_t* hsv, uint8_t* rgb) {
  const uint8_t h = hsv[0], s = hsv[1], v = hsv[2];
  if (s == 0) {
    rgb[0] = rgb[1] = rgb[2] = v;
    return;
  }
  const int i = static_cast<int>(std::floor(static_cast<float>(h) * 6.0 / 255.0));
  const float f = static_cast<float>(h) * 6.0 / 255.0 - static_cast<float>(i);
  const float fs = static_cast<float>(s) / 255.0;
  const uint8_t p = Clip8(static_cast<int>(std::round(static_cast<float>(v) * (1.0 - fs))));
  const uint8_t q = Clip8(static_cast<int>(std::round(static_cast<float>(v) * (1.0 - fs * f))));
  const uint8_t t = Clip8(static_cast<int>(std::round(static_cast<float>(v) * (1.0 - fs * (1.0 - f)))));
  const uint8_t out[6][3] = {{v, t, p}, {q, v, p}, {p, v, t}, {p, q, v}, {t, p, v}, {v, p, q}};
  std::copy_n(out[i % 6], 3, rgb);
}

}  // namespace

void AdjustBrightness(Image& image, double factor) {
  for (uint8_t& p : image.pixels) p = Blend(0, p, static_cast<float>(factor));
}

void AdjustContrast(Image& image, double factor) {
  // The degenerate image: the mean of the luma, rounded (ImageEnhance.Contrast).
  const int64_t n = image.height * image.width, c = image.channels;
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += c == 3 ? Luma(&image.pixels[3 * i]) : image.pixels[i * c];
  const uint8_t mean = static_cast<uint8_t>(static_cast<int>(sum / static_cast<double>(n) + 0.5));
  for (uint8_t& p : image.pixels) p = Blend(mean, p, static_cast<float>(factor));
}

void AdjustSaturation(Image& image, double factor) {
  if (image.channels != 3) return;
  for (int64_t i = 0; i < image.height * image.width; ++i) {
    uint8_t* px = &image.pixels[3 * i];
    const uint8_t gray = Luma(px);
    for (int ch = 0; ch < 3; ++ch) px[ch] = Blend(gray, px[ch], static_cast<float>(factor));
  }
}

void AdjustHue(Image& image, double shift) {
  if (image.channels != 3) return;
  // numpy's uint8 += uint8(shift * 255): the shift truncated, wrapping around.
  const int delta = static_cast<int>(shift * 255);
  for (int64_t i = 0; i < image.height * image.width; ++i) {
    uint8_t* px = &image.pixels[3 * i];
    uint8_t hsv[3];
    RgbToHsv(px, hsv);
    hsv[0] = static_cast<uint8_t>((hsv[0] + delta) & 0xFF);
    HsvToRgb(hsv, px);
  }
}

void ColorJitter(Image& image, const ColorJitterOptions& o, SampleRandom& random) {
  int order[4] = {0, 1, 2, 3};
  for (int i = 3; i > 0; --i) std::swap(order[i], order[random.Below(i + 1)]);
  auto factor = [&](double v) { return random.Uniform(std::max(0.0, 1 - v), 1 + v); };
  for (int op : order) {
    if (op == 0 && o.brightness > 0) AdjustBrightness(image, factor(o.brightness));
    if (op == 1 && o.contrast > 0) AdjustContrast(image, factor(o.contrast));
    if (op == 2 && o.saturation > 0) AdjustSaturation(image, factor(o.saturation));
    if (op == 3 && o.hue > 0) AdjustHue(image, random.Uniform(-o.hue, o.hue));
  }
}

}  // namespace dlf::data
