#include "tests/testing/grad_check.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "absl/strings/str_cat.h"
#include "graph/autodiff.h"
#include "graph/executor.h"
#include "gtest/gtest.h"
#include "ops/ops.h"

namespace dlf::testing {

Tensor RandomTensor(Shape shape, uint64_t seed, float lo, float hi) {
  Tensor t(DType::kF32, std::move(shape));
  std::mt19937 rng(static_cast<uint32_t>(seed));
  std::uniform_real_distribution<float> dist(lo, hi);
  for (int64_t i = 0; i < t.num_elements(); ++i) t.f32()[i] = dist(rng);
  return t;
}

Tensor SpacedTensor(Shape shape, uint64_t seed, float gap, bool avoid_zero) {
  Tensor t(DType::kF32, std::move(shape));
  const int64_t n = t.num_elements();
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937 rng(static_cast<uint32_t>(seed));
  std::shuffle(order.begin(), order.end(), rng);
  for (int64_t i = 0; i < n; ++i) {
    float v = (static_cast<float>(i) - n / 2.0f) * gap;
    if (avoid_zero && std::abs(v) < gap / 2) v = gap / 2;
    t.f32()[order[i]] = v;
  }
  return t;
}

namespace {

struct Harness {
  Graph graph{1};
  std::vector<Value> inputs;
  Value output, loss;
  std::vector<Feed> feeds;
};

void Build(Harness& h, const BuildFn& build, const std::vector<const Tensor*>& inputs) {
  for (size_t i = 0; i < inputs.size(); ++i) {
    h.inputs.push_back(h.graph.Input(absl::StrCat("in", i), inputs[i]->dtype(),
                                     inputs[i]->shape()));
    h.feeds.push_back({h.inputs.back(), inputs[i]});
  }
  h.output = build(h.graph, h.inputs);
  ASSERT_TRUE(h.graph.status().ok()) << h.graph.status();
  Value weights = h.graph.Constant(RandomTensor(h.graph.shape(h.output), 99), "loss_weights");
  h.loss = ops::Sum(h.graph, ops::Mul(h.graph, h.output, weights));
  ASSERT_TRUE(h.graph.status().ok()) << h.graph.status();
}

}  // namespace

void ExpectGradientsMatch(const BuildFn& build, const std::vector<const Tensor*>& inputs,
                          GradCheckOptions options) {
  Harness h;
  Build(h, build, inputs);
  if (::testing::Test::HasFatalFailure()) return;
  std::vector<Value> wrt;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i]->dtype() == DType::kF32) wrt.push_back(h.inputs[i]);
  }
  absl::StatusOr<std::vector<Value>> grads = Gradients(h.graph, h.loss, wrt);
  ASSERT_TRUE(grads.ok()) << grads.status();
  for (Value g : *grads) ASSERT_TRUE(g.valid());
  auto analytic = Executor::Compile(h.graph, *grads);
  ASSERT_TRUE(analytic.ok()) << analytic.status();
  const absl::Status run = (*analytic)->Run(h.feeds);
  ASSERT_TRUE(run.ok()) << run;
  auto forward = Executor::Compile(h.graph, {h.loss});
  ASSERT_TRUE(forward.ok()) << forward.status();

  // Perturbs a private copy of each input in turn.
  std::vector<Tensor> copies;
  for (const Tensor* t : inputs) copies.push_back(t->Clone());
  std::vector<Feed> feeds = h.feeds;
  for (size_t i = 0; i < inputs.size(); ++i) feeds[i].tensor = &copies[i];
  auto loss_at = [&]() {
    (*forward)->set_step(0);
    EXPECT_TRUE((*forward)->Run(feeds).ok());
    return static_cast<double>((*forward)->fetch(0).f32()[0]);
  };

  int wrt_index = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i]->dtype() != DType::kF32) continue;
    const Tensor& grad = (*analytic)->fetch(wrt_index++);
    const int64_t n = copies[i].num_elements();
    const int64_t stride = std::max<int64_t>(1, n / options.max_checks_per_input);
    int failures = 0;
    for (int64_t e = 0; e < n && failures < 5; e += stride) {
      float& x = copies[i].f32()[e];
      const float saved = x;
      x = saved + static_cast<float>(options.eps);
      const double plus = loss_at();
      x = saved - static_cast<float>(options.eps);
      const double minus = loss_at();
      x = saved;
      const double numeric = (plus - minus) / (2 * options.eps);
      const double a = grad.f32()[e];
      const double tol = options.atol + options.rtol * std::max(std::abs(a), std::abs(numeric));
      if (std::abs(a - numeric) > tol) {
        ++failures;
        ADD_FAILURE() << "input " << i << " element " << e << ": autodiff " << a
                      << " vs finite difference " << numeric;
      }
    }
  }
}

Tensor RunForward(const BuildFn& build, const std::vector<const Tensor*>& inputs, bool training) {
  Harness h;
  Build(h, build, inputs);
  if (::testing::Test::HasFatalFailure()) return Tensor();
  auto exec = Executor::Compile(h.graph, {h.output}, {training});
  EXPECT_TRUE(exec.ok()) << exec.status();
  if (!exec.ok()) return Tensor();
  absl::Status s = (*exec)->Run(h.feeds);
  EXPECT_TRUE(s.ok()) << s;
  return (*exec)->fetch(0).Clone();
}

std::vector<Tensor> RunForwardAndBackward(const BuildFn& build,
                                          const std::vector<const Tensor*>& inputs,
                                          ExecutorOptions options) {
  Harness h;
  Build(h, build, inputs);
  if (::testing::Test::HasFatalFailure()) return {};
  std::vector<Value> wrt;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i]->dtype() == DType::kF32) wrt.push_back(h.inputs[i]);
  }
  absl::StatusOr<std::vector<Value>> grads = Gradients(h.graph, h.loss, wrt);
  EXPECT_TRUE(grads.ok()) << grads.status();
  if (!grads.ok()) return {};
  std::vector<Value> fetches = {h.output};
  fetches.insert(fetches.end(), grads->begin(), grads->end());
  auto exec = Executor::Compile(h.graph, fetches, options);
  EXPECT_TRUE(exec.ok()) << exec.status();
  if (!exec.ok()) return {};
  const absl::Status s = (*exec)->Run(h.feeds);
  EXPECT_TRUE(s.ok()) << s;
  std::vector<Tensor> out;
  for (int i = 0; i < (*exec)->num_fetches(); ++i) out.push_back((*exec)->fetch(i).Clone());
  return out;
}

double ExpectTensorsNearScaled(const std::vector<Tensor>& actual,
                               const std::vector<Tensor>& expected, double rtol) {
  EXPECT_EQ(actual.size(), expected.size());
  double worst = 0;
  for (size_t t = 0; t < std::min(actual.size(), expected.size()); ++t) {
    EXPECT_EQ(ShapeString(actual[t].shape()), ShapeString(expected[t].shape()));
    double scale = 0, diff = 0;
    for (int64_t i = 0; i < expected[t].num_elements(); ++i) {
      scale = std::max(scale, static_cast<double>(std::abs(expected[t].f32()[i])));
      diff = std::max(diff, static_cast<double>(std::abs(actual[t].f32()[i] - expected[t].f32()[i])));
    }
    EXPECT_LE(diff, rtol * scale) << "tensor " << t << " (0: output, then input gradients)";
    worst = std::max(worst, scale > 0 ? diff / scale : 0.0);
  }
  return worst;
}

void ExpectTensorNear(const Tensor& actual, const Tensor& expected, float tol) {
  ASSERT_EQ(ShapeString(actual.shape()), ShapeString(expected.shape()));
  int failures = 0;
  for (int64_t i = 0; i < actual.num_elements() && failures < 5; ++i) {
    const float a = actual.f32()[i], e = expected.f32()[i];
    if (!(std::abs(a - e) <= tol * std::max(1.0f, std::abs(e)))) {
      ++failures;
      ADD_FAILURE() << "element " << i << ": " << a << " vs expected " << e;
    }
  }
}

std::vector<Tensor> CompileRunFetch(Graph& g, const std::vector<Value>& fetches, ExecutorOptions options,
                                    const std::vector<Feed>& feeds, std::string* profile) {
  if (profile != nullptr) options.profile = true;
  auto exec = Executor::Compile(g, fetches, options);
  if (!exec.ok()) {
    ADD_FAILURE() << exec.status();
    return {};
  }
  const absl::Status run = (*exec)->Run(feeds);
  if (!run.ok()) {
    ADD_FAILURE() << run;
    return {};
  }
  std::vector<Tensor> fetched;
  for (int i = 0; i < (*exec)->num_fetches(); ++i) fetched.push_back((*exec)->fetch(i).Clone());
  if (profile != nullptr) *profile = (*exec)->ProfileReport();
  return fetched;
}

double RelativeError(const Tensor& actual, const Tensor& expected) {
  double diff = 0, norm = 0;
  for (int64_t i = 0; i < expected.num_elements(); ++i) {
    const double d = actual.f32()[i] - expected.f32()[i];
    diff += d * d;
    norm += static_cast<double>(expected.f32()[i]) * expected.f32()[i];
  }
  return std::sqrt(diff / std::max(norm, 1e-30));
}

void ExpectSameValues(const std::vector<Tensor>& actual, const std::vector<Tensor>& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t f = 0; f < expected.size(); ++f) {
    ASSERT_EQ(actual[f].shape(), expected[f].shape()) << "fetch " << f;
    for (int64_t i = 0; i < expected[f].num_elements(); ++i) {
      ASSERT_EQ(actual[f].f32()[i], expected[f].f32()[i]) << "fetch " << f << " element " << i;
    }
  }
}

}  // namespace dlf::testing
