#include "benchmarks/peak.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <vector>

#include "oneapi/dnnl/dnnl.hpp"

namespace dlf::bench {
namespace {

// Best GFLOP/s of six runs of `fn`, which does `flops` operations.
double BestOfSix(double flops, const std::function<void()>& fn) {
  double best = 0;
  for (int i = 0; i < 6; ++i) {
    const auto start = std::chrono::steady_clock::now();
    fn();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    best = std::max(best, flops / s / 1e9);
  }
  return best;
}

double SgemmGflops() {
  const int n = 2048;
  std::vector<float> a(size_t(n) * n, 0.5f), b(size_t(n) * n, 0.25f), c(size_t(n) * n);
  return BestOfSix(2.0 * n * n * n, [&] {
    dnnl_sgemm('N', 'N', n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
  });
}

// A 3x3 direct convolution on oneDNN's blocked layouts: its AVX-512 kernel gets closer to the
// FMA units' limit than SGEMM does on this machine.
double DirectConvGflops() {
  using namespace dnnl;
  using tag = memory::format_tag;
  engine eng(engine::kind::cpu, 0);
  stream st(eng);
  const memory::dim n = 128, c = 128, k = 128, hw = 16;
  auto desc = [](memory::dims d) { return memory::desc(d, memory::data_type::f32, tag::any); };
  convolution_forward::primitive_desc pd(
      {prop_kind::forward_inference, algorithm::convolution_direct, desc({n, c, hw, hw}),
       desc({k, c, 3, 3}), desc({n, k, hw, hw}), {1, 1}, {1, 1}, {1, 1}},
      eng);
  memory src(pd.src_desc(), eng), wei(pd.weights_desc(), eng), dst(pd.dst_desc(), eng);
  convolution_forward conv(pd);
  return BestOfSix(2.0 * n * k * c * 9 * hw * hw, [&] {
    conv.execute(st, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst}});
    st.wait();
  });
}

}  // namespace

double PeakGflops() {
  static const double peak = [] {
    const double sgemm = SgemmGflops(), conv = DirectConvGflops();
    // stderr, so that --benchmark_format=json output on stdout stays valid JSON.
    std::fprintf(stderr,
                 "peak reference: %.1f GFLOP/s, the best of oneDNN SGEMM 2048^3 (%.1f) and a "
                 "3x3 direct convolution 128x128x16x16 (%.1f)\n",
                 std::max(sgemm, conv), sgemm, conv);
    return std::max(sgemm, conv);
  }();
  return peak;
}

void SetFlopCounters(benchmark::State& state, double flops) {
  using benchmark::Counter;
  state.counters["GFLOP/s"] = Counter(flops * 1e-9, Counter::kIsIterationInvariantRate);
  state.counters["peak_%"] = Counter(flops * 1e-9 * 100 / PeakGflops(), Counter::kIsIterationInvariantRate);
}

}  // namespace dlf::bench
