#include "models/layers.h"

#include "absl/strings/str_cat.h"

namespace dlf::models {

std::string Sequential::Name() const { return absl::StrCat(prefix_, ".", index_); }

// kTorch: PyTorch's defaults; kHe: He normal before a ReLU, Xavier uniform otherwise, zero biases.
std::pair<Initializer, std::optional<Initializer>> Sequential::Inits(bool followed_by_relu) const {
  if (init_ == InitScheme::kTorch) return {Initializer::TorchDefault(), std::nullopt};
  return {followed_by_relu ? Initializer::HeNormal() : Initializer::XavierUniform(), Initializer::Zeros()};
}

Sequential& Sequential::Conv(int64_t out, int64_t kernel, int64_t stride, int64_t padding) {
  const auto [weight, bias] = Inits(true);
  x_ = nn::Conv2d(g_, Name(), x_, out, kernel,
                  {.stride = stride, .padding = padding, .weight_init = weight, .bias_init = bias});
  ++index_;
  return *this;
}

Sequential& Sequential::Relu() {
  x_ = ops::Relu(g_, x_);
  ++index_;
  return *this;
}

Sequential& Sequential::MaxPool(int64_t kernel, int64_t stride, int64_t padding) {
  x_ = ops::MaxPool2D(g_, x_, {{kernel, kernel}, {stride, stride}, {padding, padding}, false});
  ++index_;
  return *this;
}

Sequential& Sequential::Lrn() {
  x_ = ops::LocalResponseNorm(g_, x_, {});
  ++index_;
  return *this;
}

Sequential& Sequential::Dropout(double rate) {
  if (rate > 0) x_ = ops::Dropout(g_, x_, rate, g_.seed());
  ++index_;
  return *this;
}

Sequential& Sequential::Linear(int64_t out, bool followed_by_relu) {
  const auto [weight, bias] = Inits(followed_by_relu);
  x_ = nn::Linear(g_, Name(), x_, out, {.weight_init = weight, .bias_init = bias});
  ++index_;
  return *this;
}

Sequential& Sequential::Flatten() {
  x_ = ops::Flatten(g_, x_);
  return *this;
}

int64_t CountParameters(const Graph& g) {
  int64_t n = 0;
  for (Value p : g.parameters()) n += NumElements(g.shape(p));
  return n;
}

}  // namespace dlf::models
