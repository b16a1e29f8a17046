#include <cmath>

#include "gtest/gtest.h"
#include "ops/ops.h"
#include "tests/testing/grad_check.h"

namespace dlf {
namespace {

using ::dlf::testing::ExpectGradientsMatch;
using ::dlf::testing::ExpectTensorNear;
using ::dlf::testing::RandomTensor;
using ::dlf::testing::RunForward;

// b = a / (k + alpha/size * sum over the `size` channels centred on c of a^2)^beta
Tensor ReferenceLrn(const Tensor& x, const ops::LrnOptions& o) {
  Tensor y(DType::kF32, x.shape());
  const int64_t N = x.dim(0), C = x.dim(1), HW = x.dim(2) * x.dim(3);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t p = 0; p < HW; ++p) {
        double s = 0;
        for (int64_t j = c - (o.size - 1) / 2; j <= c + o.size / 2; ++j) {
          if (j < 0 || j >= C) continue;
          const double v = x.f32()[(n * C + j) * HW + p];
          s += v * v;
        }
        const int64_t i = (n * C + c) * HW + p;
        y.f32()[i] = static_cast<float>(x.f32()[i] / std::pow(o.k + o.alpha / o.size * s, o.beta));
      }
  return y;
}

TEST(LrnTest, ForwardMatchesReferenceLoop) {
  // A large alpha so that the normalization visibly matters.
  const ops::LrnOptions o{5, 0.5, 0.75, 2.0};
  Tensor x = RandomTensor({2, 7, 3, 4}, 1, -2.0f, 2.0f);
  Tensor y = RunForward([o](Graph& g, const std::vector<Value>& in) {
    return ops::LocalResponseNorm(g, in[0], o);
  }, {&x});
  ExpectTensorNear(y, ReferenceLrn(x, o), 1e-4f);
}

TEST(LrnTest, GradientsMatchFiniteDifferences) {
  const ops::LrnOptions o{3, 0.5, 0.75, 1.0};
  Tensor x = RandomTensor({2, 5, 3, 2}, 2, -2.0f, 2.0f);
  ExpectGradientsMatch([o](Graph& g, const std::vector<Value>& in) {
    return ops::LocalResponseNorm(g, in[0], o);
  }, {&x});
}

}  // namespace
}  // namespace dlf
