// The data loader: how fast it produces normalized, augmented batches of 128 CIFAR-sized
// images on its background thread, and how long a consumer waits for them.
//   bazel run //benchmarks:data_benchmark
#include "benchmark/benchmark.h"
#include "benchmarks/loader_timing.h"
#include "data/loader.h"
#include "data/synthetic.h"

namespace dlf::bench {
namespace {

void BM_LoaderBatch(benchmark::State& state) {
  static const data::Dataset ds = data::MakeSyntheticDataset(10000, 3, 32, 10, 1);
  data::LoaderOptions o{.batch_size = 128, .seed = 1};
  o.normalization = data::Normalization::ImageNet();
  o.augmentation = {state.range(0) != 0, 4, state.range(0) != 0};
  auto loader = *data::Loader::Create(&ds, o);
  TimeBatches(state, *loader, 128);
}
BENCHMARK(BM_LoaderBatch)->ArgName("augment")->Arg(0)->Arg(1)->UseRealTime();

}  // namespace
}  // namespace dlf::bench
