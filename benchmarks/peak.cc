#include "benchmarks/peak.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "oneapi/dnnl/dnnl.h"

namespace dlf::bench {

double PeakGflops() {
  static const double peak = [] {
    const int n = 2048;
    std::vector<float> a(size_t(n) * n, 0.5f), b(size_t(n) * n, 0.25f), c(size_t(n) * n);
    double best = 0;
    for (int i = 0; i < 6; ++i) {
      const auto start = std::chrono::steady_clock::now();
      dnnl_sgemm('N', 'N', n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      best = std::max(best, 2.0 * n * n * n / s / 1e9);
    }
    // stderr, so that --benchmark_format=json output on stdout stays valid JSON.
    std::fprintf(stderr, "peak reference: oneDNN SGEMM 2048^3 = %.1f GFLOP/s\n", best);
    return best;
  }();
  return peak;
}

void SetFlopCounters(benchmark::State& state, double flops) {
  using benchmark::Counter;
  state.counters["GFLOP/s"] = Counter(flops * 1e-9, Counter::kIsIterationInvariantRate);
  state.counters["peak_%"] = Counter(flops * 1e-9 * 100 / PeakGflops(), Counter::kIsIterationInvariantRate);
}

}  // namespace dlf::bench
