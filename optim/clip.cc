#include "optim/clip.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace dlf::optim {

double SumOfSquares(const Tensor& t) {
  double sum = 0.0;
  const float* p = t.f32();
  const int64_t n = t.num_elements();
#pragma omp parallel for simd reduction(+ : sum) schedule(static)
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(p[i]) * p[i];
  return sum;
}

double GlobalNorm(absl::Span<const Tensor* const> grads) {
  double sum = 0.0;
  for (const Tensor* g : grads) sum += SumOfSquares(*g);
  return std::sqrt(sum);
}

float ClipFactor(double norm, double max_norm) { return static_cast<float>(max_norm / (norm + 1e-6)); }

double ClipByGlobalNorm(absl::Span<Tensor* const> grads, double max_norm) {
  std::vector<const Tensor*> views(grads.begin(), grads.end());
  const double norm = GlobalNorm(views);
  if (!(norm > max_norm)) return norm;  // also leaves NaN norms alone: the caller decides
  const float scale = ClipFactor(norm, max_norm);
  for (Tensor* g : grads) {
    float* p = g->f32();
    const int64_t n = g->num_elements();
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; ++i) p[i] *= scale;
  }
  return norm;
}

int FirstNonFinite(absl::Span<const Tensor* const> tensors) {
  constexpr float kMax = std::numeric_limits<float>::max();
  for (size_t t = 0; t < tensors.size(); ++t) {
    const float* p = tensors[t]->f32();
    const int64_t n = tensors[t]->num_elements();
    int64_t bad = 0;  // a count, not a flag, so the loop vectorizes without early exits
#pragma omp parallel for simd reduction(+ : bad) schedule(static)
    for (int64_t i = 0; i < n; ++i) bad += !(std::fabs(p[i]) <= kMax);
    if (bad > 0) return static_cast<int>(t);
  }
  return -1;
}

void ClipByValue(absl::Span<Tensor* const> grads, float clip) {
  for (Tensor* g : grads) {
    float* p = g->f32();
    const int64_t n = g->num_elements();
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; ++i) p[i] = std::clamp(p[i], -clip, clip);
  }
}

}  // namespace dlf::optim
