#include "data/mixing.h"

#include <algorithm>
#include <cmath>

namespace dlf::data {
namespace {

double Normal(SampleRandom& random) {  // Box-Muller
  const double u1 = 1.0 - random.Uniform(), u2 = random.Uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

double Gamma(double a, SampleRandom& random) {
  if (a < 1.0) return Gamma(a + 1.0, random) * std::pow(random.Uniform(), 1.0 / a);
  const double d = a - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
  while (true) {
    double x, v;
    do {
      x = Normal(random);
      v = 1.0 + c * x;
    } while (v <= 0.0);
    v = v * v * v;
    const double u = random.Uniform();
    if (u < 1.0 - 0.0331 * x * x * x * x) return d * v;
    if (std::log(u) < 0.5 * x * x + d * (1.0 - v + std::log(v))) return d * v;
  }
}

}  // namespace

double SampleBeta(double a, SampleRandom& random) {
  const double x = Gamma(a, random), y = Gamma(a, random);
  return x + y > 0 ? x / (x + y) : 0.5;
}

MixPlan DrawMix(const Mixing& mixing, int64_t height, int64_t width, SampleRandom& random) {
  MixPlan plan;
  plan.cutmix = mixing.mixup_alpha <= 0 || (mixing.cutmix_alpha > 0 && random.Uniform() < 0.5);
  plan.lambda = SampleBeta(plan.cutmix ? mixing.cutmix_alpha : mixing.mixup_alpha, random);
  if (!plan.cutmix) return plan;
  const int64_t rx = random.Below(width), ry = random.Below(height);
  const double r = 0.5 * std::sqrt(1.0 - plan.lambda);
  const int64_t half_w = static_cast<int64_t>(r * width), half_h = static_cast<int64_t>(r * height);
  const int64_t x1 = std::max<int64_t>(rx - half_w, 0), y1 = std::max<int64_t>(ry - half_h, 0);
  const int64_t x2 = std::min(rx + half_w, width), y2 = std::min(ry + half_h, height);
  plan.box = {y1, x1, y2 - y1, x2 - x1};
  plan.lambda = 1.0 - static_cast<double>(plan.box.height * plan.box.width) / static_cast<double>(height * width);
  return plan;
}

void MixImages(const MixPlan& plan, const float* partner, int64_t c, int64_t h, int64_t w, float* own) {
  if (plan.cutmix) {
    for (int64_t ch = 0; ch < c; ++ch) {
      for (int64_t y = plan.box.top; y < plan.box.top + plan.box.height; ++y) {
        const int64_t at = (ch * h + y) * w + plan.box.left;
        std::copy_n(partner + at, plan.box.width, own + at);
      }
    }
    return;
  }
  const float a = static_cast<float>(plan.lambda), b = static_cast<float>(1.0 - plan.lambda);
  for (int64_t i = 0; i < c * h * w; ++i) own[i] = a * own[i] + b * partner[i];
}

void MixTargets(const MixPlan& plan, int32_t own, int32_t partner, int num_classes, float* row) {
  std::fill_n(row, num_classes, 0.0f);
  row[own] += static_cast<float>(plan.lambda);
  row[partner] += static_cast<float>(1.0 - plan.lambda);
}

}  // namespace dlf::data
