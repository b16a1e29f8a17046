#include "models/layers.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace dlf::models {

std::string Sequential::Name(const char* suffix) const {
  return absl::StrCat(prefix_, ".", index_, ".", suffix);
}

std::pair<Value, Value> Sequential::WeightAndBias(Shape weight_shape, int64_t fan_in,
                                                  bool followed_by_relu) {
  const int64_t out = weight_shape[0];
  if (init_ == InitScheme::kTorch) {
    const float bound = 1.0f / std::sqrt(static_cast<float>(fan_in));
    return {g_.Parameter(Name("weight"), std::move(weight_shape), Initializer::TorchDefault()),
            g_.Parameter(Name("bias"), {out}, Initializer::Uniform(bound))};
  }
  const Initializer w = followed_by_relu ? Initializer::HeNormal() : Initializer::XavierUniform();
  return {g_.Parameter(Name("weight"), std::move(weight_shape), w),
          g_.Parameter(Name("bias"), {out}, Initializer::Zeros())};
}

void Sequential::ApplyPendingRelu() {
  if (relu_pending_) x_ = ops::Relu(g_, x_);
  relu_pending_ = false;
}

Sequential& Sequential::Conv(int64_t out, int64_t kernel, int64_t stride, int64_t padding) {
  ApplyPendingRelu();
  if (!g_.Contains(x_)) return *this;  // an earlier error is recorded in the graph
  const int64_t in = g_.shape(x_)[1];
  auto [w, b] = WeightAndBias({out, in, kernel, kernel}, in * kernel * kernel, true);
  x_ = ops::Conv2D(g_, x_, w, b, {{stride, stride}, {padding, padding}});
  ++index_;
  return *this;
}

Sequential& Sequential::Relu() {
  ApplyPendingRelu();
  relu_pending_ = true;
  ++index_;
  return *this;
}

Sequential& Sequential::MaxPool(int64_t kernel, int64_t stride, int64_t padding) {
  x_ = ops::MaxPool2D(g_, x_, {{kernel, kernel}, {stride, stride}, {padding, padding}, false});
  ApplyPendingRelu();
  ++index_;
  return *this;
}

Sequential& Sequential::Lrn() {
  ApplyPendingRelu();
  x_ = ops::LocalResponseNorm(g_, x_, {});
  ++index_;
  return *this;
}

Sequential& Sequential::Dropout(double rate) {
  ApplyPendingRelu();
  if (rate > 0) x_ = ops::Dropout(g_, x_, rate, g_.seed());
  ++index_;
  return *this;
}

Sequential& Sequential::Linear(int64_t out, bool followed_by_relu) {
  ApplyPendingRelu();
  if (!g_.Contains(x_)) return *this;
  const int64_t in = g_.shape(x_)[1];
  auto [w, b] = WeightAndBias({out, in}, in, followed_by_relu);
  x_ = ops::Linear(g_, x_, w, b);
  ++index_;
  return *this;
}

Sequential& Sequential::Flatten() {
  ApplyPendingRelu();
  x_ = ops::Flatten(g_, x_);
  return *this;
}

int64_t CountParameters(const Graph& g) {
  int64_t n = 0;
  for (Value p : g.parameters()) n += NumElements(g.shape(p));
  return n;
}

}  // namespace dlf::models
