// The machine's practical peaks, which the other benchmarks are read against: f32 (oneDNN
// SGEMM and a 3x3 direct convolution, the better of the two) and bf16 (a oneDNN matmul with
// bf16 operands: AMX where present, AVX512-BF16 elsewhere).
//   bazel run //benchmarks:peak_benchmark
#include <vector>

#include "benchmark/benchmark.h"
#include "benchmarks/peak.h"
#include "oneapi/dnnl/dnnl.h"

namespace dlf::bench {
namespace {

void BM_OneDnnSgemm(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  std::vector<float> a(size_t(n) * n, 0.5f), b(size_t(n) * n, 0.25f), c(size_t(n) * n);
  for (auto _ : state) {
    dnnl_sgemm('N', 'N', n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  SetFlopCounters(state, 2.0 * n * n * n);
}
BENCHMARK(BM_OneDnnSgemm)->Arg(1024)->Arg(2048)->Unit(benchmark::kMillisecond)->UseRealTime();

// The two peaks as counters (each best of six timed runs; the iterations only repeat it).
void BM_Peaks(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(PeakGflops() + Bf16PeakGflops());
  state.counters["f32_GFLOP/s"] = PeakGflops();
  state.counters["bf16_GFLOP/s"] = Bf16PeakGflops();
  state.counters["bf16/f32"] = Bf16PeakGflops() / PeakGflops();
}
BENCHMARK(BM_Peaks)->Iterations(1);

}  // namespace
}  // namespace dlf::bench
