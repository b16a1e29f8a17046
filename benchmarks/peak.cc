#include "benchmarks/peak.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
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

// A 2048^3 matmul on oneDNN's chosen layouts with bf16 operands and an f32 result, as the
// bf16 convolutions and linear layers run: AMX tiles where the machine has them, AVX512-BF16's
// dot products elsewhere.
double Bf16MatmulGflops() {
  using namespace dnnl;
  engine eng(engine::kind::cpu, 0);
  stream st(eng);
  const memory::dim n = 2048;
  const auto bf16 = memory::data_type::bf16;
  const memory::desc a({n, n}, bf16, memory::format_tag::any), b({n, n}, bf16, memory::format_tag::any);
  const memory::desc c({n, n}, memory::data_type::f32, memory::format_tag::ab);
  matmul::primitive_desc pd(matmul::desc(a, b, c), eng);
  memory src(pd.src_desc(), eng), wei(pd.weights_desc(), eng), dst(pd.dst_desc(), eng);
  std::memset(src.get_data_handle(), 0x3f, pd.src_desc().get_size());  // ~0.75 in bf16
  std::memset(wei.get_data_handle(), 0x3e, pd.weights_desc().get_size());
  matmul mm(pd);
  std::fprintf(stderr, "bf16 matmul implementation: %s\n", pd.impl_info_str());
  return BestOfSix(2.0 * n * n * n, [&] {
    mm.execute(st, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst}});
    st.wait();
  });
}

}  // namespace

double Bf16PeakGflops() {
  static const double peak = [] {
    const double matmul = Bf16MatmulGflops();
    std::fprintf(stderr, "bf16 peak reference: %.1f GFLOP/s, oneDNN bf16 matmul 2048^3\n", matmul);
    return matmul;
  }();
  return peak;
}

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

void SetFlopCounters(benchmark::State& state, double flops, bool bf16) {
  using benchmark::Counter;
  const double peak = bf16 ? Bf16PeakGflops() : PeakGflops();
  state.counters["GFLOP/s"] = Counter(flops * 1e-9, Counter::kIsIterationInvariantRate);
  state.counters["peak_%"] = Counter(flops * 1e-9 * 100 / peak, Counter::kIsIterationInvariantRate);
}

}  // namespace dlf::bench
