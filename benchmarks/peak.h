#ifndef DLF_BENCHMARKS_PEAK_H_
#define DLF_BENCHMARKS_PEAK_H_

#include "benchmark/benchmark.h"

namespace dlf::bench {

// The machine's practical f32 peak in GFLOP/s: the best of a 2048^3 SGEMM and a large 3x3
// direct convolution through oneDNN, each best of six runs, measured once per process (and
// printed) the first time it is asked for. Winograd convolutions count the FLOPs of the direct
// algorithm they replace, so they can show more than 100%.
double PeakGflops();
// The bf16 peak: a 2048^3 oneDNN matmul with bf16 operands (f32 result), AMX where present.
double Bf16PeakGflops();

// Adds "GFLOP/s" and "peak_%" counters for `flops` floating-point operations per iteration;
// the share is of the peak of the precision the work runs in.
void SetFlopCounters(benchmark::State& state, double flops, bool bf16 = false);

}  // namespace dlf::bench

#endif  // DLF_BENCHMARKS_PEAK_H_
