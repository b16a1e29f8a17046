#ifndef DLF_BENCHMARKS_LOADER_TIMING_H_
#define DLF_BENCHMARKS_LOADER_TIMING_H_

// A benchmark loop over a loader's batches (an epoch restarts when one ends), reporting
// images_per_second.

#include <cstdint>
#include <string>

#include "benchmark/benchmark.h"
#include "data/loader.h"

namespace dlf::bench {

inline void TimeBatches(benchmark::State& state, data::Loader& loader, int64_t batch_size) {
  int64_t epoch = 0;
  loader.StartEpoch(epoch);
  for (auto _ : state) {
    const data::Batch* b = loader.Next();
    if (b == nullptr && loader.status().ok()) {
      loader.StartEpoch(++epoch);
      b = loader.Next();
    }
    if (b == nullptr) {
      state.SkipWithError(std::string(loader.status().message()).c_str());
      break;
    }
    benchmark::DoNotOptimize(b->images.raw());
  }
  state.counters["images_per_second"] = benchmark::Counter(static_cast<double>(batch_size),
                                                           benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace dlf::bench

#endif  // DLF_BENCHMARKS_LOADER_TIMING_H_
