#include "tests/testing/model_weights.h"

#include <algorithm>
#include <cmath>

namespace dlf::testing {

void SetZeroParameters(Graph& g) {
  for (Value v : g.parameters()) {
    Tensor& t = g.parameter_value(v);
    if (t.dtype() != DType::kF32) continue;
    if (std::any_of(t.f32(), t.f32() + t.num_elements(), [](float x) { return x != 0.0f; })) continue;
    for (int64_t i = 0; i < t.num_elements(); ++i) t.f32()[i] = 0.01f * static_cast<float>(i % 11) - 0.05f;
  }
}

void PerturbParameters(Graph& g) {
  for (size_t k = 0; k < g.parameters().size(); ++k) {
    Tensor& t = g.parameter_value(g.parameters()[k]);
    for (int64_t i = 0; i < t.num_elements(); ++i) t.f32()[i] += 0.5f * std::sin(1.3f * i + k);
  }
}

}  // namespace dlf::testing
